// What a model call costs in USD: the provider's figure when it reported one, else the model's
// entry in the config's model_prices, else unknown (null).
import type { EngineConfig } from "./config.ts";
import { configuredModels, type NamedAgent } from "./routing.ts";
import type { CallUsage } from "./usage.ts";

export type ModelPrices = EngineConfig["model_prices"];
export type ModelPrice = ModelPrices[string];

export type TokenCounts = Pick<
  CallUsage,
  "prompt_tokens" | "completion_tokens" | "cached_tokens" | "cache_write_tokens"
>;

// Cached and written prompt tokens at their own prices when the entry names them, else at the
// prompt price.
export function tokenCost(price: ModelPrice, tokens: TokenCounts): number {
  const cachedPrice = price.cached_prompt_per_million ?? price.prompt_per_million;
  const writePrice = price.cache_write_per_million ?? price.prompt_per_million;
  const plainPrompt = Math.max(0, tokens.prompt_tokens - tokens.cached_tokens - tokens.cache_write_tokens);
  return (plainPrompt * price.prompt_per_million + tokens.cached_tokens * cachedPrice +
    tokens.cache_write_tokens * writePrice + tokens.completion_tokens * price.completion_per_million) /
    1_000_000;
}

export function pricedUsage(prices: ModelPrices, model: string, usage: CallUsage): CallUsage {
  const price = priceOf(prices, model);
  if (usage.cost !== null || price === null) return usage;
  return { ...usage, cost: tokenCost(price, usage) };
}

// Own entries only: a model named "constructor" has no price.
export function priceOf(prices: ModelPrices, model: string): ModelPrice | null {
  return Object.hasOwn(prices, model) ? prices[model] : null;
}

// The configured models that max_money_spent cannot price before a call: without a model_prices
// entry, only the cost their provider reports afterwards counts (nothing, if it reports none).
export function unpricedModels(config: EngineConfig, namedAgents: Record<string, NamedAgent>): string[] {
  if (config.max_money_spent === null) return [];
  return configuredModels(config, namedAgents).filter((model) =>
    priceOf(config.model_prices, model) === null
  );
}
