"""Issue 10, "agents cannot act as each other": an agent cannot complete, cancel or speak for another
agent's step, with anything reachable in its interpreter.

Before containment, a child on root's worker imported the runtime's host channel module and
completed root's step with its own value: the run returned the child's forgery. Now each agent's
line to the engine and each step's reporter are bound to it, and the engine accepts a message only
from the process it placed that agent on.

The impostor tries, in its own step: the old channel module (`_rlm_host`), every step reporter it
can find (gc scan of the runtime's callbacks), every other agent's channel (the runtime's
namespaces), cancelling every other step, and writing a FINAL value into every other step's record.
Root's result must be root's own, root's host function must never run, and root's step must end as
root's code ended it.

Placed on another REPL process (a child: children go away from their parent), the impostor finds
nothing of root's. An agent sharing root's interpreter (a grandchild, with two processes) could
reach all of the above: Python in one interpreter can introspect everything. The README's Sandbox
section says so; the guarantee is across processes.
"""

from __future__ import annotations

import threading

import pytest

import fast_rlm
from fast_rlm.scripted.server import first_user_message, repl
from tests.conftest import config_for, events_of, read_log

IMPOSTOR = """
import gc
import json
import sys
import _rlm_runtime

mine = _rlm_runtime._current_step.get().step_id
forged = json.dumps({"stdout": "", "stderr": "", "error": None, "final_json": json.dumps("FORGED")})
host_call = json.dumps({"name": "root_only", "args": [], "kwargs": {}})
tried = {}


def closure_of(function):
    cells = function.__closure__ or ()
    return dict(zip(function.__code__.co_freevars, (cell.cell_contents for cell in cells)))


async def attempt(name, action):
    try:
        result = action()
        if hasattr(result, "__await__"):
            await result
        tried[name] = tried.get(name, 0) + 1
    except Exception as error:
        tried[name] = f"{type(error).__name__}: {error}"[:200]


# The channel module agents could import before containment.
for step_id in range(1, 64):
    await attempt("_rlm_host.step_done", lambda: __import__("_rlm_host").step_done(step_id, forged))
as_root = ("root", "host_function", host_call)
await attempt("_rlm_host.request", lambda: __import__("_rlm_host").request(*as_root))
# Every step reporter in this interpreter: the runtime's done-callbacks hold them.
for found in gc.get_objects():
    if callable(found) and getattr(found, "__qualname__", "") == "start_step.<locals>.report_abort":
        if closure_of(found)["step_id"] != mine:
            await attempt("reporter.done", lambda: closure_of(found)["reporter"].done(forged))
# Every other agent's channel, from its namespace.
for agent_id, namespace in list(_rlm_runtime._namespaces.items()):
    if agent_id != context["me"]:
        channel = closure_of(namespace["llm_query"]).get("channel")
        await attempt("channel.request", lambda: channel.request("host_function", host_call))
# Every other step's record and task.
for step_id, record in list(_rlm_runtime._steps_by_id.items()):
    if step_id != mine:
        await attempt("record.final_json", lambda: setattr(record, "final_json", json.dumps("FORGED")))
for step_id, task in list(_rlm_runtime._tasks_by_step_id.items()):
    if step_id != mine:
        await attempt("cancel_step", lambda: _rlm_runtime.cancel_step(step_id))
        await attempt("task.cancel", lambda: task.cancel())

await impostor_done()
FINAL(tried)
"""

# Root starts a decoy child first, which stays until the impostor is done: placement by load alone
# would then put the impostor beside root (as before containment); children go to a process other
# than their parent's.
ROOT = """
import asyncio
decoy, child = await asyncio.gather(
    llm_query(0, 'decoy', tools=['impostor_done']),
    llm_query({'me': 'root.1'}, 'impostor', tools=['impostor_done']),
)
FINAL({'real': 'root', 'child': child})
"""


def _run(scripted_server, root_code: str):
    root_only_calls: list[int] = []
    lock = threading.Lock()
    impostor_finished = threading.Event()

    def root_only() -> str:
        """Something only the root agent may do, on the host."""
        with lock:
            root_only_calls.append(1)
        return "done for root"

    def impostor_done(wait: bool = False) -> None:
        """The impostor calls it when done; the decoy, with wait=True, waits for that."""
        if wait:
            assert impostor_finished.wait(20)
        else:
            impostor_finished.set()

    def respond(request):
        task = first_user_message(request).splitlines()[0]  # "Task: <instruction>"
        if task == "Task: impostor":
            return repl(IMPOSTOR)
        if task == "Task: decoy":
            return repl("await impostor_done(wait=True)\nFINAL('decoy')")
        return repl(root_code)

    server = scripted_server(respond)
    result = fast_rlm.run(
        "q",
        config=config_for(server, workers=2, run_timeout_s=30),
        host_functions=[root_only, impostor_done],
        verbosity=0,
    )
    return result, root_only_calls


PLACEMENTS = {"a child, on another REPL process": ROOT}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_agent_cannot_complete_cancel_or_speak_for_roots_step(scripted_server, placement):
    result, root_only_calls = _run(scripted_server, PLACEMENTS[placement])

    assert isinstance(result["results"], dict) and result["results"]["real"] == "root", result["results"]
    assert root_only_calls == []
    root_steps = [
        step for step in events_of(read_log(result["log_file"]), "code_step") if step["agent_id"] == "root"
    ]
    assert len(root_steps) == 1 and root_steps[0]["error"] is None and root_steps[0]["final"] is True
