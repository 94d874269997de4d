"""Agent code cannot read the API key, the host's environment or the engine's state.

The key travels to the engine in the start message and must reach only the model's Authorization
header; the host's environment (here a canary variable) must not reach the engine process at all,
and neither reaches a REPL process: agent code scanning everything it can see (its Python globals,
files, what `js` reaches, its interpreter's whole memory) finds neither.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.security.conftest import (
    API_KEY,
    HOST_CANARY_NAME,
    HOST_CANARY_VALUE,
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
    engine_process,
    outcome_value,
)

CONTEXT_CANARY = "context-canary-" + secrets.token_hex(16)

PROBES = f"""
import ctypes
import re

await probe("Deno.env.toObject()", lambda: js.Deno.env.toObject())
await probe("Deno.env.get(canary)", lambda: js.Deno.env.get("{HOST_CANARY_NAME}"))
await probe("process.env", lambda: js.process.env)
await probe("Deno.readTextFileSync(environ)", lambda: js.Deno.readTextFileSync("/proc/self/environ"))
await probe("open('/proc/self/environ')", lambda: open("/proc/self/environ").read())
await probe("os.environ", lambda: json.dumps(dict(os.environ)))
await probe("Function('return globalThis')", lambda: js.Object.constructor("return globalThis")())


def python_visible_text():
    texts = [repr(globals()), repr(dict(os.environ)), repr(sys.argv), repr(sys.path)]
    for root in ("/home", "/tmp"):
        for folder, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), errors="replace") as file:
                    texts.append(file.read())
    return "\\n".join(texts)


# Every property name and primitive value reachable from `js` through own data properties and
# prototypes (getters are not called; objects Pyodide cannot wrap, such as ArrayBuffer.prototype, are
# skipped).
def js_visible_text():
    from pyodide.ffi import JsProxy, jsnull

    texts, seen, pending = [], js.Set.new(), [js]
    while pending:
        scope = pending.pop()
        if seen.has(scope):
            continue
        seen.add(scope)
        try:
            keys = list(js.Object.getOwnPropertyNames(scope))
            pending.append(js.Object.getPrototypeOf(scope))
        except Exception:
            continue
        for key in keys:
            texts.append(str(key))
            try:
                value = js.Object.getOwnPropertyDescriptor(scope, key).value
            except Exception:
                continue
            if isinstance(value, JsProxy):
                pending.append(value)
            else:
                texts.append(str(value))
    return "\\n".join(texts)


# Strings shaped like the key, the host canary or the context canary anywhere in the interpreter's
# memory (its heap ends at sbrk(0)). The patterns do not match their own source text.
def interpreter_memory_matches():
    libc = ctypes.CDLL(None)
    libc.sbrk.restype = ctypes.c_void_p
    end = libc.sbrk(0)
    prefixes = (rb"sk-security-suite-", rb"host-canary-", rb"context-canary-")
    patterns = [re.compile(prefix + rb"[0-9a-f]{{32}}") for prefix in prefixes]
    found = set()
    chunk = 16 * 1024 * 1024
    for start in range(0, end, chunk):
        data = ctypes.string_at(start, min(chunk + 64, end - start))
        for pattern in patterns:
            found.update(match.decode() for match in pattern.findall(data))
    return json.dumps(sorted(found))


await probe("Python-visible text", python_visible_text)
await probe("JS-visible text", js_visible_text)
await probe("interpreter memory", interpreter_memory_matches)
"""

EXPECTED = {
    "Deno.env.toObject()": "AttributeError: Deno",
    "Deno.env.get(canary)": "AttributeError: Deno",
    "process.env": "AttributeError: process",
    "Deno.readTextFileSync(environ)": "AttributeError: Deno",
    # Pyodide's file system is in memory: it has no /proc/self/environ to give.
    "open('/proc/self/environ')": "FileNotFoundError: [Errno 44] No such file or directory",
    "Function('return globalThis')": (
        "JsException: EvalError: Code generation from strings disallowed for this context"
    ),
}


class EngineEnvironment:
    """Reads the engine process's real environment while it waits for the model's second reply."""

    def __init__(self) -> None:
        self.text = ""

    def __call__(self, call: int, request: dict) -> None:
        if call == 2:
            self.text = Path(f"/proc/{engine_process().pid}/environ").read_bytes().decode(errors="replace")


@pytest.fixture(scope="module")
def secrets_run(probe_runner):
    engine_environment = EngineEnvironment()
    run = probe_runner.run(PROBES, query=CONTEXT_CANARY, on_call=engine_environment)
    return run, engine_environment


@pytest.mark.parametrize("probe", EXPECTED)
def test_probe_is_refused_exactly(secrets_run, probe):
    run, _ = secrets_run
    assert run.outcomes[probe].startswith(EXPECTED[probe]), run.outcomes[probe]


@pytest.mark.parametrize(
    "probe", [*EXPECTED, "os.environ", "Python-visible text", "JS-visible text", "interpreter memory"]
)
def test_no_probe_sees_the_key_or_the_host_environment(secrets_run, probe):
    run, _ = secrets_run
    outcome = run.outcomes[probe]
    assert API_KEY not in outcome
    assert HOST_CANARY_VALUE not in outcome


def test_os_environ_is_pyodides_own(secrets_run):
    run, _ = secrets_run
    environ = json.loads(outcome_value(run.outcomes["os.environ"]))
    assert environ["HOME"] == "/home/pyodide"
    assert HOST_CANARY_NAME not in environ


def test_the_repl_cannot_see_the_protocol_token(secrets_run):
    run, _ = secrets_run
    (token,) = run.protocol_tokens
    for probe in ("Python-visible text", "JS-visible text"):
        text = outcome_value(run.outcomes[probe])
        assert len(text) > 1000, "the scan saw almost nothing: it did not run as intended"
        assert token not in text


def test_the_interpreters_memory_holds_neither_key_nor_host_variables(secrets_run):
    run, _ = secrets_run
    # The scan finds what is there (the agent's own context), and nothing shaped like the key or the
    # host canary.
    assert json.loads(outcome_value(run.outcomes["interpreter memory"])) == [CONTEXT_CANARY]


def test_the_engine_process_environment_holds_neither_key_nor_host_variables(secrets_run):
    _, engine_environment = secrets_run
    assert "DENO_DIR=" in engine_environment.text  # it is the engine's environment we read
    assert API_KEY not in engine_environment.text
    assert HOST_CANARY_NAME not in engine_environment.text
    assert HOST_CANARY_VALUE not in engine_environment.text


def test_key_stays_out_of_prompts_log_and_repl_and_the_agent_keeps_working(secrets_run):
    run, _ = secrets_run
    assert_no_secret_exposed(run)
    assert_nothing_left_loopback(run)
    assert_run_completed_with_legit_steps(run)
