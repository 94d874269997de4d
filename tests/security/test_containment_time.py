"""Issue 10, attack 6: work a step leaves running cannot hang the run past every limit.

Before containment, a task left running by a step (`asyncio.ensure_future` of a loop that never
awaits) held the worker; the next step never started, so its clock never started, and with
`run_timeout_s: null` the run hung forever. Now a step's clock starts when the engine dispatches it,
tasks a finished step leaves behind are cancelled, and leftover work that holds the interpreter
is interrupted (at worst its process is replaced): the run ends, with run_timeout_s unset.
"""

from __future__ import annotations

import time

import pytest

import fast_rlm
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for

STEP_TIMEOUT_S = 1.0
BOUND_S = 15.0  # well past step_timeout_s and a process replacement; a hang is caught at the timeout

BUSY = """
import asyncio
import js
from pyodide.ffi import create_once_callable

loop = asyncio.get_event_loop()


async def busy():
    while True:
        pass


def busy_function(*_):
    while True:
        pass
"""

LEFTOVERS = {
    "asyncio.ensure_future": "asyncio.ensure_future(busy())",
    "asyncio.Task": "asyncio.Task(busy())",  # not made through the loop's create_task
    "loop.call_soon": "loop.call_soon(busy_function)",
    "all of them": (
        "asyncio.ensure_future(busy())\nasyncio.Task(busy())\nloop.call_soon(busy_function)\n"
        "js.Promise.resolve(0).then(create_once_callable(busy_function))"
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("leftover", LEFTOVERS)
def test_work_left_running_by_a_step_does_not_hang_the_run(scripted_server, leftover):
    def respond(request):
        if call_number(request) == 1:
            return repl(BUSY + LEFTOVERS[leftover] + "\nprint('left it running')")
        return repl("FINAL('the next step ran')")

    server = scripted_server(respond)
    config = config_for(server, workers=1, step_timeout_s=STEP_TIMEOUT_S, run_timeout_s=None)
    started = time.monotonic()
    result = fast_rlm.run("q", config=config, verbosity=0)

    assert result["results"] == "the next step ran"
    assert time.monotonic() - started < BOUND_S


# Work no interrupt stops: only replacing its process ends it.
C_LEVEL_LEFTOVER = """
async def c_level_busy():
    sum(range(10 ** 13))

asyncio.Task(c_level_busy())
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("leftover", ["Python-level", "C-level"])
def test_work_a_child_leaves_running_after_final_does_not_block_the_next_child(scripted_server, leftover):
    """Both children land on the same REPL process (the one their parent is not on); no step runs
    there while the second child waits for its namespace."""
    left = LEFTOVERS["all of them"] if leftover == "Python-level" else C_LEVEL_LEFTOVER

    def respond(request):
        task = first_user_message(request)
        if "leave work behind" in task:
            return repl(BUSY + left + "\nFINAL('left it running')")
        if "come after" in task:
            return repl("FINAL('ran after')")
        return repl("FINAL([await llm_query(1, 'leave work behind'), await llm_query(2, 'come after')])")

    server = scripted_server(respond)
    config = config_for(server, workers=2, step_timeout_s=STEP_TIMEOUT_S, run_timeout_s=None)
    started = time.monotonic()
    result = fast_rlm.run("q", config=config, verbosity=0)

    assert result["results"] == ["left it running", "ran after"]
    assert time.monotonic() - started < BOUND_S
