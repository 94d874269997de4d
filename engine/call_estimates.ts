// What a model request will likely use of each run-wide cap, to reserve before it is sent
// (budget.ts), and what it did use once it ended. Prompt tokens come from the request's own text;
// completion tokens and cost from the model's earlier answered calls in this run.
import { type CapAmounts, zeroAmounts } from "./budget.ts";
import type { EngineConfig } from "./config.ts";
import type { AttemptCost } from "./models/client.ts";
import { type ChatMessage, messageText } from "./chat_message.ts";
import { pricedUsage, priceOf, tokenCost } from "./pricing.ts";

// About four characters a token in English text and code, plus a few tokens of role and separators
// per message. A model whose reported prompt tokens run higher than this scales its estimates up.
const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 4;
// Until a model has answered once, what its reply costs is unknown. Its reply is taken to be a long one,
// this many tokens but no more than 1/32 of max_completion_tokens; without a price, its cost is taken
// to be 1/32 of max_money_spent. So at most 32 of a model's first requests go out before its first
// answer gives the real figures, fewer when their replies could be long.
const FIRST_REPLY_TOKENS = 4096;
const FIRST_CALL_SHARE_OF_CAP = 1 / 32;

// A request, as far as estimates go: its model and its prompt's size by the rule of thumb above.
export type RequestShape = { model: string; textPromptTokens: number };

// What one model's answered calls used in this run.
type ModelHistory = {
  answered: number;
  completionTokens: number;
  costedCalls: number; // answered calls with a cost, reported or from model_prices
  cost: number;
  promptScale: number; // the highest reported / estimated prompt tokens seen, at least 1
};

export class CallEstimator {
  private readonly histories = new Map<string, ModelHistory>();

  constructor(private readonly config: EngineConfig) {}

  shape(model: string, messages: ChatMessage[]): RequestShape {
    let chars = 0;
    for (const message of messages) chars += messageText(message).length;
    return {
      model,
      textPromptTokens: Math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages.length,
    };
  }

  estimate(request: RequestShape): CapAmounts {
    const history = this.histories.get(request.model);
    const promptTokens = Math.ceil(request.textPromptTokens * (history?.promptScale ?? 1));
    const completionTokens = history
      ? history.completionTokens / history.answered
      : Math.min(FIRST_REPLY_TOKENS, firstCallShare(this.config.max_completion_tokens) ?? Infinity);
    return {
      max_llm_calls: 1,
      max_prompt_tokens: promptTokens,
      max_completion_tokens: completionTokens,
      max_money_spent: this.moneyEstimate(request.model, history, promptTokens, completionTokens),
    };
  }

  // What the request counts against the caps. An answered call also teaches its model's history; a
  // request with no readable usage may still have been billed, so it counts what it reserved.
  spent(request: RequestShape, reserved: CapAmounts, cost: AttemptCost): CapAmounts {
    if (cost.kind === "refused") return { ...zeroAmounts(), max_llm_calls: 1 };
    if (cost.kind === "lost" || cost.usage === null) return reserved;
    const usage = pricedUsage(this.config.model_prices, request.model, cost.usage);
    const history = this.histories.get(request.model) ??
      { answered: 0, completionTokens: 0, costedCalls: 0, cost: 0, promptScale: 1 };
    history.answered += 1;
    history.completionTokens += usage.completion_tokens;
    if (usage.cost !== null) {
      history.costedCalls += 1;
      history.cost += usage.cost;
    }
    history.promptScale = Math.max(history.promptScale, usage.prompt_tokens / request.textPromptTokens);
    this.histories.set(request.model, history);
    return {
      max_llm_calls: 1,
      max_prompt_tokens: usage.prompt_tokens,
      max_completion_tokens: usage.completion_tokens,
      max_money_spent: usage.cost ?? 0,
    };
  }

  private moneyEstimate(
    model: string,
    history: ModelHistory | undefined,
    promptTokens: number,
    completionTokens: number,
  ): number {
    const price = priceOf(this.config.model_prices, model);
    // Priced as if nothing were read from the cache, and all of it written when writing costs more:
    // the reservation must cover the dearest case.
    if (price !== null) {
      const writesCostMore = (price.cache_write_per_million ?? 0) > price.prompt_per_million;
      return tokenCost(price, {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        cached_tokens: 0,
        cache_write_tokens: writesCostMore ? promptTokens : 0,
      });
    }
    if (history === undefined) return firstCallShare(this.config.max_money_spent) ?? 0;
    // A model with no price whose provider reports no cost cannot be held to max_money_spent.
    return history.costedCalls > 0 ? history.cost / history.costedCalls : 0;
  }
}

function firstCallShare(cap: number | null): number | null {
  return cap === null ? null : cap * FIRST_CALL_SHARE_OF_CAP;
}
