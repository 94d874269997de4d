"""Session: run() with settings fixed once, for code that makes many runs."""

from __future__ import annotations

from typing import Any

from fast_rlm.run import arun, run
from fast_rlm.stream import RunStream, stream


class Session:
    """Holds keyword arguments of run() (config, log_dir, verbosity, callbacks, ...) so each call
    passes only what changes. Arguments given to a call override the session's."""

    def __init__(self, **run_arguments: Any) -> None:
        self.run_arguments = run_arguments

    def run(self, query: Any = None, **overrides: Any) -> dict[str, Any]:
        return run(query, **{**self.run_arguments, **overrides})

    async def arun(self, query: Any = None, **overrides: Any) -> dict[str, Any]:
        return await arun(query, **{**self.run_arguments, **overrides})

    def stream(self, query: Any = None, **overrides: Any) -> RunStream:
        return stream(query, **{**self.run_arguments, **overrides})
