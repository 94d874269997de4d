"""fast_rlm.fork(LOG, at=..., step=..., instruction=...): a new run from one agent's state at a step."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static

import fast_rlm
from fast_rlm.errors import ForkPointError
from fast_rlm.logs import cli as log_cli
from fast_rlm.logs.reader import LogIndex
from fast_rlm.scripted.server import agent_task, last_user_message, repl
from tests.conftest import config_for, events_of, read_log
from tests.scripted_server import is_root
from tests.sessions.replay_scenarios import CountingModel, SquaresModel
from tui import LogViewerApp


def test_a_fork_continues_from_the_agents_repl_state_with_the_instruction(scripted_server, capsys):
    server = scripted_server(CountingModel())
    recorded = fast_rlm.run("count", config=config_for(server), verbosity=0)
    assert recorded["results"] == 22 and server.request_count == 4

    forked = fast_rlm.fork(
        recorded["log_file"], at="root", step=2, instruction="finish now", config=config_for(server)
    )

    # Steps 1 and 2 ran again from the recording (counter = 21), then one live call finished.
    assert forked["results"] == 42
    assert server.request_count == 5
    assert last_user_message(server.requests[-1]) == "finish now"
    log = read_log(forked["log_file"])
    assert log[0]["forked_from"] == {"log": recorded["log_file"], "at": "root", "step": 2}
    calls = events_of(log, "llm_call")
    assert [bool(call.get("replayed")) for call in calls] == [True, True, False]
    assert calls[-1]["new_messages"][-1] == {"role": "user", "content": "finish now"}

    # The lineage, in fast-rlm-log and in the viewer.
    origin = f"forked from {recorded['log_file']} at root step 2"
    assert log_cli.main([forked["log_file"]]) == 0
    assert origin in capsys.readouterr().out
    assert origin in asyncio.run(_viewer_totals(forked["log_file"]))


async def _viewer_totals(log_file: str) -> str:
    app = LogViewerApp(LogIndex.open(log_file))
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        return str(app.query_one("#totals", Static).render())


def test_a_fork_at_a_helper_replays_its_siblings_and_goes_live_for_it(scripted_server):
    model = SquaresModel(3)
    server = scripted_server(model)
    recorded = fast_rlm.run("square them", config=config_for(server), verbosity=0)
    assert recorded["results"] == [0, 1, 4]

    def respond(request):
        if not is_root(request) and agent_task(request) == "square number 1":
            return repl("FINAL(100)") if "cube" in last_user_message(request) else model(request)
        return model(request)

    server.responder = respond
    sent_before = server.request_count
    forked = fast_rlm.fork(
        recorded["log_file"], at="root.1", step=0, instruction="cube it instead", config=config_for(server)
    )

    assert forked["results"] == [0, 100, 4]
    # root.1's call, then the root's second call (its step's output changed) went to the model.
    assert server.request_count - sent_before == 2
    assert forked["usage"]["replayed_calls"] == 3  # the root's first call, root.0 and root.2


def test_a_bad_fork_point_names_the_valid_choices(scripted_server):
    server = scripted_server(CountingModel())
    recorded = fast_rlm.run("count", config=config_for(server), verbosity=0)
    log_file = recorded["log_file"]

    with pytest.raises(
        ForkPointError, match=r"no model exchange of an agent 'root\.7'.*Agents with exchanges: root"
    ):
        fast_rlm.fork(log_file, at="root.7", step=1)
    with pytest.raises(ForkPointError, match=r"no step 9 to fork at\. Valid steps: 0, 1, 2, 3 "):
        fast_rlm.fork(log_file, at="root", step=9)
    with pytest.raises(ForkPointError, match="Valid steps: 0, 1, 2, 3 "):
        fast_rlm.fork(log_file, at="root", step=4)  # its FINAL: nothing left to continue
    with pytest.raises(ForkPointError, match="step must be an int"):
        fast_rlm.fork(log_file, at="root", step="2")
    assert server.request_count == 4
