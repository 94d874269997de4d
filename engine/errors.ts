// Typed failures inside the engine, named from one list. fast_rlm/errors.py maps every name to the
// class the host raises when one ends the run (tests/onedef/test_error_names.py holds them equal).
export const ENGINE_ERROR_NAMES = [
  "LLMError",
  "LLMAuthError",
  "LLMRateLimitError",
  "LLMTimeoutError",
  "LLMUnreachableError",
  "BudgetExceededError",
  "RecursionDepthError",
  "MaxStepsError",
  "CancelledError",
  "AgentError",
  "ReplError",
  "RunTimeoutError",
  "SchemaError",
  "ReplayMismatchError", // a replay's recording has no reply for a call (recorded_replies.ts)
  "EngineInternalError", // anything thrown that is not an EngineError: a bug of the engine's
  // Failures of agent code's requests: its REPL raises them (HostFunctionError, MCPError), they end
  // no run.
  "HostFunctionError",
  "MCPUnavailableError",
  "MCPServerError",
  "MCPTimeoutError",
  "MCPToolError",
  "MCPArgumentError",
] as const;

export type EngineErrorName = typeof ENGINE_ERROR_NAMES[number];

export class EngineError extends Error {
  constructor(readonly type: EngineErrorName, message: string) {
    super(message);
  }
}

// What a user's host function raised on the host, under its own Python name (KeyError, ...): it goes
// back to the agent's code as a HostFunctionError carrying that name.
export class HostFunctionRaised extends Error {
  constructor(readonly raisedType: string, message: string) {
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
  if (error instanceof HostFunctionRaised) return { type: error.raisedType, message: error.message };
  return { type: "EngineInternalError", message: String(error instanceof Error ? error.stack : error) };
}
