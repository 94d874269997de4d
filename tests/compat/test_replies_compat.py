"""Replies with several ```repl blocks run them all, in order, as 0.5.0 did: each is a step of its own
in the log, they stop at the first error or FINAL, and the model gets one observation for them all.
An observation over truncate_len keeps its start and its end, where a traceback is."""

from __future__ import annotations

import asyncio

from textual.widgets import Static

import fast_rlm
from fast_rlm.logs.reader import LogIndex
from fast_rlm.scripted.server import call_number, repl
from tests.conftest import config_for, events_of, read_log
from tui import LogViewerApp
from tui.steps import TurnView


def _script(*replies: str):
    def respond(request):
        return replies[min(call_number(request), len(replies)) - 1]

    return respond


def _observations(server) -> list[str]:
    return [request["messages"][-1]["content"] for request in server.requests[1:]]


def test_blocks_run_in_order_until_one_raises(scripted_server):
    first_reply = (
        "Let me look first.\n"
        + repl("total = 40\nprint('one')")
        + "\nthen\n"
        + repl("total += 2\nprint('two')\nraise ValueError('stop here')")
        + repl("print('three')")
    )
    server = scripted_server(
        _script(first_reply, repl("print(total)") + repl("FINAL(total)") + repl("FINAL(0)"))
    )
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == 42  # the blocks shared the namespace; FINAL stopped the last one
    first = _observations(server)[0]
    assert first.startswith("[block 1]\none\n[block 2]\ntwo\n\n[error]\nTraceback")
    assert first.endswith(
        "ValueError: stop here\n[block 2 raised an error, so the 1 block after it did not run]"
    )
    assert "three" not in first
    steps = events_of(read_log(result["log_file"]), "code_step")
    assert [(step["step"], step["stdout"], step["final"]) for step in steps] == [
        (1, "one\n", False),
        (2, "two\n", False),
        (3, "42\n", False),
        (4, "", True),
    ]
    assert "stop here" in steps[1]["error"]
    llm_calls = events_of(read_log(result["log_file"]), "llm_call")
    assert len(llm_calls) == 2  # both replies' blocks ran within one model call each


def test_log_reader_sees_every_block_as_a_step(scripted_server):
    server = scripted_server(_script(repl("a = 1") + repl("b = a + 1") + repl("FINAL(b)")))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == 2
    index = LogIndex.open(result["log_file"])
    [turn] = index.agent_turns("root")
    assert [step.step for step in turn.steps] == [1, 2, 3]
    assert turn.steps[-1].final


def test_truncated_output_keeps_the_error_at_its_end(scripted_server):
    noisy = repl(
        "print('start of output')\nfor n in range(2000):\n    print(n)\nraise KeyError('the missing key')"
    )
    server = scripted_server(_script(noisy, repl("FINAL('seen')")))
    fast_rlm.run("q", config=config_for(server, truncate_len=400), verbosity=0)

    observation = _observations(server)[0]
    assert observation.startswith("start of output\n0\n1\n")
    assert "more characters truncated from the middle" in observation
    assert observation.endswith("KeyError: 'the missing key'")
    assert len(observation) < 400 + 100


def test_the_log_viewer_shows_every_block_of_a_reply(scripted_server):
    reply = "Two steps at once.\n" + repl("a = 20\nprint('first block')") + "\nand\n" + repl("FINAL(a + 1)")
    server = scripted_server(_script(reply))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    async def shown() -> list[str]:
        app = LogViewerApp(result["log_file"])
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            [turn_view] = list(app.query(TurnView))
            return [str(widget.render()) for widget in turn_view.query(Static)]

    texts = asyncio.run(shown())
    assert "Two steps at once.\nand" in texts
    titles = [text for text in texts if text.startswith("step ")]
    assert len(titles) == 2 and titles[0].startswith("step 1") and titles[1].startswith("step 2")
    assert "FINAL" in titles[1]
    assert "first block" in texts
