"""fast_rlm.stream(): a run as an async iterator of its typed events.

    async for event in fast_rlm.stream(query, **run_arguments):
        ...

The run executes in a worker thread (as with arun); its events cross to the event loop through an
unbounded queue, so a slow consumer never stalls the engine. Leaving the loop early (break, an
exception, cancelling the consuming task) cancels the run and waits until its engine has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from fast_rlm.config import RLMConfig
from fast_rlm.errors import FastRLMError
from fast_rlm.events import LogEvent
from fast_rlm.run import PreparedRun, prepare_run
from fast_rlm.run_arguments import RunOptions, run_arguments

_RUN_OVER = object()  # queued after the last event, once execute() has returned or raised


def stream(
    query: str | dict | list | None = None,
    prefix: str | None = None,
    config: RLMConfig | dict[str, Any] | None = None,
    verbose: bool | None = None,
    output_schema: Any = None,
    tools: list[Callable[..., Any]] | None = None,
    env_variables: dict[str, str] | None = None,
    mcp_servers: dict[str, dict[str, Any]] | None = None,
    **options: Unpack[RunOptions],
) -> RunStream:
    """run()'s arguments; iterate the result with `async for` to get the run's events as they happen
    (fast_rlm.events models), the last being RunEnd. On failure, RunEnd (status "error" or
    "cancelled") is yielded, then the run's FastRLMError is raised. Invalid arguments raise at the
    first iteration, before any event. Nothing runs until the first iteration."""
    arguments = run_arguments(
        query, prefix, config, verbose, output_schema, tools, env_variables, mcp_servers, options
    )
    return RunStream(arguments)


class RunStream:
    """The events of one run. After a successful run, `result` holds what run() would have returned;
    `run_id` and `log_file` are set once the run is prepared, before its first event."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        self._outcome = _Outcome()
        # The generator must not refer back to this object: dropping the stream after `break` then
        # frees the generator at once, and asyncio closes it (cancelling the run) without waiting
        # for a garbage collection.
        self._events = _produce(arguments, self._outcome)

    @property
    def result(self) -> dict[str, Any] | None:
        return self._outcome.result

    @property
    def run_id(self) -> str | None:
        return self._outcome.run_id

    @property
    def log_file(self) -> str | None:
        return self._outcome.log_file

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> LogEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Cancels the run if it is still going and waits until its engine has stopped."""
        await self._events.aclose()

    async def __aenter__(self) -> RunStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()


@dataclass
class _Outcome:
    result: dict[str, Any] | None = None
    run_id: str | None = None
    log_file: str | None = None


async def _produce(arguments: dict[str, Any], outcome: _Outcome) -> AsyncIterator[LogEvent]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    user_on_event = arguments["on_event"]

    def forward(event: LogEvent) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)  # first: a failing user callback loses nothing
        if user_on_event is not None:
            user_on_event(event)

    prepared: PreparedRun = await loop.run_in_executor(None, prepare_run, {**arguments, "on_event": forward})
    outcome.run_id, outcome.log_file = prepared.run_id, str(prepared.log_file)
    execution = loop.run_in_executor(None, prepared.execute)
    # The thread scheduled each event's put before execute() returned, so the marker comes last.
    execution.add_done_callback(lambda _: queue.put_nowait(_RUN_OVER))
    try:
        while (event := await queue.get()) is not _RUN_OVER:
            yield event
        outcome.result = execution.result()  # raises the run's error after its RunEnd was yielded
    finally:
        if not execution.done():
            prepared.cancel()
            with contextlib.suppress(FastRLMError):
                await asyncio.shield(execution)
