"""Runaway agent code: every kind of step that will not end is stopped, and the run goes on."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log

STEP_TIMEOUT_S = 0.4

RUNAWAY_STEPS = {
    "busy loop": "while True:\n    pass",
    "swallows KeyboardInterrupt": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass"
    ),
    "time.sleep": "import time\ntime.sleep(600)",
    "asyncio.sleep": "import asyncio\nawait asyncio.sleep(600)",
}


def _then_recover(first_step: str):
    """The agent sets a variable, runs away, and then uses the variable in a normal step."""

    def respond(request):
        if call_number(request) == 1:
            return repl("kept = 41\n" + first_step)
        return repl("FINAL(kept + 1)")

    return respond


@pytest.mark.parametrize("kind", RUNAWAY_STEPS)
def test_runaway_step_is_stopped_and_the_agent_goes_on(scripted_server, kind):
    server = scripted_server(_then_recover(RUNAWAY_STEPS[kind]))
    result = fast_rlm.run("q", config=config_for(server, step_timeout_s=STEP_TIMEOUT_S), verbosity=0)

    assert result["results"] == 42  # the namespace survived the interrupted step
    observation = server.requests[1]["messages"][-1]["content"]
    assert "StepTimedOut" in observation and f"step_timeout_s={STEP_TIMEOUT_S}" in observation
    step = events_of(read_log(result["log_file"]), "code_step")[0]
    assert "StepTimedOut" in step["error"] and step["final"] is False


def test_time_awaiting_children_does_not_count_against_the_step(scripted_server):
    def respond(request):
        if "nap" in first_user_message(request):
            return repl("import asyncio\nawait asyncio.sleep(0.25)\nFINAL('rested')")
        return repl("FINAL([await llm_query(i, 'nap') for i in range(4)])")

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server, step_timeout_s=0.6), verbosity=0)
    # Four sequential children take about 1 s: longer than the root's step budget.
    assert result["results"] == ["rested"] * 4


def test_a_runaway_child_is_interrupted_while_siblings_queued_behind_it_are_overdue(scripted_server):
    """Steps dispatched together to one REPL process queue behind the runaway, and their clocks run
    from dispatch, so they are overdue too. The interrupt must still reach the runaway (not cost the
    process), and the siblings then finish in their own time."""
    children = 16

    def respond(request):
        task = first_user_message(request)
        if "runaway" in task:
            return repl("while True:\n    pass") if call_number(request) == 1 else repl("FINAL('stopped')")
        if "square" in task:
            return repl("FINAL(context * context)")
        calls = ", ".join(f"llm_query({n}, '{'runaway' if n == 3 else 'square'}')" for n in range(children))
        return repl(f"FINAL(await batch_llm_query({calls}, return_exceptions=True))")

    server = scripted_server(respond)
    config = config_for(server, step_timeout_s=STEP_TIMEOUT_S, workers=2, run_timeout_s=60)
    result = fast_rlm.run("q", config=config, verbosity=0)

    expected = [n * n for n in range(children)]
    expected[3] = "stopped"
    assert result["results"] == expected
    ends = events_of(read_log(result["log_file"]), "agent_end")
    assert all(end["status"] == "done" for end in ends)  # no process was replaced, no agent lost


def test_c_level_loop_costs_its_worker_and_siblings_survive(scripted_server):
    def respond(request):
        task = first_user_message(request)
        if "spin" in task:
            return repl("FINAL(sum(range(10**13)))")  # cannot be interrupted from Python
        if "double" in task:
            return repl("FINAL(context * 2)")
        if call_number(request) == 1:
            return repl(
                "calls = [llm_query(n, 'double') for n in range(5)] + [llm_query(0, 'spin')]\n"
                "results = await batch_llm_query(*calls, return_exceptions=True)\n"
                "after = await llm_query(21, 'double')\n"
                "shown = [r if isinstance(r, int) else type(r).__name__ + ': ' + str(r) for r in results]\n"
                "FINAL(shown + [after])"
            )
        return repl("FINAL('unreachable')")

    server = scripted_server(respond)
    # Two REPL processes: children are placed away from their parent, so the root outlives the one
    # that held the loop. (With one, the default on 2 cores, every agent on it is lost with it.)
    config = config_for(server, step_timeout_s=STEP_TIMEOUT_S, workers=2)
    result = fast_rlm.run("q", config=config, verbosity=0)

    values = result["results"]
    assert values[:5] == [0, 2, 4, 6, 8]
    assert values[5].startswith("LLMQueryError: ReplError:") and "REPL process was replaced" in values[5]
    assert values[6] == 42  # a child started after the restart runs on the new worker
    ends = {event["agent_id"]: event for event in events_of(read_log(result["log_file"]), "agent_end")}
    assert ends["root.5"]["status"] == "failed" and ends["root.5"]["error"]["type"] == "ReplError"


def test_run_timeout_ends_the_run_with_partial_results(scripted_server):
    def respond(request):
        if "quick" in first_user_message(request):
            return repl("FINAL('quick answer')")
        if call_number(request) == 1:
            return repl("first = await llm_query(1, 'quick')\nprint(first)")
        return repl("import asyncio\nawait asyncio.sleep(0.1)\nprint('still going')")

    server = scripted_server(respond)
    with pytest.raises(fast_rlm.errors.RunTimeoutError) as raised:
        fast_rlm.run(
            "q", config=config_for(server, run_timeout_s=1.5, max_calls_per_subagent=1000), verbosity=0
        )

    assert raised.value.partial_results == {"root.0": "quick answer"}
    assert raised.value.usage["llm_calls"] >= 2
    log = read_log(raised.value.log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["error"]["type"] == "RunTimeoutError"
