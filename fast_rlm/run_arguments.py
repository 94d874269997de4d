"""The arguments of run(), arun() and stream(), defined once."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from fast_rlm.config import RLMConfig
from fast_rlm.events import CodeStep, LogEvent

# Callbacks get the typed events of fast_rlm.events; event.model_dump() is the log line as a dict.
EventCallback = Callable[[LogEvent], object]
StepCallback = Callable[[CodeStep], object]


class RunOptions(TypedDict, total=False):
    """The keyword-only arguments; every one defaults to None. See run() and the README."""

    instruction: str | None
    input_file: str | Path | None
    output_schema: Any
    tools: list[Callable[..., Any]] | None
    host_functions: list[Callable[..., Any]] | None
    env_variables: dict[str, str] | None
    allow_net: list[str] | None
    mcp_servers: dict[str, dict[str, Any]] | None
    verbosity: int | str | None
    on_event: EventCallback | None
    on_step: StepCallback | None
    log_dir: str | Path | None


OPTION_NAMES = tuple(RunOptions.__annotations__)


def run_arguments(
    query: str | dict | list | None,
    prefix: str | None,
    config: RLMConfig | dict[str, Any] | None,
    verbose: bool | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """All arguments by name, the missing options as None; an unknown option is a TypeError."""
    for name in options:
        if name not in OPTION_NAMES:
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Options: {', '.join(OPTION_NAMES)}."
            raise TypeError(f"unexpected keyword argument {name!r}.{hint}")
    return {
        **dict.fromkeys(OPTION_NAMES),
        **options,
        "query": query,
        "prefix": prefix,
        "config": config,
        "verbose": verbose,
    }
