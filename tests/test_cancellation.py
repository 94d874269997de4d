"""Cancelling a run (Ctrl-C, or cancelling the task awaiting arun) stops every agent, closes the log,
hands back partial results and leaves no engine process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading

import psutil
import pytest

import fast_rlm
from fast_rlm.events import AgentEnd, LogEvent, RunEnd
from fast_rlm.scripted.server import ScriptedReply, first_user_message, repl
from tests.conftest import config_for, read_log

SLOW_CHILDREN = 3


class HangingChildren:
    """The root gets one quick child's answer, then waits on children whose model never answers."""

    def __init__(self) -> None:
        self.slow_requests_arrived = threading.Event()
        self._slow_seen = 0
        self._lock = threading.Lock()

    def __call__(self, request):
        task = first_user_message(request)
        if "quick" in task:
            return repl("FINAL('quick done')")
        if "slow" in task:
            with self._lock:
                self._slow_seen += 1
                if self._slow_seen == SLOW_CHILDREN:
                    self.slow_requests_arrived.set()
            return ScriptedReply(content=repl("FINAL('too late')"), delay_s=120)
        return repl(
            "quick = await llm_query(0, 'quick')\n"
            f"FINAL(await batch_llm_query(*[llm_query(n, 'slow') for n in range({SLOW_CHILDREN})]))"
        )


def _engine_processes(parent: psutil.Process) -> list[psutil.Process]:
    return [child for child in parent.children(recursive=True) if "deno" in child.name()]


def _assert_gone(processes: list[psutil.Process]) -> None:
    for process in processes:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


CHILD_SCRIPT = """
import json, sys
import fast_rlm
try:
    fast_rlm.run("q", config=json.loads(sys.argv[1]), verbosity=0)
    print(json.dumps({"outcome": "finished"}))
except fast_rlm.errors.CancelledError as error:
    print(json.dumps({"outcome": "cancelled", "partial": error.partial_results, "log_file": error.log_file}))
"""


def test_ctrl_c_stops_the_run_and_its_engine(scripted_server, isolated_workdir):
    model = HangingChildren()
    server = scripted_server(model)
    runner = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, json.dumps(config_for(server))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=isolated_workdir,
    )
    try:
        assert model.slow_requests_arrived.wait(timeout=60), runner.stderr
        engines = _engine_processes(psutil.Process(runner.pid))
        assert engines, "the engine should be running while children wait on the model"

        os.kill(runner.pid, signal.SIGINT)
        stdout, stderr = runner.communicate(timeout=15)
    finally:
        runner.kill()

    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["outcome"] == "cancelled", stderr
    assert report["partial"] == {"root.0": "quick done"}
    log = read_log(report["log_file"])
    assert log[-1]["event"] == "run_end" and log[-1]["status"] == "cancelled"
    _assert_gone(engines)
    # The engine hung up on the model requests that were still in flight.
    slow = [timing for timing in server.timings[2:]]
    assert len(slow) == SLOW_CHILDREN and all(timing["client_left"] is not None for timing in slow)


def test_cancelling_the_arun_task_stops_the_run(scripted_server):
    model = HangingChildren()
    server = scripted_server(model)
    events: list[LogEvent] = []

    async def scenario() -> None:
        task = asyncio.ensure_future(
            fast_rlm.arun("q", config=config_for(server), verbosity=0, on_event=events.append)
        )
        arrived = await asyncio.get_running_loop().run_in_executor(None, model.slow_requests_arrived.wait, 60)
        assert arrived
        engines = _engine_processes(psutil.Process())
        assert engines
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _assert_gone(engines)

    asyncio.run(scenario())
    assert isinstance(events[-1], RunEnd) and events[-1].status == "cancelled"
    agent_ends = {event.agent_id: event.status for event in events if isinstance(event, AgentEnd)}
    assert agent_ends["root.0"] == "done"


def test_an_engine_killed_from_outside_still_leaves_a_closed_log(scripted_server):
    model = HangingChildren()
    server = scripted_server(model)
    events: list = []

    def kill_engine_once_children_wait() -> None:
        assert model.slow_requests_arrived.wait(timeout=60)
        for engine in _engine_processes(psutil.Process()):
            engine.kill()

    killer = threading.Thread(target=kill_engine_once_children_wait)
    killer.start()
    with pytest.raises(fast_rlm.errors.EngineCrashError) as raised:
        fast_rlm.run("q", config=config_for(server), verbosity=0, on_event=events.append)
    killer.join()

    closing = read_log(raised.value.log_file)[-1]
    assert closing["event"] == "run_end" and closing["status"] == "error"
    assert closing["error"]["type"] == "EngineCrashError" and closing["usage"]["cost"] is None
    assert isinstance(events[-1], fast_rlm.events.RunEnd) and events[-1].status == "error"


def _handler_seen_during_a_run(scripted_server) -> object:
    """The SIGINT handler in place while run() waits on the model."""
    seen = []

    def respond(request):
        seen.append(signal.getsignal(signal.SIGINT))
        return repl("FINAL(1)")

    fast_rlm.run("q", config=config_for(scripted_server(respond)), verbosity=0)
    return seen[0]


def test_run_takes_ctrl_c_over_from_the_default_handler_and_gives_it_back(scripted_server):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    during = _handler_seen_during_a_run(scripted_server)
    assert during is not signal.default_int_handler and callable(during)  # Ctrl-C cancels the run
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("kind", ["the caller's own", "ignored"])
def test_run_leaves_a_handler_it_did_not_install_in_place(scripted_server, kind):
    def own_handler(signal_number, frame):
        pass

    handler = own_handler if kind == "the caller's own" else signal.SIG_IGN
    previous = signal.signal(signal.SIGINT, handler)
    try:
        assert _handler_seen_during_a_run(scripted_server) is handler
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)
