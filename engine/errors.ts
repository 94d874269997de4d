// Typed failures inside the engine. `type` names match the Python classes in fast_rlm/errors.py,
// which the host raises when one of these ends the run.
export class EngineError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

export const llmAuthError = (message: string) => new EngineError("LLMAuthError", message);
export const llmError = (message: string) => new EngineError("LLMError", message);
export const llmRateLimitError = (message: string) => new EngineError("LLMRateLimitError", message);
export const llmTimeoutError = (message: string) => new EngineError("LLMTimeoutError", message);
export const llmUnreachableError = (message: string) => new EngineError("LLMUnreachableError", message);
export const budgetError = (message: string) => new EngineError("BudgetExceededError", message);
// Planner mode's limits (planner.ts); both are budget errors to a caller catching BudgetExceededError.
export const recursionDepthError = (message: string) => new EngineError("RecursionDepthError", message);
export const maxStepsError = (message: string) => new EngineError("MaxStepsError", message);
export const cancelledError = (message: string) => new EngineError("CancelledError", message);
export const agentError = (message: string) => new EngineError("AgentError", message);
export const replError = (message: string) => new EngineError("ReplError", message);

export function errorInfo(error: unknown): { type: string; message: string } {
  if (error instanceof EngineError) return { type: error.type, message: error.message };
  return { type: "EngineInternalError", message: String(error instanceof Error ? error.stack : error) };
}
