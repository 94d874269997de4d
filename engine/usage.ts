// Token, call and cost totals. Cost stays null unless the provider reported it for every call:
// a partial sum would understate what was spent.
import type { CapUse, PerCap } from "./budget.ts";

export type Usage = {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens: number; // of the prompt tokens, those the provider served from its cache
  cache_write_tokens: number; // of the prompt tokens, those the provider wrote to its cache
  reasoning_tokens: number; // of the completion tokens, those spent reasoning
  llm_calls: number; // answered model calls (limits.max_llm_calls counts every request sent)
  agents: number;
  cache_hits: number; // calls answered by the response cache (config cache_dir): not in llm_calls
  replayed_calls: number; // of llm_calls, those answered by a recording (replay, resume, fork)
  cost: number | null;
  limits: PerCap<CapUse>; // each run-wide cap beside what was used of it
  by_model: Record<string, ModelUsage>; // the answered calls of each model the run used
};

// One model's share of the run: its answered calls, their tokens, and their cost (null unless every
// one of its calls was costed, by its provider or by model_prices).
export type ModelUsage = {
  llm_calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  cost: number | null;
};

// cached_tokens, cache_write_tokens and reasoning_tokens are 0 when the provider reports none.
// prompt_tokens counts them all: cached and written tokens are part of the prompt.
export type CallUsage = {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost: number | null;
};

// A reply that said nothing of its usage.
export const UNREPORTED_USAGE: CallUsage = {
  prompt_tokens: 0,
  completion_tokens: 0,
  cached_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  cost: null,
};

export class UsageTotals {
  private promptTokens = 0;
  private completionTokens = 0;
  private cachedTokens = 0;
  private cacheWriteTokens = 0;
  private reasoningTokens = 0;
  private llmCalls = 0;
  private agents = 0;
  private cacheHits = 0;
  private replayedCalls = 0;
  private reportedCost = 0;
  private callsWithoutCost = 0;
  private readonly byModel = new Map<string, ModelUsage & { callsWithoutCost: number }>();

  addCall(model: string, call: CallUsage): void {
    const share = this.byModel.get(model) ??
      {
        llm_calls: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cached_tokens: 0,
        cache_write_tokens: 0,
        cost: 0,
        callsWithoutCost: 0,
      };
    share.llm_calls += 1;
    share.prompt_tokens += call.prompt_tokens;
    share.completion_tokens += call.completion_tokens;
    share.cached_tokens += call.cached_tokens;
    share.cache_write_tokens += call.cache_write_tokens;
    if (call.cost === null) share.callsWithoutCost += 1;
    else share.cost = (share.cost ?? 0) + call.cost;
    this.byModel.set(model, share);
    this.promptTokens += call.prompt_tokens;
    this.completionTokens += call.completion_tokens;
    this.cachedTokens += call.cached_tokens;
    this.cacheWriteTokens += call.cache_write_tokens;
    this.reasoningTokens += call.reasoning_tokens;
    this.llmCalls += 1;
    if (call.cost === null) this.callsWithoutCost += 1;
    else this.reportedCost += call.cost;
  }

  addAgent(): void {
    this.agents += 1;
  }

  addCacheHit(): void {
    this.cacheHits += 1;
  }

  addReplayed(): void {
    this.replayedCalls += 1;
  }

  get cost(): number | null {
    return this.llmCalls === 0 || this.callsWithoutCost > 0 ? null : this.reportedCost;
  }

  snapshot(limits: PerCap<CapUse>): Usage {
    return {
      prompt_tokens: this.promptTokens,
      completion_tokens: this.completionTokens,
      total_tokens: this.promptTokens + this.completionTokens,
      cached_tokens: this.cachedTokens,
      cache_write_tokens: this.cacheWriteTokens,
      reasoning_tokens: this.reasoningTokens,
      llm_calls: this.llmCalls,
      agents: this.agents,
      cache_hits: this.cacheHits,
      replayed_calls: this.replayedCalls,
      cost: this.cost,
      limits,
      by_model: Object.fromEntries(
        [...this.byModel].map(([model, { callsWithoutCost, ...share }]) => [
          model,
          { ...share, cost: callsWithoutCost > 0 ? null : share.cost },
        ]),
      ),
    };
  }
}
