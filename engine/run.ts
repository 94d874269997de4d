// One run: the tree of agents, the limits that span it (depth, concurrency, tokens, money, time),
// the usage totals and cancellation. Every agent loop runs as an async task in this isolate.
import { type AgentSpec, runAgentLoop } from "./agent.ts";
import type { EngineConfig } from "./config.ts";
import { budgetError, cancelledError, EngineError, errorInfo } from "./errors.ts";
import type { ChatMessage, LlmClient } from "./llm_client.ts";
import type { LogWriter } from "./log_writer.ts";
import { preview, typeName } from "./context_description.ts";
import type { ReplPool } from "./repl/pool.ts";
import { Semaphore } from "./semaphore.ts";
import { type CallUsage, UsageTotals } from "./usage.ts";

type ChildRequest = { data: unknown; instruction: string | null; model: string | null };

export class Run {
  readonly usage = new UsageTotals();
  readonly finishedResults: Record<string, unknown> = {};
  private readonly stopController = new AbortController();
  private readonly llmSlots: Semaphore;
  private readonly childCounts = new Map<string, number>();
  private readonly depthOf = new Map<string, number>();

  constructor(
    readonly config: EngineConfig,
    readonly llm: LlmClient,
    readonly pool: ReplPool,
    readonly log: LogWriter,
  ) {
    this.llmSlots = new Semaphore(config.max_concurrency);
  }

  get stopSignal(): AbortSignal {
    return this.stopController.signal;
  }

  // Ends the whole run: every agent stops at its next model call or step.
  stop(reason: EngineError): void {
    if (!this.stopSignal.aborted) this.stopController.abort(reason);
  }

  throwIfStopped(): void {
    if (this.stopSignal.aborted) throw this.stopSignal.reason;
  }

  // Resolves with the root's FINAL value, or rejects with the error that ended the run.
  runRoot(query: unknown, instruction: string | null): Promise<unknown> {
    const root: AgentSpec = {
      id: "root",
      parentId: null,
      depth: 0,
      model: this.config.primary_agent,
      instruction,
      context: query,
    };
    const stopped = new Promise<never>((_, reject) => {
      this.stopSignal.addEventListener("abort", () => reject(this.stopSignal.reason), { once: true });
    });
    return Promise.race([this.runAgent(root), stopped]);
  }

  async runAgent(agent: AgentSpec): Promise<unknown> {
    this.throwIfStopped();
    this.usage.addAgent();
    this.depthOf.set(agent.id, agent.depth);
    const started = performance.now();
    this.log.write({
      event: "agent_start",
      agent_id: agent.id,
      parent_id: agent.parentId,
      depth: agent.depth,
      model: agent.model,
      instruction: agent.instruction,
      context_type: typeName(agent.context),
      context_chars: typeof agent.context === "string"
        ? agent.context.length
        : JSON.stringify(agent.context).length,
      context_preview: preview(agent.context),
    });
    const llmCallsBefore = () => this.callsBy.get(agent.id) ?? 0;
    try {
      const result = await runAgentLoop(this, agent);
      this.finishedResults[agent.id] = result;
      this.log.write({
        event: "agent_end",
        agent_id: agent.id,
        status: "done",
        result,
        llm_calls: llmCallsBefore(),
        duration_s: (performance.now() - started) / 1000,
      });
      return result;
    } catch (error) {
      this.log.write({
        event: "agent_end",
        agent_id: agent.id,
        status: "failed",
        error: errorInfo(error),
        llm_calls: llmCallsBefore(),
        duration_s: (performance.now() - started) / 1000,
      });
      throw error;
    }
  }

  private readonly callsBy = new Map<string, number>();

  async callModel(
    agent: AgentSpec,
    call: number,
    messages: ChatMessage[],
    loggedMessages: number,
  ): Promise<string> {
    this.throwIfStopped();
    this.checkRunBudgets();
    const started = performance.now();
    const completion = await this.llmSlots.with(() =>
      this.llm.complete(agent.model, messages, this.stopSignal, (notice) =>
        this.log.write({
          event: "llm_retry",
          agent_id: agent.id,
          call,
          attempt: notice.attempt,
          reason: notice.reason,
          wait_s: notice.waitSeconds,
        }))
    );
    const usage = this.priced(agent.model, completion.usage);
    this.usage.addCall(usage);
    this.callsBy.set(agent.id, (this.callsBy.get(agent.id) ?? 0) + 1);
    this.log.write({
      event: "llm_call",
      agent_id: agent.id,
      call,
      model: agent.model,
      new_messages: messages.slice(loggedMessages),
      completion: completion.text,
      usage,
      duration_s: (performance.now() - started) / 1000,
      attempts: completion.attempts,
    });
    return completion.text;
  }

  // Called from an agent's REPL through llm_query; answers with a JSON reply for runtime.py.
  async handleChildQuery(parentId: string, payloadJson: string): Promise<string> {
    try {
      const request = JSON.parse(payloadJson) as ChildRequest;
      const parentDepth = this.depthOf.get(parentId) ?? 0;
      if (parentDepth + 1 > this.config.max_depth) {
        throw budgetError(
          `max_depth=${this.config.max_depth} reached: agent ${parentId} cannot start helpers; do the work in its own code`,
        );
      }
      const index = this.childCounts.get(parentId) ?? 0;
      this.childCounts.set(parentId, index + 1);
      const value = await this.runAgent({
        id: `${parentId}.${index}`,
        parentId,
        depth: parentDepth + 1,
        model: request.model ?? this.config.sub_agent,
        instruction: request.instruction,
        context: request.data,
      });
      return JSON.stringify({ ok: true, value });
    } catch (error) {
      return JSON.stringify({ ok: false, error: errorInfo(error) });
    }
  }

  // The provider's cost when it reported one, else the configured price of the model, else null.
  private priced(model: string, usage: CallUsage): CallUsage {
    const price = this.config.model_prices[model];
    if (usage.cost !== null || price === undefined) return usage;
    const cost = (usage.prompt_tokens * price.prompt_per_million +
      usage.completion_tokens * price.completion_per_million) /
      1_000_000;
    return { ...usage, cost };
  }

  private checkRunBudgets(): void {
    const usage = this.usage.snapshot();
    const limits: [string, number | null, number][] = [
      ["max_llm_calls", this.config.max_llm_calls, usage.llm_calls],
      ["max_prompt_tokens", this.config.max_prompt_tokens, usage.prompt_tokens],
      ["max_completion_tokens", this.config.max_completion_tokens, usage.completion_tokens],
      ["max_money_spent", this.config.max_money_spent, this.usage.knownCost],
    ];
    for (const [name, limit, spent] of limits) {
      if (limit !== null && spent >= limit) {
        const error = budgetError(
          `${name}=${limit} reached (spent ${spent}); raise it in the config to go further`,
        );
        this.stop(error);
        throw error;
      }
    }
  }

  cancel(): void {
    this.stop(cancelledError("the run was cancelled"));
  }
}
