"""Running host functions: the user's Python functions that agents call with `await name(...)`.

They run here, in the host process, in a small thread pool so that several agents can call at
once; an async function runs on an event loop of its own in its thread. Arguments and results are
JSON; an exception goes back to the agent with its type and message.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MAX_PARALLEL_CALLS = 16

Reply = Callable[[dict[str, Any]], None]


class HostFunctionRunner:
    def __init__(self, functions: list[Callable[..., Any]]) -> None:
        self._functions = {function.__name__: function for function in functions}
        self._executor = ThreadPoolExecutor(MAX_PARALLEL_CALLS, thread_name_prefix="fast-rlm-host")

    def submit(self, call: dict[str, Any], reply: Reply) -> None:
        self._executor.submit(self._run, call, reply)

    def _run(self, call: dict[str, Any], reply: Reply) -> None:
        answer: dict[str, Any] = {"type": "host_result", "call_id": call["call_id"]}
        try:
            value = called(self._functions[call["name"]], *call["args"], **call["kwargs"])
            _check_json(call["name"], value)
            answer.update(ok=True, value=value)
        except Exception as error:  # any failure of the user's function goes back to the agent
            answer.update(ok=False, error={"type": type(error).__name__, "message": str(error)})
        reply(answer)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def called(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What function(...) returns; an async function's result is awaited on an event loop of this
    thread's own (the host's worker threads have none). Python models are called this way too."""
    value = function(*args, **kwargs)
    if inspect.isawaitable(value):
        value = asyncio.run(_awaited(value))
    return value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"host function {name} returned a value that is not JSON: {error}") from None
