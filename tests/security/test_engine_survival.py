"""Agent code cannot end the engine, and ending its own REPL process costs only that process.

Agent code has no JavaScript to call Deno.exit or Deno.kill with, so exit attempts from Python's
`js` module fail at the first attribute. It can still crash its own interpreter (os.kill of its own
emulated pid, os._exit, a segfault; os.system in test_processes.py), and each of those ends its REPL
process. The engine must fail exactly the agent that lived there, start a replacement, and let the
run go on: each attempt runs in a helper agent on the second REPL process, one after the other, and
the root agent records how each ended, then keeps working on its own, untouched, process.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
    repl_lost,
)

SELF_KILLS = {
    "os.kill(own pid, SIGKILL)": "await probe('kill', lambda: os.kill(os.getpid(), 9))",
    "os._exit(3)": "await probe('exit', lambda: os._exit(3))",
    "faulthandler._sigsegv()": "import faulthandler\nawait probe('fault', lambda: faulthandler._sigsegv())",
}
# After the kills, a helper on the replacement process works normally.
CONTROL_CHILD = {"control": "await probe('sum', lambda: sum(range(10)))"}

PROBES = """
await probe("Deno.exit(1)", lambda: js.Deno.exit(1))
await probe("close()", lambda: js.close())
await probe("process.exit(1)", lambda: js.process.exit(1))
await probe("Deno.kill(Deno.pid, 'SIGKILL')", lambda: js.Deno.kill(js.Deno.pid, "SIGKILL"))
await probe("Function('Deno.exit(1)')", lambda: js.Object.constructor("Deno.exit(1)")())
await probe("forged step_done via postMessage", lambda: js.postMessage(js.Object.new()))
await probe("import _rlm_host (the former host channel)", lambda: __import__("_rlm_host"))
await probe("sys.exit(1)", lambda: sys.exit(1))
"""
PROBES += "".join(f"await probe_child({name!r})\n" for name in [*SELF_KILLS, *CONTROL_CHILD])

CODE_GENERATION_REFUSED = "JsException: EvalError: Code generation from strings disallowed for this context"
EXPECTED = {
    "Deno.exit(1)": "AttributeError: Deno",
    "close()": "AttributeError: close",
    "process.exit(1)": "AttributeError: process",
    "Deno.kill(Deno.pid, 'SIGKILL')": "AttributeError: Deno",
    "Function('Deno.exit(1)')": CODE_GENERATION_REFUSED,
    "forged step_done via postMessage": "AttributeError: postMessage",
    "import _rlm_host (the former host channel)": "ModuleNotFoundError: No module named '_rlm_host'",
    "sys.exit(1)": "SystemExit: 1",  # an exception in the agent's own step, nothing more
}


@pytest.fixture(scope="module")
def survival_run(probe_runner):
    return probe_runner.run(PROBES, child_probes={**SELF_KILLS, **CONTROL_CHILD}, workers=2)


@pytest.mark.parametrize("probe", EXPECTED)
def test_exit_attempt_has_no_effect(survival_run, probe):
    assert survival_run.outcomes[probe] == EXPECTED[probe]


@pytest.mark.parametrize("attempt", SELF_KILLS)
def test_a_helper_ending_its_own_repl_process_fails_with_a_typed_error(survival_run, attempt):
    helper_id = f"root.{list(SELF_KILLS).index(attempt)}"  # helpers are numbered in start order
    assert survival_run.outcomes[attempt] == repl_lost(helper_id)
    # The helper's step never got as far as recording an outcome of its own.
    assert not any(name.startswith(attempt + " / ") for name in survival_run.outcomes)


def test_the_replacement_process_serves_the_next_helper(survival_run):
    assert survival_run.outcomes["control"] == "child finished"
    assert survival_run.outcomes["control / sum"] == "ALLOWED: 45"


def test_the_run_finishes_normally_after_exit_attempts(survival_run):
    # The root agent's namespace lived through every kill: its FINAL step reads `outcomes` from its
    # first step.
    assert sorted(survival_run.outcomes) == sorted([*EXPECTED, *SELF_KILLS, *CONTROL_CHILD, "control / sum"])
    assert_no_secret_exposed(survival_run)
    assert_nothing_left_loopback(survival_run)
    assert_run_completed_with_legit_steps(survival_run)
