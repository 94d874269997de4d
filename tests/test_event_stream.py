"""Typed events while a run works: run(on_event=, on_step=) and `async for event in fast_rlm.stream(...)`."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import psutil
import pytest

import fast_rlm
from fast_rlm.errors import LLMAuthError
from fast_rlm.events import (
    EVENT_MODELS,
    AgentEnd,
    AgentStart,
    CodeStep,
    LlmCall,
    LogEvent,
    RunEnd,
    RunStart,
    parse_event,
)
from fast_rlm.scripted.server import repl
from tests import scripted_server as scenarios
from tests.conftest import config_for, read_log
from tests.test_cancellation import HangingChildren

GATE_TIMEOUT_S = 30


def _logged_events(log_file: str) -> list[LogEvent]:
    return [parse_event(line) for line in read_log(log_file)]


def _deno_processes() -> list[psutil.Process]:
    return [child for child in psutil.Process().children(recursive=True) if "deno" in child.name()]


def _assert_stopped(processes: list[psutil.Process]) -> None:
    for process in processes:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def _index(events: list[LogEvent], kind: type, agent_id: str, **fields: Any) -> int:
    return next(
        position
        for position, event in enumerate(events)
        if isinstance(event, kind)
        and event.agent_id == agent_id
        and all(getattr(event, name) == value for name, value in fields.items())
    )


def test_on_event_gets_typed_events_in_order_for_a_fan_out(scripted_server):
    server = scripted_server(scenarios.fan_out(3))
    events: list[LogEvent] = []
    steps: list[CodeStep] = []
    result = fast_rlm.run(
        "squares", config=config_for(server), verbosity=0, on_event=events.append, on_step=steps.append
    )

    assert all(isinstance(event, tuple(EVENT_MODELS.values())) for event in events)
    assert events == _logged_events(result["log_file"])  # every logged event, in the log's order
    assert isinstance(events[0], RunStart)
    assert isinstance(events[-1], RunEnd) and events[-1].status == "ok" and events[-1].results == [0, 1, 4]
    children = [event for event in events if isinstance(event, AgentStart) and event.parent_id == "root"]
    assert [child.agent_id for child in children] == ["root.0", "root.1", "root.2"]
    assert all(child.depth == 1 for child in children)
    for agent_id in ("root", "root.0", "root.1", "root.2"):
        assert (
            _index(events, AgentStart, agent_id)
            < _index(events, LlmCall, agent_id)
            < _index(events, CodeStep, agent_id, final=True)
            < _index(events, AgentEnd, agent_id, status="done")
        )
    # Children are spawned by the root's code: after its model call, before its FINAL step.
    for child in children:
        assert _index(events, LlmCall, "root") < events.index(child) < _index(events, CodeStep, "root")

    assert steps == [event for event in events if isinstance(event, CodeStep)]
    assert len(steps) == 4 and all(step.final for step in steps)


class GatedChild:
    """The root asks one child; the child's model answers only once the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def __call__(self, request: dict[str, Any]) -> str:
        if scenarios.is_root(request):
            return repl("FINAL(await llm_query(7, 'square it'))")
        if not self.gate.wait(GATE_TIMEOUT_S):
            return repl("FINAL('the gate never opened: events were not streamed as they happened')")
        return repl("FINAL(context * context)")


def test_stream_yields_each_event_as_it_happens(scripted_server):
    model = GatedChild()
    server = scripted_server(model, responder_may_block=True)
    from_callback: list[LogEvent] = []

    async def consume() -> tuple[list[LogEvent], fast_rlm.RunStream]:
        streamed = []
        async with fast_rlm.stream(
            "q", config=config_for(server), verbosity=0, on_event=from_callback.append
        ) as events:
            async for event in events:
                streamed.append(event)
                if isinstance(event, AgentStart) and event.parent_id == "root":
                    model.gate.set()  # the child's model is still waiting: this event came mid-run
        return streamed, events

    streamed, events = asyncio.run(consume())

    assert isinstance(streamed[-1], RunEnd) and streamed[-1].results == 49
    assert streamed == from_callback == _logged_events(events.log_file)
    assert events.result is not None and events.result["results"] == 49
    assert events.result["run_id"] == events.run_id == streamed[0].run_id


def test_stream_raises_the_typed_error_after_yielding_run_end(scripted_server):
    server = scripted_server(scenarios.unauthorized)
    streamed: list[LogEvent] = []

    async def consume() -> None:
        async for event in fast_rlm.stream("q", config=config_for(server), verbosity=0):
            streamed.append(event)

    with pytest.raises(LLMAuthError) as raised:
        asyncio.run(consume())

    final = streamed[-1]
    assert isinstance(final, RunEnd) and final.status == "error"
    assert final.error is not None and final.error.type == "LLMAuthError"
    assert raised.value.log_file and read_log(raised.value.log_file)[-1]["event"] == "run_end"


async def _finish_background_tasks() -> None:
    await asyncio.sleep(0)  # dropping the stream scheduled its closing task; let the loop start it
    await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))


@pytest.mark.timeout(60)  # without the cancel, the run would wait two minutes on its children
def test_breaking_out_of_stream_cancels_the_run(scripted_server, isolated_workdir):
    model = HangingChildren()  # children whose model answers only after two minutes
    server = scripted_server(model)
    streamed: list[LogEvent] = []
    engines: list[psutil.Process] = []

    async def consume() -> None:
        loop = asyncio.get_running_loop()
        async for event in fast_rlm.stream("q", config=config_for(server), verbosity=0):
            streamed.append(event)
            if isinstance(event, AgentEnd) and event.agent_id == "root.0":
                assert await loop.run_in_executor(None, model.slow_requests_arrived.wait, 60)
                engines.extend(_deno_processes())
                break
        await _finish_background_tasks()
        _assert_stopped(engines)

    asyncio.run(consume())

    assert engines, "the engine was running when the loop was left"
    assert not any(isinstance(event, RunEnd) for event in streamed)
    [log_file] = (isolated_workdir / "logs").glob("*.jsonl")
    log = read_log(log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["status"] == "cancelled"


@pytest.mark.timeout(60)
def test_cancelling_the_consuming_task_cancels_the_run(scripted_server):
    model = HangingChildren()
    server = scripted_server(model)
    streamed: list[LogEvent] = []

    async def consume(events: fast_rlm.RunStream) -> None:
        async for event in events:
            streamed.append(event)

    async def scenario() -> str:
        events = fast_rlm.stream("q", config=config_for(server), verbosity=0)
        task = asyncio.ensure_future(consume(events))
        arrived = await asyncio.get_running_loop().run_in_executor(None, model.slow_requests_arrived.wait, 60)
        assert arrived
        engines = _deno_processes()
        assert engines
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _assert_stopped(engines)  # the stream waited for the engine to stop before letting go
        assert events.log_file is not None
        return events.log_file

    log = read_log(asyncio.run(scenario()))
    assert log[-1]["event"] == "run_end" and log[-1]["status"] == "cancelled"
    agent_ends = {event.agent_id: event.status for event in streamed if isinstance(event, AgentEnd)}
    assert agent_ends == {"root.0": "done"}


def test_a_failing_callback_is_warned_about_and_the_run_goes_on(scripted_server):
    server = scripted_server(scenarios.fan_out(2))

    def broken_on_step(step: CodeStep) -> None:
        raise KeyError("no such column")

    with pytest.warns(RuntimeWarning, match=r"on_step callback raised KeyError: 'no such column'"):
        result = fast_rlm.run("q", config=config_for(server), verbosity=0, on_step=broken_on_step)
    assert result["results"] == [0, 1]

    async def consume() -> tuple[list[LogEvent], fast_rlm.RunStream]:
        def broken_on_event(event: LogEvent) -> None:
            raise ValueError("listener bug")

        async with fast_rlm.stream(
            "q", config=config_for(server), verbosity=0, on_event=broken_on_event
        ) as events:
            return [event async for event in events], events

    with pytest.warns(RuntimeWarning, match="on_event callback raised ValueError"):
        streamed, events = asyncio.run(consume())
    assert isinstance(streamed[-1], RunEnd) and streamed[-1].results == [0, 1]
    assert streamed == _logged_events(events.log_file)  # the failing callback cost the stream nothing
