"""The arguments of run(), arun() and stream(), defined once."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from fast_rlm.config import RLMConfig
from fast_rlm.errors import UnsupportedFeatureError
from fast_rlm.events import CodeStep, LogEvent

# Callbacks get the typed events of fast_rlm.events; they also read as dicts of the log line.
EventCallback = Callable[[LogEvent], object]
StepCallback = Callable[[CodeStep], object]

# The parameters that may be given by position, in the original fast-rlm's order.
POSITIONAL_NAMES = (
    "query",
    "prefix",
    "config",
    "verbose",
    "output_schema",
    "tools",
    "env_variables",
    "mcp_servers",
)


class RunOptions(TypedDict, total=False):
    """The keyword-only arguments; every one defaults to None. See run() and the README."""

    instruction: str | None
    # "repl" (the default): the root is a REPL agent. "decompose": planner mode (engine/planner.ts).
    mode: str | None
    input_file: str | Path | None
    host_functions: list[Callable[..., Any]] | None
    llm_kwargs: dict[str, Any] | None
    root_llm_kwargs: dict[str, Any] | None
    sub_llm_kwargs: dict[str, Any] | None
    allow_net: list[str] | None
    # A model for every agent: a name, or a Python callable (fast_rlm/host/python_models.py).
    model: str | Callable[..., Any] | None
    models: dict[str, Callable[..., Any]] | None  # model name -> Python callable
    agents: dict[str, dict[str, Any]] | None  # named agents (fast_rlm/inputs/named_agents.py)
    images: list[Any] | None  # bytes, file paths or data URLs for the root (fast_rlm/inputs/images.py)
    verbosity: int | str | None
    on_event: EventCallback | None
    on_step: StepCallback | None
    log_dir: str | Path | None
    # An OpenTelemetry TracerProvider to report the run's spans to; False: none, whatever the
    # environment says; None: an OTLP endpoint in the environment turns tracing on (fast_rlm.watch.tracing).
    tracer_provider: Any
    # A session (fast_rlm.Session): this run is one query of it, and the root's REPL carries on from
    # the last. session_id names a session within session_dir; add_session_code_to_context (default
    # True) shows the root the code of earlier queries.
    session_dir: str | Path | None
    session_id: str | None
    add_session_code_to_context: bool | None
    # A run's log: run again from its recorded replies, with no endpoint and no key; the query,
    # instruction, config, ... it recorded are used for those not given (fast_rlm/replay/inputs.py).
    replay: str | Path | None
    # The response cache's directory (overrides the config's cache_dir).
    cache_dir: str | Path | None
    # The original fast-rlm's, accepted at its default value only (see _ORIGINAL_ONLY).
    vertex: bool


# Option -> (its value that changes nothing, why any other value is refused).
_ORIGINAL_ONLY: dict[str, tuple[Any, str]] = {
    "vertex": (
        False,
        "Vertex AI is not a backend here; point base_url (or RLM_MODEL_BASE_URL) at an "
        "OpenAI-compatible endpoint, such as Vertex AI's, with its access token as api_key",
    ),
}
OPTION_NAMES = tuple(name for name in RunOptions.__annotations__ if name not in _ORIGINAL_ONLY)


def run_arguments(
    query: str | dict | list | None,
    prefix: str | None,
    config: RLMConfig | dict[str, Any] | None,
    verbose: bool | None,
    output_schema: Any,
    tools: list[Callable[..., Any]] | None,
    env_variables: dict[str, str] | None,
    mcp_servers: dict[str, dict[str, Any]] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """All arguments by name, the missing options as None. An unknown option is a TypeError; an
    option of the original fast-rlm this one lacks, set to anything but its default, is an
    UnsupportedFeatureError."""
    for name, value in options.items():
        if name in _ORIGINAL_ONLY:
            default, reason = _ORIGINAL_ONLY[name]
            if value != default:
                raise UnsupportedFeatureError(f"{name}={value!r}: {reason}.")
        elif name not in OPTION_NAMES:
            known = OPTION_NAMES + POSITIONAL_NAMES
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Options: {', '.join(known)}."
            raise TypeError(f"unexpected keyword argument {name!r}.{hint}")
    return {
        **dict.fromkeys(OPTION_NAMES),
        **{name: value for name, value in options.items() if name in OPTION_NAMES},
        "query": query,
        "prefix": prefix,
        "config": config,
        "verbose": verbose,
        "output_schema": output_schema,
        "tools": tools,
        "env_variables": env_variables,
        "mcp_servers": mcp_servers,
    }
