"""Every error fast-rlm raises. Each message names the problem and the fix.

Errors raised after the engine started carry what the run had done: `partial_results` (the FINAL
values of agents that finished, by agent id), `usage` and `log_file`.

The original fast-rlm raised builtin exceptions, and its users' `except` clauses name them: every
error here is a RuntimeError (what a failed run raised there), and an argument rejected before the
run is also the ValueError or TypeError it raised for the same mistake.
"""

from __future__ import annotations

from typing import Any


class FastRLMError(RuntimeError):
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


class ConfigError(FastRLMError, ValueError):
    """A configuration key or value is wrong (rlm_config.yaml, RLMConfig, a dict or an argument of
    run() such as verbosity or mcp_servers)."""


class ConfigTypeError(ConfigError, TypeError):
    """An argument of run() has the wrong type: config, env_variables, mcp_servers, llm_kwargs (or
    root_llm_kwargs, sub_llm_kwargs) or verbosity."""


class UnsupportedFeatureError(ConfigError):
    """A feature of the original fast-rlm this one does not have (Vertex AI, ACP and CLI agent
    backends); the message says what to use instead."""


class MissingAPIKeyError(ConfigError):
    """No API key for a provider a configured model uses: set RLM_MODEL_API_KEY (or api_key in the
    config) for the OpenAI-compatible endpoint, ANTHROPIC_API_KEY (or anthropic_api_key) for
    "anthropic:" models. `variable` is the environment variable to set."""

    def __init__(self, message: str, *, variable: str = "RLM_MODEL_API_KEY", **details: Any) -> None:
        super().__init__(message, **details)
        self.variable = variable


class UnknownProviderError(ConfigError):
    """A model name starts with a provider prefix this version does not know ("foo:model")."""


class MissingExtraError(ConfigError, ImportError):
    """An optional feature needs a package that is not installed; the message names the extra to
    install, such as pip install "fast-rlm[ray]"."""


class RayConnectionError(FastRLMError, ConnectionError):
    """run_batch(executor="ray") cannot reach the Ray cluster at ray_address."""


class QueryError(FastRLMError, ValueError):
    """No query, a query holding values JSON cannot carry, or an input_file that cannot be read."""


class QueryTypeError(QueryError, TypeError):
    """The query is not a str, dict or list, or the instruction is not a str."""


class ToolError(FastRLMError, TypeError):
    """A function given as a tool or host function cannot be used (lambda, closure, no source, ...)."""


class ModelCallableError(ConfigError, TypeError):
    """A Python model (run(model=fn) / models={...}) cannot be called as (messages, **llm_kwargs)."""


class AgentsError(ConfigError):
    """run(agents={...}) is malformed, or names a model or tool that cannot be used."""


class ImageError(QueryError):
    """An image for run(images=[...]) is missing, unreadable, of an unknown type or too large."""


class SchemaError(FastRLMError):
    """output_schema is not a usable schema, or the agent never produced a FINAL value matching it."""


class OutputSchemaError(SchemaError, TypeError):
    """The output_schema argument cannot be turned into a JSON Schema (found before the run)."""


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


class RecursionDepthError(BudgetExceededError):
    """Planner mode (run(mode="decompose")): a task at max_depth kept asking to split into sub-tasks
    instead of executing, for all of its max_calls_per_subagent replies."""


class MaxStepsError(BudgetExceededError):
    """Planner mode: the tree needed more agents (plans, sub-tasks, executors, syntheses) than
    max_steps allows. `partial_results` hold the answers of the agents that finished."""


class AgentError(FastRLMError):
    """The root agent failed for a reason other than a limit (its REPL failed, for instance)."""


class CancelledError(FastRLMError):
    """The run was cancelled (Ctrl-C or cancellation of the caller)."""


class RunTimeoutError(FastRLMError):
    """The run went past run_timeout_s."""


class LogFileError(FastRLMError):
    """A log file cannot be opened (missing, a directory, unreadable)."""


class RecordingError(LogFileError, ValueError):
    """A log cannot be replayed, resumed or forked: it is not a fast-rlm log, it is of another schema
    version, or it lacks what is needed (its query, an agent's recorded exchanges). The message names
    the file and the fix."""


class ForkPointError(RecordingError):
    """fork(at=..., step=...) names an agent or step the log has no state for; the message lists the
    valid choices."""


class ReplayMismatchError(FastRLMError):
    """run(replay=LOG) reached a model call the recording cannot answer: the recording has no reply
    for it, or the request differs from the recorded one. The message names the agent, its call and
    code step, and what differs."""


class SessionError(FastRLMError):
    """A session directory cannot be used; the message names the directory or file and the fix."""


class SessionLockedError(SessionError):
    """Another process (or another Session in this one) has the session directory open."""


class SessionStateError(SessionError):
    """A session's saved state is unreadable (not fast-rlm's, another version, or corrupt). The file
    is left as it is."""


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
        RecursionDepthError,
        MaxStepsError,
        AgentError,
        CancelledError,
        RunTimeoutError,
        SchemaError,
        ReplayMismatchError,
    )
}
ENGINE_ERROR_TYPES["ReplError"] = AgentError
ENGINE_ERROR_TYPES["EngineInternalError"] = EngineCrashError
