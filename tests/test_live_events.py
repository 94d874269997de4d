"""Events cross from the engine to the host while a run works only when something on the host uses
them (a progress display, on_event/on_step, a tracer, a session). A silent run gets run_end alone,
and its log still holds every event."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.run import prepare_run
from fast_rlm.run_arguments import run_arguments
from tests import scripted_server as scenarios
from tests.conftest import config_for, read_log


def _events_reaching_the_host(server, **options) -> tuple[list[str], list[dict]]:
    """The kinds of the events the engine sent, in order, and the run's log."""
    arguments = run_arguments(
        "squares please", None, config_for(server), None, None, None, None, None, options
    )
    prepared = prepare_run(arguments)
    received: list[str] = []
    prepared.engine.execute(lambda event: received.append(event["event"]))
    return received, read_log(prepared.log_file)


def test_a_silent_run_sends_the_host_only_run_end(scripted_server):
    server = scripted_server(scenarios.fan_out(3))
    received, log = _events_reaching_the_host(server, verbosity=0)

    assert received == ["run_end"]
    assert [event["event"] for event in log].count("agent_start") == 4  # the log is whole


@pytest.mark.parametrize("listener", ["on_event", "on_step"])
def test_a_listener_gets_every_event_of_a_silent_run(scripted_server, listener):
    server = scripted_server(scenarios.fan_out(3))
    received, log = _events_reaching_the_host(server, verbosity=0, **{listener: lambda event: None})

    assert received == [event["event"] for event in log]


def test_a_run_with_progress_gets_every_event(scripted_server):
    server = scripted_server(scenarios.fan_out(3))
    received, log = _events_reaching_the_host(server, verbosity=1)

    assert received == [event["event"] for event in log]


def test_a_silent_run_that_fails_logs_one_run_end(scripted_server):
    server = scripted_server(scenarios.chain(4))
    with pytest.raises(fast_rlm.errors.BudgetExceededError) as raised:
        fast_rlm.run("start", config=config_for(server, max_depth=2, max_calls_per_subagent=1), verbosity=0)

    log = read_log(raised.value.log_file)
    assert [event["event"] for event in log].count("run_end") == 1 and log[-1]["event"] == "run_end"
