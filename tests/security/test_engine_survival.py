"""Agent code cannot end the engine (or its own worker) and so cannot end the run early.

Each attempt is followed by the agent's legitimate steps on the same REPL: the run must finish
normally, with the values those steps computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fast_rlm.errors import AgentError
from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
)

PROBES = """
await probe("Deno.exit(1)", lambda: js.Deno.exit(1))
await probe("close()", lambda: js.close())
await probe("self.close()", lambda: js.eval("self.close()"))
await probe("process.exit(1)", lambda: js.eval("process.exit(1)"))
"""

EXPECTED = {
    "Deno.exit(1)": "TypeError: Expected callable",  # sealed: Deno.exit is undefined
    "close()": "TypeError: 'NoneType' object is not callable",  # sealed: close is undefined
    "self.close()": "JsException: TypeError: self.close is not a function",
    "process.exit(1)": "JsException: TypeError: Cannot read properties of undefined (reading 'exit')",
}


@pytest.fixture(scope="module")
def survival_run(probe_runner):
    return probe_runner.run(PROBES)


@pytest.mark.parametrize("probe", EXPECTED)
def test_exit_attempt_has_no_effect(survival_run, probe):
    assert survival_run.outcomes[probe] == EXPECTED[probe]


def test_the_run_finishes_normally_after_exit_attempts(survival_run):
    assert_no_secret_exposed(survival_run)
    assert_nothing_left_loopback(survival_run)
    assert_run_completed_with_legit_steps(survival_run)


# Deno lets a worker without `run` permission signal its own process (Deno.pid), so Deno.kill and
# process are sealed in workers.
@pytest.mark.parametrize(
    "attempt",
    ["js.Deno.kill(js.Deno.pid, 'SIGKILL')", "js.eval(\"process.kill(process.pid, 'SIGKILL')\")"],
)
def test_signalling_the_engine_process_does_not_end_the_run(probe_runner, attempt):
    run = probe_runner.run(f'await probe("kill", lambda: {attempt})')
    assert not run.outcomes["kill"].startswith("ALLOWED")
    assert_run_completed_with_legit_steps(run)


FORGED_STEP_DONE = """
def forge_step_done():
    for step_id in range(50):
        forged = {"kind": "step_done", "stepId": step_id, "outcomeJson": "not json"}
        js.postMessage(js.JSON.parse(json.dumps(forged)))
    return "posted"


await probe("forged step_done", forge_step_done)
"""


def test_a_forged_worker_message_does_not_end_the_run(probe_runner):
    # The worker's postMessage is sealed; the pool also survives an unreadable step result.
    run = probe_runner.run(FORGED_STEP_DONE)
    assert run.outcomes["forged step_done"] == "TypeError: 'NoneType' object is not callable"
    assert_run_completed_with_legit_steps(run)


def test_an_agent_crashing_its_own_worker_gets_a_typed_error_and_the_engine_survives(probe_runner):
    """An unhandled rejection in the worker's JS crashes the worker. The engine must notice at once and
    end the agent with a typed error (or recover it), closing the log: never die with the worker, never
    wait for the run timeout."""
    crash = 'await probe("unhandled rejection", lambda: js.eval("Promise.reject(new Error(\'crash\')); 1"))'
    try:
        run = probe_runner.run(crash)
    except AgentError as error:
        # "... its worker crashed: Uncaught (in promise) Error: crash" if the crash lands during the
        # probe step, "... when its worker was restarted" if it lands after it.
        assert "agent root's REPL was lost" in str(error)
        log_end = json.loads(Path(error.log_file).read_text().splitlines()[-1])
        assert log_end["event"] == "run_end" and log_end["status"] != "ok"
    else:
        assert_run_completed_with_legit_steps(run)
