// The run-wide caps (max_llm_calls, max_prompt_tokens, max_completion_tokens, max_money_spent), held
// by reservation. A model request reserves its share of every cap before it is sent and settles it
// once its cost is known, so the run can pass a cap only by what requests in flight report beyond
// what they reserved. A share that does not fit waits while other requests hold reservations of that
// cap (they may settle lower); when none do, the request is refused with BudgetExceededError.
import type { EngineConfig } from "./config.ts";
import { budgetError, type EngineError } from "./errors.ts";

const CAP_KEYS = [
  "max_llm_calls",
  "max_prompt_tokens",
  "max_completion_tokens",
  "max_money_spent",
] as const;
type CapKey = typeof CAP_KEYS[number];
export type PerCap<T> = Record<CapKey, T>;
// How much of each capped measure: model requests, prompt tokens, completion tokens, USD.
export type CapAmounts = PerCap<number>;
// One cap beside what the run used of it; `limit` null means no cap.
export type CapUse = { limit: number | null; used: number };

// A request is counted when it is sent: whatever happens next, it cannot be unsent.
const COUNTED_WHEN_SENT: CapKey = "max_llm_calls";
// Sums of cents drift (0.1 + 0.2 > 0.3); a total within this fraction of its cap is within it.
const FLOAT_SLACK = 1e-9;

const UNITS: PerCap<(amount: number) => string> = {
  max_llm_calls: (amount) => `${counted(amount)} model requests`,
  max_prompt_tokens: (amount) => `${counted(amount)} prompt tokens`,
  max_completion_tokens: (amount) => `${counted(amount)} completion tokens`,
  max_money_spent: (amount) => `$${amount.toFixed(4)}`,
};

function counted(amount: number): string {
  return Math.round(amount).toLocaleString("en-US");
}

export type Reservation = { readonly amounts: CapAmounts };

type Waiter = {
  estimate: () => CapAmounts;
  admit: (reservation: Reservation) => void;
  refuse: (error: EngineError) => void;
};

type Verdict = { kind: "fits" } | { kind: "wait" } | { kind: "exceeded"; key: CapKey; amount: number };

export function zeroAmounts(): CapAmounts {
  return { max_llm_calls: 0, max_prompt_tokens: 0, max_completion_tokens: 0, max_money_spent: 0 };
}

export function capsOf(config: EngineConfig): PerCap<number | null> {
  return {
    max_llm_calls: config.max_llm_calls,
    max_prompt_tokens: config.max_prompt_tokens,
    max_completion_tokens: config.max_completion_tokens,
    max_money_spent: config.max_money_spent,
  };
}

export class RunBudget {
  private readonly used = zeroAmounts();
  private readonly reserved = zeroAmounts();
  // Unsettled reservations holding a positive amount of each cap: only those can free room.
  private readonly holders = zeroAmounts();
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly caps: PerCap<number | null>) {}

  // Takes `estimate()` of every cap. `estimate` is asked again each time a settlement lets a waiting
  // request try again, since what the settled requests reported sharpens it.
  reserve(estimate: () => CapAmounts, signal: AbortSignal): Promise<Reservation> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const amounts = estimate();
    const verdict = this.judge(amounts);
    if (verdict.kind === "fits") return Promise.resolve(this.take(amounts));
    if (verdict.kind === "exceeded") return Promise.reject(this.refusal(verdict.key, verdict.amount));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        estimate,
        admit: (reservation) => {
          signal.removeEventListener("abort", onAbort);
          resolve(reservation);
        },
        refuse: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  // `spent` is what the request turned out to cost; its reservation is released.
  settle(reservation: Reservation, spent: CapAmounts): void {
    for (const key of CAP_KEYS) {
      if (key === COUNTED_WHEN_SENT) continue;
      const amount = reservation.amounts[key];
      this.reserved[key] -= amount;
      if (amount > 0) this.holders[key] -= 1;
      if (this.holders[key] === 0) this.reserved[key] = 0; // no float residue once nothing is held
      this.used[key] += spent[key];
    }
    this.admitWaiters();
  }

  // A request an earlier run sent and paid for, whose recorded reply this run replays (resume): a
  // cap counts the whole job, so a run cut by a cap goes on only when that cap is raised.
  charge(spent: CapAmounts): void {
    for (const key of CAP_KEYS) this.used[key] += spent[key];
  }

  // Each cap beside what was used of it, reservations of requests still in flight included.
  report(): PerCap<CapUse> {
    const report = {} as PerCap<CapUse>;
    for (const key of CAP_KEYS) {
      report[key] = { limit: this.caps[key], used: this.used[key] + this.reserved[key] };
    }
    return report;
  }

  private judge(amounts: CapAmounts): Verdict {
    let mustWait = false;
    for (const key of CAP_KEYS) {
      const limit = this.caps[key];
      if (limit === null) continue;
      if (this.used[key] + this.reserved[key] + amounts[key] <= limit * (1 + FLOAT_SLACK)) continue;
      if (this.holders[key] === 0) return { kind: "exceeded", key, amount: amounts[key] };
      mustWait = true;
    }
    return mustWait ? { kind: "wait" } : { kind: "fits" };
  }

  private take(amounts: CapAmounts): Reservation {
    for (const key of CAP_KEYS) {
      if (key === COUNTED_WHEN_SENT) {
        this.used[key] += amounts[key];
        continue;
      }
      this.reserved[key] += amounts[key];
      if (amounts[key] > 0) this.holders[key] += 1;
    }
    return { amounts };
  }

  private admitWaiters(): void {
    for (const waiter of [...this.waiters]) {
      const amounts = waiter.estimate();
      const verdict = this.judge(amounts);
      if (verdict.kind === "wait") continue;
      this.waiters.delete(waiter);
      if (verdict.kind === "fits") waiter.admit(this.take(amounts));
      else waiter.refuse(this.refusal(verdict.key, verdict.amount));
    }
  }

  private refusal(key: CapKey, amount: number): EngineError {
    const limit = this.caps[key]!;
    const used = this.used[key] + this.reserved[key];
    const next = key === COUNTED_WHEN_SENT
      ? ""
      : `, and the next request needs about ${UNITS[key](amount)} more`;
    return budgetError(
      `${key}=${limit} reached: ${UNITS[key](used)} used in this run${next}. ` +
        `Raise ${key} in the config (null means no cap) to go further.`,
    );
  }
}
