// Reading the usage a provider reported with a reply, whatever its names for the figures.
import type { CallUsage } from "../usage.ts";

// A count the budgets can add up: a missing or malformed figure counts 0.
export function tokenCount(value: unknown): number {
  const count = Number(value ?? 0);
  return Number.isFinite(count) && count >= 0 ? count : 0;
}

// A provider's figures under CallUsage's names; an absent one counts 0 (cost: not reported).
export type UsageFigures = {
  prompt: unknown; // every prompt token, cached and written ones included
  completion: unknown;
  cached?: unknown;
  cacheWrite?: unknown;
  reasoning?: unknown;
  cost?: unknown;
};

// The usage block of a reply, its figures picked by `figures`; null when the block holds none of
// `countKeys` (the provider's token counts): such a block says nothing, and the budgets then count
// what was reserved.
export function reportedUsage(
  usage: unknown,
  countKeys: string[],
  figures: (usage: Record<string, any>) => UsageFigures,
): CallUsage | null {
  if (typeof usage !== "object" || usage === null || !countKeys.some((key) => key in usage)) return null;
  const picked = figures(usage as Record<string, unknown>);
  return {
    prompt_tokens: tokenCount(picked.prompt),
    completion_tokens: tokenCount(picked.completion),
    cached_tokens: tokenCount(picked.cached),
    cache_write_tokens: tokenCount(picked.cacheWrite),
    reasoning_tokens: tokenCount(picked.reasoning),
    cost: typeof picked.cost === "number" && Number.isFinite(picked.cost) ? picked.cost : null,
  };
}
