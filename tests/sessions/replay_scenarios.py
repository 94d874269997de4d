"""Scripted runs for the record/replay, response cache, resume and fork tests and benchmark."""

from __future__ import annotations

import threading
from typing import Any

import psutil

from fast_rlm.scripted.server import ScriptedReply, agent_task, call_number, last_user_message, repl
from tests.scripted_server import is_root

HANG_S = 120.0  # a hanging reply waits this long, or until the engine hangs up


class SquaresModel:
    """The root has helpers square 0..children-1 in one batch and prints their sum (call 1), then
    gives the squares as FINAL (call 2). The helpers for the numbers in `hang` do not answer (until
    the engine hangs up) while `hanging` is on; `all_hanging` is set once all of them asked."""

    def __init__(self, children: int, hang: set[int] | None = None) -> None:
        self.children = children
        self.hang = hang or set()
        self.hanging = True
        self.all_hanging = threading.Event()
        self._waiting = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str | ScriptedReply:
        if is_root(request):
            if call_number(request) == 1:
                return repl(
                    "squares = await batch_llm_query(*[llm_query(n, f'square number {n}') "
                    f"for n in range({self.children})])\nprint(sum(squares))"
                )
            return repl("FINAL(squares)")
        number = int(agent_task(request).rsplit(" ", 1)[1])
        if self.hanging and number in self.hang:
            with self._lock:
                self._waiting += 1
                if self._waiting == len(self.hang):
                    self.all_hanging.set()
            return ScriptedReply(content=repl("FINAL(-1)"), delay_s=HANG_S)
        return repl("FINAL(context * context)")


def squares(children: int) -> list[int]:
    return [n * n for n in range(children)]


class CountingModel:
    """The root keeps a counter in its REPL: call 1 sets it to 20, each later call adds one and prints
    it, and a last user message containing "finish" makes it give FINAL(counter * 2)."""

    def __call__(self, request: dict[str, Any]) -> str:
        call = call_number(request)
        if call == 1:
            return repl("counter = 20\nprint(counter)")
        if "finish" in last_user_message(request):
            return repl("FINAL(counter * 2)")
        if call >= 4:
            return repl("FINAL(counter)")
        return repl("counter += 1\nprint(counter)")


def kill_engines() -> None:
    """Kills this process's engine and its REPL processes, as a crash or an OOM killer would."""
    for process in psutil.Process().children(recursive=True):
        if "deno" in process.name():
            process.kill()
