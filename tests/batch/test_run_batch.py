"""run_batch(executor="local"): many runs, several engines at a time, results in input order."""

from __future__ import annotations

import itertools
import os
import signal
import threading
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import BudgetExceededError, ConfigError, ConfigTypeError
from fast_rlm.scripted.server import repl
from tests.conftest import config_for, events_of, read_log

SQUARE = repl("FINAL(context[0] * context[0])")  # a query is a list holding a number


def test_results_come_back_in_input_order_with_failures_in_place(scripted_server, tmp_path):
    # The first three requests are held until all three have arrived, so the peak below does not
    # hang on how fast three engines start on a busy machine; run serially, it would stay at 1.
    arrived = itertools.count(1)
    three_arrived = threading.Event()

    def square_once_three_are_in(request):
        if next(arrived) >= 3:
            three_arrived.set()
        three_arrived.wait(timeout=60)
        return SQUARE

    server = scripted_server(square_once_three_are_in, latency_s=0.05, responder_may_block=True)
    # A dict has no [0]: that agent's step fails on every call until its call budget ends.
    queries = [[1], [2], {"not": "a list"}, [4], [5], [6]]
    outcomes = fast_rlm.run_batch(
        queries,
        config=config_for(server, max_calls_per_subagent=2),
        max_parallel_runs=3,
        log_dir=tmp_path / "batch-logs",
        verbosity=0,
    )

    assert [o if isinstance(o, Exception) else o["results"] for o in outcomes[:2] + outcomes[3:]] == [
        1,
        4,
        16,
        25,
        36,
    ]
    failure = outcomes[2]
    assert isinstance(failure, BudgetExceededError)
    assert failure.log_file is not None and read_log(failure.log_file)[-1]["status"] == "error"
    # Three engines at a time, never more.
    assert server.peak_in_flight == 3
    # Every run logged into log_dir, named by its place in the batch.
    names = sorted(Path(outcome["log_file"]).name[:7] for outcome in outcomes if isinstance(outcome, dict))
    assert names == ["batch-0", "batch-1", "batch-3", "batch-4", "batch-5"]
    assert {Path(o.log_file if isinstance(o, Exception) else o["log_file"]).parent for o in outcomes} == {
        (tmp_path / "batch-logs").resolve()
    }


def test_raise_errors_raises_the_failure_instead(scripted_server):
    server = scripted_server(lambda request: SQUARE)
    with pytest.raises(BudgetExceededError):
        fast_rlm.run_batch(
            [[3], "three"],
            config=config_for(server, max_calls_per_subagent=1),
            raise_errors=True,
            max_parallel_runs=1,
            verbosity=0,
        )
    # Run one at a time: the failing second query is the last one.
    assert server.request_count == 2


def test_ctrl_c_cancels_every_run_in_flight(scripted_server, tmp_path):
    """The first model request interrupts the caller as Ctrl-C would; the runs already started are
    cancelled (their logs closed with status cancelled) and no other run starts."""
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    interrupted = threading.Event()

    def respond(request):
        if not interrupted.is_set():
            interrupted.set()
            signal.pthread_kill(main_thread, signal.SIGINT)
        return SQUARE

    server = scripted_server(respond, latency_s=5.0)
    try:
        outcomes = fast_rlm.run_batch(
            [[number] for number in range(6)],
            config=config_for(server),
            max_parallel_runs=2,
            log_dir=tmp_path,
            verbosity=0,
        )
    except KeyboardInterrupt:
        outcomes = None
    assert outcomes is None, f"the batch was not interrupted; it returned {outcomes!r}"
    logs = sorted(tmp_path.glob("batch-*.jsonl"))
    assert 1 <= len(logs) <= 2
    for log in logs:
        assert events_of(read_log(log), "run_end")[0]["status"] == "cancelled"


def test_progress_bar_on_a_terminal_and_none_at_verbosity_0(scripted_server, capfd, monkeypatch):
    server = scripted_server(lambda request: SQUARE)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    fast_rlm.run_batch([[1], [2], [3]], config=config_for(server), verbosity=1)
    shown = capfd.readouterr().err
    assert "fast-rlm batch" in shown and "3/3" in shown and "0 failed" in shown

    fast_rlm.run_batch([[1], [2], [3]], config=config_for(server), verbosity=0)
    assert capfd.readouterr().err == ""


def test_an_empty_batch_returns_an_empty_list(scripted_server):
    server = scripted_server(lambda request: SQUARE)
    assert fast_rlm.run_batch([], config=config_for(server), verbosity=0) == []


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"queries": "one query"}, ConfigTypeError, "queries must be a list"),
        ({"executor": "spark"}, ConfigError, "executor must be 'local' or 'ray'"),
        ({"max_parallel_runs": 0}, ConfigError, "max_parallel_runs must be a whole number"),
        ({"max_parallel_runs": 2.5}, ConfigError, "max_parallel_runs must be a whole number"),
        ({"ray_address": "127.0.0.1:1"}, ConfigError, "ray_address is for executor='ray'"),
        ({"max_paralel_runs": 2}, TypeError, "Did you mean"),
        ({"config": {"max_depht": 2}}, ConfigError, "max_depht"),
        ({"verbosity": "loud"}, ConfigError, "verbosity must be"),
    ],
)
def test_bad_arguments_fail_before_any_run(scripted_server, arguments, error, message):
    server = scripted_server(lambda request: SQUARE)
    call = {"queries": [[1], [2]], "config": config_for(server), **arguments}
    with pytest.raises(error, match=message):
        fast_rlm.run_batch(call.pop("queries"), **call)
    assert server.request_count == 0


def test_runs_in_flight_share_the_cores_unless_the_config_sets_workers(scripted_server, tmp_path):
    server = scripted_server(lambda request: SQUARE)

    def workers_of(outcomes: list) -> set[int]:
        """The REPL processes each run was given: set in its config, not left to the engine (0)."""
        starts = [events_of(read_log(outcome["log_file"]), "run_start")[0] for outcome in outcomes]
        return {start["config"]["workers"] for start in starts}

    shared = fast_rlm.run_batch(
        [[2], [3]], max_parallel_runs=2, config=config_for(server), log_dir=tmp_path / "a", verbosity=0
    )
    assert workers_of(shared) == {max(1, (os.cpu_count() or 1) // 2)}

    chosen = fast_rlm.run_batch(
        [[2], [3]],
        max_parallel_runs=2,
        config=config_for(server, workers=3),
        log_dir=tmp_path / "b",
        verbosity=0,
    )
    assert workers_of(chosen) == {3}
