"""A REPL process that dies costs exactly the agents placed on it: they fail with ReplError, their
parents see it, a replacement starts, and the run goes on. Also pins the design: REPL processes are
a pool shared by agents, not one per agent.

Real engine, real Pyodide, real processes; only the model is scripted. Agents meet at points of
the run through host functions (tests/repl_processes.py), never by sleeping.
"""

from __future__ import annotations

import threading

import pytest

import fast_rlm
from fast_rlm.scripted.server import first_user_message, repl
from tests.conftest import config_for, events_of, read_log
from tests.repl_processes import (
    INTERPRETER_TOKEN_CODE,
    WAIT_TIMEOUT_S,
    CrashStage,
    all_engine_descendants,
    repl_processes,
    wait_for_any_exit,
)

CHILDREN = 6
CRASHING_CHILD = 1
STAGE_TOOLS = ["checkin", "crash_seen", "kill_my_process"]

# How a child ends its own REPL process, and what the ReplError its parent sees says about it.
CRASHES = {
    "os._exit": ("import os\nos._exit(3)", {}, "exited (code"),
    "SIGKILL from outside": (
        "ballast = b'\\x01' * (300 << 20)\nawait kill_my_process()",
        {},
        "signal SIGKILL",
    ),
    "Python memory": (
        "grown = []\nwhile True:\n    grown.append(bytearray(50 << 20))",
        {"repl_memory_mb": 600},
        "repl_memory_mb=600",
    ),
    "JS memory": (
        "import js\ngrown = js.Array.new()\nwhile True:\n    grown.push(js.Array.new(1000000).fill(1.5))",
        {"repl_memory_mb": 600},
        "repl_memory_mb=600",
    ),
}


def _crash_among_children(crash_code: str):
    def respond(request):
        task = first_user_message(request)
        if "stage child" in task:
            return repl(
                INTERPRETER_TOKEN_CODE
                + "if await checkin(context, token):\n"
                + "".join(f"    {line}\n" for line in crash_code.splitlines())
                + "await crash_seen()\nFINAL(context * 10)"
            )
        if "after the crash" in task:
            return repl("FINAL(context + 100)")
        return repl(
            f"calls = [llm_query(i, 'stage child', tools={STAGE_TOOLS!r}) for i in range({CHILDREN})]\n"
            "results = await batch_llm_query(*calls, return_exceptions=True)\n"
            "shown = [r if isinstance(r, int) else f'{type(r).__name__}: {r}' for r in results]\n"
            "after = await batch_llm_query(*[llm_query(i, 'after the crash') for i in range(4)])\n"
            "FINAL({'children': shown, 'after': after, 'pids': await repl_pids()})"
        )

    return respond


@pytest.mark.timeout(60)
@pytest.mark.parametrize("crash", CRASHES)
def test_a_dead_repl_process_costs_only_the_agents_placed_on_it(scripted_server, crash):
    crash_code, config_overrides, reason = CRASHES[crash]
    stage = CrashStage(CHILDREN, CRASHING_CHILD)
    server = scripted_server(_crash_among_children(crash_code))
    config = config_for(server, workers=3, run_timeout_s=45, **config_overrides)
    result = fast_rlm.run("q", config=config, host_functions=stage.host_functions(), verbosity=0)

    lost = stage.sharing_the_crash()
    assert 0 < len(lost) < CHILDREN, stage.tokens  # the other process hosted children too
    children = result["results"]["children"]
    for index, value in enumerate(children):
        if index in lost:
            assert value.startswith("LLMQueryError: ReplError:") and "REPL was lost" in value, value
            assert reason in value, value
        else:
            assert value == index * 10
    assert result["results"]["after"] == [100, 101, 102, 103]
    pids_after = result["results"]["pids"]
    assert len(pids_after) == 3 and stage.lost_pid not in pids_after  # replaced, not just fewer
    ends = {event["agent_id"]: event for event in events_of(read_log(result["log_file"]), "agent_end")}
    failed = {agent for agent, end in ends.items() if end["status"] == "failed"}
    assert failed == {f"root.{index}" for index in lost}
    assert all(ends[agent]["error"]["type"] == "ReplError" for agent in failed)


RUNAWAY = "FINAL(sum(range(10**13)))"  # C-level: no interrupt stops it, only replacing its process
SLOW_CHILDREN = 24
LATE_CHILDREN = 4
LATE_RANGE = range(1, 1 + LATE_CHILDREN)
SLOW_RANGE = range(1 + LATE_CHILDREN, 1 + LATE_CHILDREN + SLOW_CHILDREN)


@pytest.mark.timeout(60)
def test_children_started_while_a_process_restarts_all_succeed(scripted_server):
    """The restart cascade of issue 10: a C-level runaway costs its process; 24 slow children started
    while its replacement is starting, and 4 placed on the doomed process whose first step comes only
    after it died (rebuilt from their context), all succeed. Only the runaway fails."""
    process_ended = threading.Event()

    def runaway_process_ended() -> int:
        """Wait until a REPL process ends; returns its pid."""
        pid = wait_for_any_exit(repl_processes()).pid
        process_ended.set()
        return pid

    def respond(request):
        task = first_user_message(request)
        if "spin forever" in task:
            return repl(RUNAWAY)
        if "slow child" in task:
            return repl("import asyncio\nawait asyncio.sleep(0.3)\nFINAL(context)")
        if "late child" in task:
            assert process_ended.wait(WAIT_TIMEOUT_S)
            return repl("FINAL(context)")
        return repl(
            "import asyncio\n"
            "spin = asyncio.ensure_future(llm_query(0, 'spin forever'))\n"
            f"late = [asyncio.ensure_future(llm_query(i, 'late child')) for i in {LATE_RANGE}]\n"
            "await runaway_process_ended()\n"
            f"slow = [llm_query(i, 'slow child') for i in {SLOW_RANGE}]\n"
            "results = await asyncio.gather(spin, *late, *slow, return_exceptions=True)\n"
            "FINAL([r if isinstance(r, int) else f'{type(r).__name__}: {r}' for r in results])"
        )

    server = scripted_server(respond)
    config = config_for(server, workers=2, step_timeout_s=0.3, run_timeout_s=45)
    result = fast_rlm.run("q", config=config, host_functions=[runaway_process_ended], verbosity=0)

    values = result["results"]
    assert values[0].startswith("LLMQueryError: ReplError:") and "step_timeout_s=0.3" in values[0]
    assert values[1:] == [*LATE_RANGE, *SLOW_RANGE]
    ends = events_of(read_log(result["log_file"]), "agent_end")
    assert [end["agent_id"] for end in ends if end["status"] == "failed"] == ["root.0"]


@pytest.mark.timeout(60)
def test_two_hundred_agents_share_two_repl_processes(scripted_server):
    """The design: a pool of REPL processes hosts many agents each, not an interpreter per agent."""
    seen: list[tuple[int, ...]] = []
    descendants: list[int] = []
    lock = threading.Lock()

    def look_at_processes() -> int:
        """Record the engine's REPL processes (and all its descendants) as seen from the host."""
        pids = tuple(sorted(process.pid for process in repl_processes()))
        with lock:
            seen.append(pids)
            descendants.append(len(all_engine_descendants()))
        return len(pids)

    def respond(request):
        if "look at the processes" in first_user_message(request):
            return repl("await look_at_processes()\nFINAL(context)")
        return repl(
            "calls = [llm_query(i, 'look at the processes', tools=['look_at_processes'])"
            " for i in range(200)]\n"
            "FINAL(await batch_llm_query(*calls))"
        )

    server = scripted_server(respond)
    config = config_for(server, workers=2, run_timeout_s=45)
    result = fast_rlm.run("q", config=config, host_functions=[look_at_processes], verbosity=0)

    assert result["results"] == list(range(200))
    assert len(seen) == 200
    assert {len(pids) for pids in seen} == {2}
    assert len(set(seen)) == 1  # the same two processes throughout: none started per agent
    assert set(descendants) == {2}  # and nothing else running under the engine
    assert result["usage"]["agents"] == 201
