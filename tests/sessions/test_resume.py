"""fast_rlm.resume(LOG, **overrides): a cut run goes on, replaying what was done and sending only
what was not."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import BudgetExceededError, EngineCrashError, RecordingError, RunTimeoutError
from fast_rlm.events import LlmCall
from fast_rlm.logs import cli as log_cli
from tests.conftest import config_for, events_of, read_log
from tests.sessions.replay_scenarios import SquaresModel, kill_engines, squares

CHILDREN = 6
SLOW = {3, 4, 5}


def _calls_logged(log_file: str) -> int:
    return len(events_of(read_log(log_file), "llm_call"))


def _resume_and_check(server, model: SquaresModel, log_file: str, **overrides) -> dict:
    """Resumes the run; the model then answers every request at once."""
    model.hanging = False
    logged = _calls_logged(log_file)
    sent_before = server.request_count
    result = fast_rlm.resume(log_file, verbosity=0, **overrides)
    assert result["results"] == squares(CHILDREN)
    # Sent: only what the log has no reply for (the slow helpers and the root's second call).
    assert server.request_count - sent_before == CHILDREN + 2 - logged
    assert result["usage"]["replayed_calls"] == logged
    start = read_log(result["log_file"])[0]
    assert start["resumed_from"] == log_file
    return result


def test_resume_after_the_engine_was_killed_sends_only_what_was_missing(scripted_server):
    model = SquaresModel(CHILDREN, hang=SLOW)
    server = scripted_server(model)
    answered = threading.Event()
    counted: list[LlmCall] = []

    def on_event(event) -> None:
        if isinstance(event, LlmCall):
            counted.append(event)
            if len(counted) == 1 + CHILDREN - len(SLOW):
                answered.set()

    def kill_when_only_slow_helpers_wait() -> None:
        assert model.all_hanging.wait(60) and answered.wait(60)
        kill_engines()

    killer = threading.Thread(target=kill_when_only_slow_helpers_wait)
    killer.start()
    with pytest.raises(EngineCrashError) as raised:
        fast_rlm.run("square them", config=config_for(server), verbosity=0, on_event=on_event)
    killer.join()

    result = _resume_and_check(server, model, raised.value.log_file, config=config_for(server))
    assert result["usage"]["replayed_calls"] == 1 + CHILDREN - len(SLOW)


def test_resume_after_cancelling(scripted_server):
    model = SquaresModel(CHILDREN, hang=SLOW)
    server = scripted_server(model)

    async def cancel_while_slow_helpers_wait() -> None:
        task = asyncio.ensure_future(
            fast_rlm.arun(
                "square them",
                config=config_for(server),
                verbosity=0,
            )
        )
        assert await asyncio.get_running_loop().run_in_executor(None, model.all_hanging.wait, 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_slow_helpers_wait())
    (log_file,) = [str(path) for path in Path("logs").resolve().glob("*.jsonl")]
    assert read_log(log_file)[-1]["status"] == "cancelled"

    _resume_and_check(server, model, log_file, config=config_for(server))


def test_resume_after_a_timeout_with_the_timeout_lifted(scripted_server):
    model = SquaresModel(CHILDREN, hang=SLOW)
    server = scripted_server(model)
    with pytest.raises(RunTimeoutError) as raised:
        fast_rlm.run("square them", config=config_for(server, run_timeout_s=4), verbosity=0)

    _resume_and_check(server, model, raised.value.log_file, config=config_for(server), run_timeout_s=None)


def test_resume_after_a_budget_needs_the_cap_raised(scripted_server, capsys):
    model = SquaresModel(CHILDREN)
    server = scripted_server(model)
    with pytest.raises(BudgetExceededError) as raised:
        fast_rlm.run("square them", config=config_for(server, max_llm_calls=4), verbosity=0)
    log_file = raised.value.log_file
    assert server.request_count == 4

    # The cap counts the whole job: resumed with the same cap, only the requests sent but never
    # answered in the log (in flight when the cap ended the run) may go out again.
    logged = _calls_logged(log_file)
    with pytest.raises(BudgetExceededError, match="max_llm_calls=4 reached"):
        fast_rlm.resume(log_file, config=config_for(server), verbosity=0)
    assert server.request_count == 4 + (4 - logged)

    result = _resume_and_check(server, model, log_file, config=config_for(server), max_llm_calls=8)
    assert log_cli.main([result["log_file"], "--stats"]) == 0
    assert f"resumed from {log_file}" in capsys.readouterr().out
    assert result["usage"]["llm_calls"] == CHILDREN + 2
    assert result["usage"]["limits"]["max_llm_calls"] == {"limit": 8, "used": CHILDREN + 2}


def test_resume_refuses_a_file_that_is_not_a_log_and_unknown_overrides(tmp_path):
    not_a_log = tmp_path / "data.jsonl"
    not_a_log.write_text('{"rows": 3}\n')
    with pytest.raises(RecordingError, match="data.jsonl, line 1, is not a fast-rlm log event"):
        fast_rlm.resume(not_a_log)
    with pytest.raises(TypeError, match="max_llm_call.*Did you mean 'max_llm_calls'"):
        fast_rlm.resume(not_a_log, max_llm_call=3)
