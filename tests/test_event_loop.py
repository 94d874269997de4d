"""How agents' asyncio callbacks run in a REPL (engine/repl/ready_queue.py): in batches, one macrotask a
batch, yet no callback waits on another that suspended its stack, and none can stop the loop."""

from __future__ import annotations

import fast_rlm
from fast_rlm.scripted.server import repl
from tests.conftest import config_for

# The waiter suspends its whole stack (JSPI) until the opener, queued right behind it in the same
# batch, sets the gate. If queued callbacks waited for the batch to resume, this would never end.
GATED_TASKS = """
import asyncio
from pyodide.ffi import run_sync
gate = asyncio.get_event_loop().create_future()
async def waiter():
    run_sync(gate)
    return "waited"
async def opener():
    gate.set_result(None)
    return "opened"
tasks = [asyncio.ensure_future(waiter()), asyncio.ensure_future(opener())]
FINAL(await asyncio.gather(*tasks))
"""


def test_a_callback_suspended_through_jspi_does_not_hold_the_ones_queued_beside_it(scripted_server):
    server = scripted_server(lambda request: repl(GATED_TASKS))
    result = fast_rlm.run("q", config=config_for(server, step_timeout_s=20), verbosity=0)
    assert result["results"] == ["waited", "opened"]


# asyncio re-raises SystemExit out of a task's step, into the event loop itself.
STRAY_EXIT = """
import asyncio
async def leave():
    raise SystemExit(3)
asyncio.ensure_future(leave())
for _ in range(3):
    await asyncio.sleep(0)
FINAL("still here")
"""


def test_a_stray_task_raising_system_exit_does_not_stop_the_event_loop(scripted_server):
    server = scripted_server(lambda request: repl(STRAY_EXIT))
    result = fast_rlm.run("q", config=config_for(server, step_timeout_s=20), verbosity=0)
    assert result["results"] == "still here"
