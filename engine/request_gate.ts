// Admits model requests one attempt at a time: an attempt waits for one of the max_concurrency
// slots, then reserves its share of the run's caps (budget.ts) before it is sent. When it ends, its
// cost is settled and its slot freed, so a request waiting out a retry backoff holds neither.
import { capsOf, type Reservation, RunBudget } from "./budget.ts";
import { CallEstimator } from "./call_estimates.ts";
import type { EngineConfig } from "./config.ts";
import type { AttemptPass } from "./models/client.ts";
import type { ChatMessage } from "./chat_message.ts";
import { pricedUsage } from "./pricing.ts";
import { Semaphore } from "./semaphore.ts";
import { type CallUsage, UNREPORTED_USAGE, type UsageTotals } from "./usage.ts";

export class RequestGate {
  readonly budget: RunBudget;
  private readonly slots: Semaphore;
  private readonly estimator: CallEstimator;

  constructor(private readonly config: EngineConfig, private readonly usage: UsageTotals) {
    this.budget = new RunBudget(capsOf(config));
    this.slots = new Semaphore(config.max_concurrency);
    this.estimator = new CallEstimator(config);
  }

  // Resolves when the attempt may be sent; rejects with BudgetExceededError when its share of a cap
  // can never fit. The pass must be left exactly once.
  async enter(model: string, messages: ChatMessage[], signal: AbortSignal): Promise<AttemptPass> {
    const request = this.estimator.shape(model, messages);
    await this.slots.acquire();
    let reservation: Reservation;
    try {
      reservation = await this.budget.reserve(() => this.estimator.estimate(request), signal);
    } catch (error) {
      this.slots.release();
      throw error;
    }
    return {
      leave: (cost) => {
        // Failed requests are the budgets' concern alone: the totals hold what replies reported.
        if (cost.kind === "answered") {
          this.usage.addCall(
            model,
            pricedUsage(this.config.model_prices, model, cost.usage ?? UNREPORTED_USAGE),
          );
        }
        this.budget.settle(reservation, this.estimator.spent(request, reservation.amounts, cost));
        this.slots.release();
      },
    };
  }

  // A recorded reply replayed in place of a request (recorded_replies.ts): what the earlier run paid
  // for it counts in this run's totals and caps, as if the run had never been cut.
  chargeReplayed(model: string, usage: CallUsage): void {
    const priced = pricedUsage(this.config.model_prices, model, usage);
    this.usage.addCall(model, priced);
    this.usage.addReplayed();
    this.budget.charge({
      max_llm_calls: 1,
      max_prompt_tokens: priced.prompt_tokens,
      max_completion_tokens: priced.completion_tokens,
      max_money_spent: priced.cost ?? 0,
    });
  }
}
