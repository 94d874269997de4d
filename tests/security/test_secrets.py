"""Agent code cannot read the API key, the host's environment or the main isolate's state.

The key travels to the engine in the start message and must reach only the model's Authorization
header; the host's environment (here a canary variable) must not reach the engine process at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.security.conftest import (
    API_KEY,
    HOST_CANARY_NAME,
    HOST_CANARY_VALUE,
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
    outcome_value,
)

PROBES = f"""
read_text = js.Deno.readTextFileSync
await probe("Deno.env.toObject()", lambda: js.Deno.env.toObject())
await probe("Deno.env.get(canary)", lambda: js.Deno.env.get("{HOST_CANARY_NAME}"))
NODE_ENV_READ = "JSON.stringify(Object.entries(process.env))"
await probe("process.env", lambda: js.eval(NODE_ENV_READ))
await probe("Deno.readTextFileSync('/proc/self/environ')", lambda: read_text("/proc/self/environ"))
await probe("open('/proc/self/environ')", lambda: open("/proc/self/environ").read())
await probe("os.environ", lambda: json.dumps(dict(os.environ)))
await probe("typeof Deno.stdout", lambda: js.eval("typeof Deno.stdout"))
await probe(
    "realm is a worker",
    lambda: js.eval("typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope"),
)


def python_visible_text():
    texts = [repr(globals()), repr(dict(os.environ)), repr(sys.argv), repr(sys.path)]
    for root in ("/home", "/tmp"):
        for folder, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), errors="replace") as file:
                    texts.append(file.read())
    return "\\n".join(texts)


JS_VISIBLE_TEXT = '''(() => {{
  const texts = [];
  const scopes = [globalThis, Deno, Deno[Deno.internal] ?? {{}}, Deno.build, Deno.version];
  for (const scope of scopes) {{
    for (const key of Reflect.ownKeys(scope)) {{
      texts.push(String(key));
      let value;
      try {{ value = scope[key]; }} catch {{ continue; }}
      const primitive = value === null || (typeof value !== "object" && typeof value !== "function");
      if (primitive) texts.push(String(value));
      else {{ try {{ texts.push(JSON.stringify(value) ?? ""); }} catch {{}} }}
    }}
  }}
  return texts.join("\\\\n");
}})()'''

await probe("Python-visible text", python_visible_text)
await probe("JS-visible text", lambda: js.eval(JS_VISIBLE_TEXT))
print("engine pid:", js.Deno.pid)
"""

EXPECTED = {
    "Deno.env.toObject()": "JsException: NotCapable: Requires env access, run again",
    "Deno.env.get(canary)": f'JsException: NotCapable: Requires env access to "{HOST_CANARY_NAME}"',
    "process.env": "JsException: TypeError: Cannot read properties of undefined (reading 'env')",
    "Deno.readTextFileSync('/proc/self/environ')": (
        'JsException: NotCapable: Requires read access to "/proc/self/environ"'
    ),
    # Pyodide's file system is in memory: it has no /proc/self/environ to give.
    "open('/proc/self/environ')": "FileNotFoundError: [Errno 44] No such file or directory",
    # The worker's main-isolate-only globals are sealed or absent: it is a worker realm of its own.
    "typeof Deno.stdout": "ALLOWED: undefined",
    "realm is a worker": "ALLOWED: True",
}


class EngineEnvironment:
    """Reads the engine process's real environment while it waits for the model's second reply."""

    def __init__(self) -> None:
        self.text: str | None = None

    def __call__(self, call: int, request: dict) -> None:
        if call != 2:
            return
        observation = request["messages"][-1]["content"]
        pid = re.search(r"engine pid: (\d+)", observation)
        assert pid, observation
        environ = Path(f"/proc/{pid.group(1)}/environ")
        self.text = environ.read_bytes().decode(errors="replace") if environ.exists() else ""


@pytest.fixture(scope="module")
def secrets_run(probe_runner):
    engine_environment = EngineEnvironment()
    run = probe_runner.run(PROBES, on_call=engine_environment)
    return run, engine_environment


@pytest.mark.parametrize("probe", EXPECTED)
def test_probe_is_refused_exactly(secrets_run, probe):
    run, _ = secrets_run
    assert run.outcomes[probe].startswith(EXPECTED[probe]), run.outcomes[probe]


@pytest.mark.parametrize("probe", [*EXPECTED, "os.environ", "Python-visible text", "JS-visible text"])
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


def test_the_engine_process_environment_holds_neither_key_nor_host_variables(secrets_run):
    _, engine_environment = secrets_run
    if not engine_environment.text:
        pytest.skip("this platform has no readable /proc/<pid>/environ")
    assert "DENO_DIR=" in engine_environment.text  # it is the engine's environment we read
    assert API_KEY not in engine_environment.text
    assert HOST_CANARY_NAME not in engine_environment.text
    assert HOST_CANARY_VALUE not in engine_environment.text


def test_key_stays_out_of_prompts_log_and_repl_and_the_agent_keeps_working(secrets_run):
    run, _ = secrets_run
    assert_no_secret_exposed(run)
    assert_nothing_left_loopback(run)
    assert_run_completed_with_legit_steps(run)
