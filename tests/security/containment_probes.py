"""A probe run for the containment tests: the root agent's first step attempts things the sandbox
must refuse, records what happened to each, and the run then goes on with ordinary steps.

Three model calls of the root agent, always:
  1. PROBE_PRELUDE + the test's probe code, which fills `outcomes`;
  2. a legitimate step that prints a computed value (seen in the next request);
  3. FINAL({"outcomes": outcomes, "after": <computed>}).
The host's reader of the engine's stdout (EngineRun._authentic) is wrapped to record every line that
was not an authentic protocol message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import fast_rlm
from fast_rlm.host.engine_process import EngineRun
from fast_rlm.scripted.server import ScriptedModelServer, call_number, first_user_message, repl
from tests.conftest import config_for

PROBE_RUN_TIMEOUT_S = 30
ROOT_TASK = "Answer the query held in `context`."

# `probe(name, action)` runs one attempt; an awaitable result (a JS promise, a coroutine) is awaited.
# `js_module(source)` is the route into JavaScript that worked before containment: js.eval, and
# import() of a data: URL module, which reaches Node built-ins.
PROBE_PRELUDE = """
import inspect as _inspect
import json
import os
import sys

import js

outcomes = {}


async def probe(name, action):
    try:
        value = action()
        if _inspect.isawaitable(value):
            value = await value
        outcomes[name] = "ALLOWED: " + (value if isinstance(value, str) else repr(value))[:2000]
    except Exception as error:
        outcomes[name] = f"{type(error).__name__}: {error}"[:2000]


def js_module(source):
    url = "data:text/javascript," + source.replace("%", "%25").replace("#", "%23")
    return js.eval("import(%s).then((module) => String(module.default))" % json.dumps(url))
"""
LEGIT_STEP = "print('legit step after probes:', sum(range(10)))"
LEGIT_OBSERVATION = "legit step after probes: 45"
FINAL_STEP = "FINAL({'outcomes': outcomes, 'after': sum(range(10))})"


@dataclass
class ProbeRun:
    outcomes: dict[str, str]
    result: dict[str, Any]
    root_requests: list[dict[str, Any]]  # what the model received for the root agent
    stray_stdout_lines: list[str]  # lines on the engine's stdout that were not protocol messages
    events: list[dict[str, Any]]  # what on_event received
    log_lines: list[str]


def run_probes(
    server_factory: Callable[..., ScriptedModelServer],
    probe_code: str,
    *,
    child_responder: Callable[[dict[str, Any]], str] | None = None,
    config: dict[str, Any] | None = None,
    **run_options: Any,
) -> ProbeRun:
    """One run whose root's first step is `probe_code`; children it starts get `child_responder`."""

    def respond(request: dict[str, Any]) -> str:
        if ROOT_TASK not in first_user_message(request):
            return child_responder(request) if child_responder else repl("FINAL('an unexpected child')")
        return repl(
            {1: PROBE_PRELUDE + "\n" + probe_code, 2: LEGIT_STEP}.get(call_number(request), FINAL_STEP)
        )

    server = server_factory(respond)
    stray_lines: list[str] = []
    events: list[dict[str, Any]] = []
    authentic = EngineRun._authentic

    def recording_authentic(engine: EngineRun, line: bytes) -> dict[str, Any] | None:
        message = authentic(engine, line)
        if message is None:
            stray_lines.append(line.decode(errors="replace"))
        return message

    run_config = config_for(server, **{"workers": 1, "run_timeout_s": PROBE_RUN_TIMEOUT_S, **(config or {})})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EngineRun, "_authentic", recording_authentic)
        result = fast_rlm.run(
            "probe the sandbox",
            config=run_config,
            verbosity=0,
            on_event=lambda event: events.append(event.model_dump()),
            **run_options,
        )
    results = result["results"]
    return ProbeRun(
        outcomes=results["outcomes"] if isinstance(results, dict) else {},
        result=result,
        root_requests=[request for request in server.requests if ROOT_TASK in first_user_message(request)],
        stray_stdout_lines=stray_lines,
        events=events,
        log_lines=Path(result["log_file"]).read_text().splitlines(),
    )


def assert_the_root_kept_working(run: ProbeRun) -> None:
    """The root's REPL survived the probes: its next steps ran there, printed, FINALed."""
    assert len(run.root_requests) == 3
    assert run.root_requests[2]["messages"][-1]["content"].strip() == LEGIT_OBSERVATION
    assert run.result["results"]["after"] == 45
    assert '"event":"run_end","status":"ok"' in run.log_lines[-1].replace(" ", "")


def refused(outcome: str) -> bool:
    return not outcome.startswith("ALLOWED")
