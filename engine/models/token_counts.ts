// A count the budgets can add up: a missing or malformed figure counts 0.
export function tokenCount(value: unknown): number {
  const count = Number(value ?? 0);
  return Number.isFinite(count) && count >= 0 ? count : 0;
}
