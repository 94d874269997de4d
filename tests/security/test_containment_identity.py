"""Issue 10, "agents cannot act as each other": an agent cannot complete, cancel or speak for another
agent's step, with anything reachable in its interpreter.

Before containment, a child on root's worker imported the runtime's host channel module and
completed root's step with its own value: the run returned the child's forgery. Now each agent's
line to the engine and each step's reporter are bound to it, and the engine accepts a message only
from the process it placed that agent on.

The impostor tries, in its own step: every step reporter it can find (gc scan of the runtime's
callbacks), every other agent's channel (the runtime's namespaces), cancelling every other step, and
writing a FINAL value into every other step's record. Root's result must be root's own, root's host
function must never run, and root's step must end as root's code ended it.
"""

from __future__ import annotations

import threading

import pytest

import fast_rlm
from fast_rlm.scripted_model import first_user_message, repl
from tests.conftest import config_for, events_of, read_log

IMPOSTOR = """
import gc
import json
import _rlm_runtime

mine = _rlm_runtime._current_step.get().step_id
forged = json.dumps({"stdout": "", "stderr": "", "error": None, "final_json": json.dumps("FORGED")})
tried = {"reporters": 0, "channels": 0, "cancelled": 0, "records": 0}

for found in gc.get_objects():
    if callable(found) and getattr(found, "__qualname__", "") == "start_step.<locals>.report_abort":
        cells = dict(zip(found.__code__.co_freevars, (cell.cell_contents for cell in found.__closure__)))
        if cells["step_id"] != mine:
            cells["reporter"].done(forged)
            tried["reporters"] += 1

request = json.dumps({"name": "root_only", "args": [], "kwargs": {}})
for agent_id, namespace in list(_rlm_runtime._namespaces.items()):
    channel = dict(zip(namespace["llm_query"].__code__.co_freevars,
                       (cell.cell_contents for cell in namespace["llm_query"].__closure__))).get("channel")
    if agent_id != context["me"] and channel is not None:
        try:
            await channel.request("host_function", request)
        except Exception:
            pass
        tried["channels"] += 1

for step_id, record in list(_rlm_runtime._steps_by_id.items()):
    if step_id != mine:
        record.final_json = json.dumps("FORGED")
        tried["records"] += 1
for step_id, task in list(_rlm_runtime._tasks_by_step_id.items()):
    if step_id != mine:
        _rlm_runtime.cancel_step(step_id)
        task.cancel()
        tried["cancelled"] += 1

FINAL(tried)
"""

ROOT = "child = await llm_query({'me': 'root.0'}, 'impostor')\nFINAL({'real': 'root', 'child': child})"
# The grandchild lands on root's REPL process: children are placed away from their parent, and with
# two processes that is the grandparent's.
ROOT_OF_A_CHAIN = "child = await llm_query(0, 'middle')\nFINAL({'real': 'root', 'child': child})"
MIDDLE = "FINAL(await llm_query({'me': 'root.0.0'}, 'impostor'))"


def _run(scripted_server, root_code: str):
    root_only_calls: list[int] = []
    lock = threading.Lock()

    def root_only() -> str:
        """Something only the root agent may do, on the host."""
        with lock:
            root_only_calls.append(1)
        return "done for root"

    def respond(request):
        task = first_user_message(request)
        if "impostor" in task:
            return repl(IMPOSTOR)
        if "middle" in task:
            return repl(MIDDLE)
        return repl(root_code)

    server = scripted_server(respond)
    result = fast_rlm.run(
        "q", config=config_for(server, workers=2, run_timeout_s=30), host_functions=[root_only], verbosity=0
    )
    return result, root_only_calls


@pytest.mark.parametrize(
    ("placement", "root_code"),
    [("a child, on the other REPL process", ROOT), ("a grandchild, on root's REPL process", ROOT_OF_A_CHAIN)],
)
def test_an_agent_cannot_complete_cancel_or_speak_for_roots_step(scripted_server, placement, root_code):
    result, root_only_calls = _run(scripted_server, root_code)

    assert isinstance(result["results"], dict) and result["results"]["real"] == "root", result["results"]
    assert root_only_calls == []
    root_steps = [
        step for step in events_of(read_log(result["log_file"]), "code_step") if step["agent_id"] == "root"
    ]
    assert len(root_steps) == 1 and root_steps[0]["error"] is None and root_steps[0]["final"] is True
