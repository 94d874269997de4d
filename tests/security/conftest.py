"""Shared machinery of the security suite: one engine run carries a batch of probes.

A probe is agent code that attempts something the sandbox must refuse. The agent records exactly
what happened (the exception's type and message, or "ALLOWED: <value>") and FINALs the lot, so each
test asserts the precise refusal and, on the host, the absence of the effect.

Agent code runs in a REPL process of its own (engine/repl/): Python's `js` module is an allow-listed
globals object, so most attempts to reach JavaScript fail at the first attribute. What a REPL
process could do if agent code did reach JavaScript is tested directly, by launching one with the
engine's own command (test_repl_process_permissions.py).

A probe that may cost its REPL process (os.system crashes the interpreter, say) runs in a helper
agent: `await probe_child(name)` starts one whose code is the runner's `child_probes[name]`. With
two REPL processes the helper lands on the one its parent does not use, so the root agent survives
to record the helper's fate and go on.

Every probe run has the same shape, three model calls of the root agent:
  1. the probes (prelude below + the module's probe code), stored in `outcomes`;
  2. a legitimate step that prints a computed value (seen in the next request's observation);
  3. FINAL({"outcomes": outcomes, "after": <computed>}).
So every run also proves the agent's REPL still works right after the attempts.

Nothing here may reach beyond 127.0.0.1, even if a protection were missing: the engine gets a
loopback sentinel as its HTTP(S) proxy (the engine passes the proxy variables through), so any
attempt at an outside host (npm registry, example.com) lands on the sentinel and is counted.

The host's reader of the engine's stdout (EngineRun._authentic) is wrapped for each run to record
every line that was not an authentic protocol message, and the run's protocol token.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

import fast_rlm
from fast_rlm.host.deno_setup import is_installed
from fast_rlm.host.engine_process import EngineRun
from fast_rlm.host.resources import engine_dir
from fast_rlm.scripted.server import (
    ScriptedModelServer,
    call_number,
    first_user_message,
    last_user_message,
    repl,
)

API_KEY = "sk-security-suite-" + secrets.token_hex(16)
HOST_CANARY_NAME = "FAST_RLM_SECURITY_CANARY"
HOST_CANARY_VALUE = "host-canary-" + secrets.token_hex(16)
LEGIT_OBSERVATION = "legit step after probes: 45"
PROBE_RUN_TIMEOUT_S = 30  # a probe that hangs fails its module instead of hanging the suite

CHILD_INSTRUCTION = "security probe child: "

# `probe(name, action)` runs one attempt; an awaitable result (a JS promise, a coroutine) is awaited.
# Every attempt, JS attribute lookups included, happens inside `action`, so one refusal cannot stop
# the probes after it.
PROBE_PRELUDE = f'''
import inspect as _inspect
import json
import os
import sys

import js

outcomes = {{}}


async def probe(name, action):
    try:
        value = action()
        if _inspect.isawaitable(value):
            value = await value
        outcomes[name] = "ALLOWED: " + (value if isinstance(value, str) else repr(value))[:4000]
    except (Exception, SystemExit) as error:
        outcomes[name] = f"{{type(error).__name__}}: {{error}}"[:4000]


async def probe_child(name, data=None):
    """Runs the child probe `name` in a helper agent whose context is `data`. outcomes[name] says how
    the helper ended; its own outcomes join ours as "name / probe"."""
    try:
        child_outcomes = await llm_query(data, instruction={CHILD_INSTRUCTION!r} + name)
    except LLMQueryError as error:
        outcomes[name] = f"LLMQueryError: {{error}}"
        return
    outcomes[name] = "child finished"
    for probe_name, outcome in child_outcomes.items():
        outcomes[name + " / " + probe_name] = outcome
'''

LEGIT_STEP = "print('legit step after probes:', sum(range(10)))"
FINAL_STEP = "FINAL({'outcomes': outcomes, 'after': sum(range(10))})"


class LoopbackSentinel:
    """An HTTP server on 127.0.0.1 that answers 502 to everything and records each request line.

    It serves as the engine's HTTP(S) proxy and as a loopback target: any request it sees is one
    the sandbox should have stopped.
    """

    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self._lock = threading.Lock()
        sentinel = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _refuse(self) -> None:
                with sentinel._lock:
                    sentinel.request_lines.append(self.requestline)
                self.send_error(502)

            do_GET = do_POST = do_PUT = do_HEAD = do_OPTIONS = do_CONNECT = _refuse

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class ProbeRun:
    """What one probe run left behind, on both sides of the sandbox."""

    outcomes: dict[str, str]
    result: dict[str, Any]
    requests: list[dict[str, Any]]  # what the scripted model received for the root agent
    child_requests: list[dict[str, Any]]  # ... and for helper agents (probe_child)
    authorization_headers: list[str]  # of every request, root's and helpers'
    sentinel: LoopbackSentinel
    log_text: str
    protocol_tokens: set[str]
    # Lines on the engine's stdout that were not authentic protocol messages.
    stray_stdout_lines: list[str] = field(default_factory=list)

    def observation_after(self, call: int) -> str:
        """The observation the root agent's model received in its request number `call` (1-based)."""
        return last_user_message(self.requests[call - 1])


def is_child_request(request: dict[str, Any]) -> bool:
    return CHILD_INSTRUCTION in first_user_message(request)


class ProbeRunner:
    """Starts the scripted server and sentinel, isolates the environment, runs probe code."""

    def __init__(self, work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        if not is_installed():
            # Installing would fetch from the npm registry, and this suite reaches nothing off loopback.
            pytest.fail("The engine's dependencies are not installed: run `fast-rlm setup` first.")
        self.work_dir = work_dir
        self.sentinel = LoopbackSentinel()
        # One scripted model for the module's runs, which go one at a time: the root agent runs the
        # current probe code, then the legitimate step, then FINAL; a helper runs its child probe and
        # FINALs its outcomes in one step.
        self.server = ScriptedModelServer(self._respond).start()
        self._probe_code = ""
        self._child_probes: dict[str, str] = {}
        self._on_call: Callable[[int, dict[str, Any]], None] | None = None
        self._on_call_errors: list[Exception] = []
        monkeypatch.chdir(work_dir)
        monkeypatch.delenv("RLM_MODEL_API_KEY", raising=False)
        monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.delenv("RLM_MODEL_BASE_URL", raising=False)
        monkeypatch.setenv(HOST_CANARY_NAME, HOST_CANARY_VALUE)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, self.sentinel.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")

    def _respond(self, request: dict[str, Any]) -> str:
        if is_child_request(request):
            first = first_user_message(request)
            (code,) = [code for name, code in self._child_probes.items() if CHILD_INSTRUCTION + name in first]
            return repl(PROBE_PRELUDE + "\n" + code + "\nFINAL(outcomes)")
        call = call_number(request)
        if self._on_call is not None:
            try:
                self._on_call(call, request)
            except Exception as error:  # raised again by run(): here it would only drop the connection
                self._on_call_errors.append(error)
        if call == 1:
            return repl(PROBE_PRELUDE + "\n" + self._probe_code)
        if call == 2:
            return repl(LEGIT_STEP)
        return repl(FINAL_STEP)

    def run(
        self,
        probe_code: str,
        query: Any = "probe the sandbox",
        on_call: Callable[[int, dict[str, Any]], None] | None = None,
        child_probes: dict[str, str] | None = None,
        workers: int = 1,
    ) -> ProbeRun:
        """One run whose first step is `probe_code`; `on_call(call_number, request)` sees each of the
        root agent's requests; `child_probes` are the codes `probe_child(name)` runs; `workers` is the
        number of REPL processes."""
        self._probe_code = probe_code
        self._child_probes = child_probes or {}
        self._on_call = on_call
        self._on_call_errors = []
        first_request = self.server.request_count
        stray_lines: list[str] = []
        tokens: set[str] = set()
        authentic = EngineRun._authentic

        def recording_authentic(engine: EngineRun, line: str | bytes) -> dict[str, Any] | None:
            message = authentic(engine, line)
            tokens.add(engine._protocol_token)
            if message is None:
                stray_lines.append(line.decode(errors="replace") if isinstance(line, bytes) else line)
            return message

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(EngineRun, "_authentic", recording_authentic)
            result = fast_rlm.run(query, config=self.config(workers), verbosity=0, log_dir=self.work_dir)
        if self._on_call_errors:
            raise self._on_call_errors[0]
        results = result["results"]
        requests = self.server.requests[first_request:]
        return ProbeRun(
            outcomes=results["outcomes"] if isinstance(results, dict) else {},
            result=result,
            requests=[request for request in requests if not is_child_request(request)],
            child_requests=[request for request in requests if is_child_request(request)],
            authorization_headers=self.server.authorization_headers[first_request:],
            sentinel=self.sentinel,
            log_text=Path(result["log_file"]).read_text(),
            protocol_tokens=tokens,
            stray_stdout_lines=stray_lines,
        )

    def config(self, workers: int = 1) -> dict[str, Any]:
        return {
            "base_url": self.server.base_url,
            "api_key": API_KEY,
            "workers": workers,
            "run_timeout_s": PROBE_RUN_TIMEOUT_S,
        }

    def close(self) -> None:
        self.server.stop()
        self.sentinel.stop()


@pytest.fixture(scope="module")
def probe_runner(tmp_path_factory: pytest.TempPathFactory):
    """Module-scoped, so one engine run can serve every assertion of a module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        runner = ProbeRunner(tmp_path_factory.mktemp("security"), monkeypatch)
        yield runner
        runner.close()


def repl_lost(agent_id: str) -> str:
    """How a helper whose REPL process died ends, as its parent sees it: an interpreter's fatal error
    ends its worker, and the supervisor then ends the process (exit code 70)."""
    return f"LLMQueryError: ReplError: agent {agent_id}'s REPL was lost: its REPL process exited (code 70)"


def outcome_value(outcome: str) -> str:
    """The value part of an "ALLOWED: <value>" outcome."""
    assert outcome.startswith("ALLOWED: "), outcome
    return outcome.removeprefix("ALLOWED: ")


def assert_run_completed_with_legit_steps(run: ProbeRun) -> None:
    """The agent's steps after the probes ran for real: printed, observed, FINALed."""
    assert len(run.requests) == 3
    assert run.observation_after(3).strip() == LEGIT_OBSERVATION
    assert run.result["results"]["after"] == 45
    log_end = json.loads(run.log_text.splitlines()[-1])
    assert log_end["event"] == "run_end" and log_end["status"] == "ok"


def assert_no_secret_exposed(run: ProbeRun) -> None:
    """The API key reached the model server's Authorization header and nowhere else we can see."""
    assert run.authorization_headers == [f"Bearer {API_KEY}"] * (len(run.requests) + len(run.child_requests))
    exposed_places = {
        "prompts": json.dumps(run.requests + run.child_requests),
        "log file": run.log_text,
        "REPL outcomes and result": json.dumps(run.result),
    }
    for place, text in exposed_places.items():
        assert API_KEY not in text, f"the API key appears in the {place}"
        assert HOST_CANARY_VALUE not in text, f"the host's environment appears in the {place}"


def assert_nothing_left_loopback(run: ProbeRun) -> None:
    assert run.sentinel.request_lines == [], "a request reached the sentinel (proxy or loopback target)"


def engine_process() -> psutil.Process:
    """The engine of the run in progress: the Deno child of this process that runs engine/main.ts."""
    main_module = str(engine_dir() / "main.ts")
    engines = [child for child in psutil.Process().children() if child.cmdline()[-1:] == [main_module]]
    assert len(engines) == 1, f"expected one running engine, found {engines}"
    return engines[0]


def repl_processes(engine: psutil.Process) -> list[psutil.Process]:
    """The engine's REPL processes: its Deno children that run engine/repl/supervisor.ts."""
    supervisor = str(engine_dir() / "repl" / "supervisor.ts")
    return [child for child in engine.children() if child.cmdline()[-1:] == [supervisor]]
