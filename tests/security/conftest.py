"""Shared machinery of the security suite: one engine run carries a batch of probes.

A probe is agent code that attempts something the sandbox must refuse. The agent records exactly
what happened (the exception's type and message, or "ALLOWED: <value>") and FINALs the lot, so each
test asserts the precise refusal and, on the host, the absence of the effect.

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

import pytest

import fast_rlm
from fast_rlm.deno_setup import is_installed
from fast_rlm.engine_process import EngineRun
from fast_rlm.scripted_model import ScriptedModelServer, call_number, last_user_message, repl

API_KEY = "sk-security-suite-" + secrets.token_hex(16)
HOST_CANARY_NAME = "FAST_RLM_SECURITY_CANARY"
HOST_CANARY_VALUE = "host-canary-" + secrets.token_hex(16)
LEGIT_OBSERVATION = "legit step after probes: 45"
PROBE_RUN_TIMEOUT_S = 30  # a probe that hangs fails its module instead of hanging the suite

# `probe(name, action)` runs one attempt; an awaitable result (a JS promise, a coroutine) is awaited.
PROBE_PRELUDE = '''
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
        outcomes[name] = "ALLOWED: " + (value if isinstance(value, str) else repr(value))[:4000]
    except Exception as error:
        outcomes[name] = f"{type(error).__name__}: {error}"[:4000]


def import_from_module(specifier):
    """Dynamic import() issued from an ES module (a data: URL), so Deno's own resolver handles it."""
    module = "export const attempt = import(%s).then((m) => String(m.default ?? Object.keys(m)));"
    source = module % json.dumps(specifier)
    return js.eval("import(%s).then((m) => m.attempt)" % json.dumps("data:text/javascript," + source))
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
    requests: list[dict[str, Any]]  # what the scripted model received during this run
    authorization_headers: list[str]
    sentinel: LoopbackSentinel
    log_text: str
    protocol_tokens: set[str]
    # Lines on the engine's stdout that were not authentic protocol messages.
    stray_stdout_lines: list[str] = field(default_factory=list)

    def observation_after(self, call: int) -> str:
        """The observation the model received in request number `call` (1-based)."""
        return last_user_message(self.requests[call - 1])


class ProbeRunner:
    """Starts the scripted server and sentinel, isolates the environment, runs probe code."""

    def __init__(self, work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        if not is_installed():
            # Installing would fetch from the npm registry, and this suite reaches nothing off loopback.
            pytest.fail("The engine's dependencies are not installed: run `fast-rlm setup` first.")
        self.work_dir = work_dir
        self.sentinel = LoopbackSentinel()
        # One scripted model for the module's runs, which go one at a time: the root agent runs the
        # current probe code, then the legitimate step, then FINAL.
        self.server = ScriptedModelServer(self._respond).start()
        self._probe_code = ""
        self._on_call: Callable[[int, dict[str, Any]], None] | None = None
        monkeypatch.chdir(work_dir)
        monkeypatch.delenv("RLM_MODEL_API_KEY", raising=False)
        monkeypatch.delenv("RLM_MODEL_BASE_URL", raising=False)
        monkeypatch.setenv(HOST_CANARY_NAME, HOST_CANARY_VALUE)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, self.sentinel.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")

    def _respond(self, request: dict[str, Any]) -> str:
        call = call_number(request)
        if self._on_call is not None:
            self._on_call(call, request)
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
    ) -> ProbeRun:
        """One run whose first step is `probe_code`; `on_call(call_number, request)` sees each request."""
        self._probe_code = probe_code
        self._on_call = on_call
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
            result = fast_rlm.run(query, config=self.config(), verbosity=0, log_dir=self.work_dir)
        results = result["results"]
        return ProbeRun(
            outcomes=results["outcomes"] if isinstance(results, dict) else {},
            result=result,
            requests=self.server.requests[first_request:],
            authorization_headers=self.server.authorization_headers[first_request:],
            sentinel=self.sentinel,
            log_text=Path(result["log_file"]).read_text(),
            protocol_tokens=tokens,
            stray_stdout_lines=stray_lines,
        )

    def config(self) -> dict[str, Any]:
        return {
            "base_url": self.server.base_url,
            "api_key": API_KEY,
            "workers": 1,
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
    assert run.authorization_headers == [f"Bearer {API_KEY}"] * len(run.requests)
    exposed_places = {
        "prompts": json.dumps(run.requests),
        "log file": run.log_text,
        "REPL outcomes and result": json.dumps(run.result),
    }
    for place, text in exposed_places.items():
        assert API_KEY not in text, f"the API key appears in the {place}"
        assert HOST_CANARY_VALUE not in text, f"the host's environment appears in the {place}"


def assert_nothing_left_loopback(run: ProbeRun) -> None:
    assert run.sentinel.request_lines == [], "a request reached the sentinel (proxy or loopback target)"
