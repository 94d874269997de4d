"""Named scenarios for the scripted OpenAI-compatible server (fast_rlm.scripted.server).

Each scenario is a responder: it reads the request the engine sent (which agent, which call) and
answers as a model would, with a ```repl block, or with an HTTP failure.
"""

from __future__ import annotations

import threading
from typing import Any

from fast_rlm.scripted.server import ScriptedReply, call_number, first_user_message, repl

ROOT_TASK = "Answer the query held in `context`."


def is_root(request: dict[str, Any]) -> bool:
    return ROOT_TASK in first_user_message(request)


def fan_out(children: int):
    """The root hands each of `children` numbers to a child that squares it, in one batch."""

    def respond(request: dict[str, Any]) -> str:
        if is_root(request):
            return repl(
                f"FINAL(await batch_llm_query(*[llm_query(n, 'square it') for n in range({children})]))"
            )
        return repl("FINAL(context * context)")

    return respond


def chain(depth: int):
    """Each agent passes its context down until the deepest, which adds the depth it reached."""

    def respond(request: dict[str, Any]) -> str:
        instruction_depth = (
            0 if is_root(request) else int(first_user_message(request).split("level ")[1].split(".")[0])
        )
        if instruction_depth < depth:
            return repl(f"FINAL(await llm_query(context, 'pass it on, level {instruction_depth + 1}.'))")
        return repl("FINAL(context + ' reached the bottom')")

    return respond


def final_none(request: dict[str, Any]) -> str:
    return repl("x = 1\nFINAL(None)\nprint('never printed')")


def dict_context(request: dict[str, Any]) -> str:
    """Two steps: inspect the dict, then answer from it (the dict must stay a dict)."""
    if call_number(request) == 1:
        return repl("print(type(context).__name__, sorted(context))")
    return repl(
        "FINAL({'kind': type(context).__name__, 'total': sum(context['numbers']), 'name': context['name']})"
    )


def no_repl_block_first(request: dict[str, Any]) -> str:
    """A reply with no code block, then a correct one."""
    if call_number(request) == 1:
        return "I think the answer is 42, but I will not write code."
    return repl("FINAL(42)")


class FailThenSucceed:
    """Answers HTTP `status` for the first `failures` requests, then behaves."""

    def __init__(self, status: int, failures: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.failures = failures
        self.headers = headers or {}
        self.seen = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str | ScriptedReply:
        with self._lock:
            self.seen += 1
            failing = self.seen <= self.failures
        if failing:
            return ScriptedReply(
                status=self.status, body='{"error": {"message": "scripted failure"}}', headers=self.headers
            )
        return repl("FINAL('recovered')")


def unauthorized(request: dict[str, Any]) -> ScriptedReply:
    return ScriptedReply(status=401, body='{"error": {"message": "invalid api key"}}')
