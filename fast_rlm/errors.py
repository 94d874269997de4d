"""Every error fast-rlm raises. Each message names the problem and the fix.

Errors raised after the engine started carry what the run had done: `partial_results` (the FINAL
values of agents that finished, by agent id), `usage` and `log_file`.
"""

from __future__ import annotations

from typing import Any


class FastRLMError(Exception):
    """Base class of every fast-rlm error."""

    def __init__(
        self,
        message: str,
        *,
        partial_results: Any = None,
        usage: dict[str, Any] | None = None,
        log_file: str | None = None,
    ) -> None:
        super().__init__(message)
        self.partial_results = partial_results
        self.usage = usage
        self.log_file = log_file


class ConfigError(FastRLMError):
    """A configuration key or value is wrong (rlm_config.yaml, RLMConfig or a dict)."""


class MissingAPIKeyError(ConfigError):
    """No API key: set RLM_MODEL_API_KEY or pass api_key in the config."""


class QueryError(FastRLMError):
    """The query is not a str, dict or list of JSON values, or input_file cannot be read."""


class ToolError(FastRLMError):
    """A function given as a tool or host function cannot be used (lambda, closure, no source, ...)."""


class SchemaError(FastRLMError):
    """output_schema is not a usable schema, or the agent never produced a FINAL value matching it."""


class EngineStartError(FastRLMError):
    """The Deno engine could not start: Deno missing, dependencies not installed, or a crash at start."""


class EngineCrashError(FastRLMError):
    """The engine process ended without reporting a result."""


class LLMError(FastRLMError):
    """The model endpoint failed in a way retries did not fix."""


class LLMAuthError(LLMError):
    """The endpoint refused the API key (HTTP 401/403)."""


class LLMUnreachableError(LLMError):
    """The endpoint cannot be reached at the configured base URL."""


class LLMTimeoutError(LLMError):
    """The model did not answer within llm_timeout_s, on every attempt."""


class LLMRateLimitError(LLMError):
    """The endpoint kept answering HTTP 429 after every retry."""


class BudgetExceededError(FastRLMError):
    """A limit left no room: a run-wide cap (max_llm_calls, max_prompt_tokens, max_completion_tokens,
    max_money_spent) for the next model request, max_calls_per_subagent or max_depth. The message
    names the limit, what was used and the key to raise; `partial_results` hold the answers of the
    agents that finished, and `usage["limits"]` each run-wide cap beside what was used of it."""


class AgentError(FastRLMError):
    """The root agent failed for a reason other than a limit (its REPL failed, for instance)."""


class CancelledError(FastRLMError):
    """The run was cancelled (Ctrl-C or cancellation of the caller)."""


class RunTimeoutError(FastRLMError):
    """The run went past run_timeout_s."""


class LogFileError(FastRLMError):
    """A log file cannot be opened (missing, a directory, unreadable)."""


# The engine reports failures by name (engine/errors.ts); these are the classes they become.
ENGINE_ERROR_TYPES: dict[str, type[FastRLMError]] = {
    cls.__name__: cls
    for cls in (
        LLMError,
        LLMAuthError,
        LLMUnreachableError,
        LLMTimeoutError,
        LLMRateLimitError,
        BudgetExceededError,
        AgentError,
        CancelledError,
        RunTimeoutError,
        SchemaError,
    )
}
ENGINE_ERROR_TYPES["ReplError"] = AgentError
ENGINE_ERROR_TYPES["EngineInternalError"] = EngineCrashError
