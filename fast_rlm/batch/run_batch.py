"""fast_rlm.run_batch(): many queries with the same run arguments, several engines at a time.

    results = fast_rlm.run_batch(["q1", "q2", ...], config=..., max_parallel_runs=4)

Each query is one run() with its own engine process: on this machine (executor="local", a thread
per run in flight) or as a Ray task (executor="ray", fast_rlm/batch/ray_executor.py). Results come back in
input order; a failed run's place holds its FastRLMError unless raise_errors=True.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from fast_rlm.batch.progress import open_batch_progress
from fast_rlm.config import resolve_config
from fast_rlm.errors import ConfigError, ConfigTypeError, FastRLMError
from fast_rlm.run import DEFAULT_LOG_DIR, PreparedRun, prepare_run
from fast_rlm.run_arguments import OPTION_NAMES, POSITIONAL_NAMES, run_arguments
from fast_rlm.watch.verbosity import SILENT, parse_verbosity

EXECUTORS = ("local", "ray")
RAY_TASK_CPUS = 1  # what each query's Ray task asks the cluster for
BATCH_OPTION_NAMES = ("executor", "max_parallel_runs", "ray_address", "raise_errors")
RunOutcome = dict[str, Any] | FastRLMError
# Called once per finished query, in the order they finish: (index in the batch, its outcome).
OutcomeListener = Callable[[int, RunOutcome], None]


def default_parallel_runs() -> int:
    """One engine per core, at least two: an engine mostly waits on the model, and its REPL
    processes are shared by all its agents."""
    return max(2, os.cpu_count() or 1)


def run_batch(
    queries: Sequence[str | dict | list],
    *,
    executor: str = "local",
    max_parallel_runs: int | None = None,
    ray_address: str | None = None,
    raise_errors: bool = False,
    **arguments: Any,
) -> list[RunOutcome]:
    """One run() per query, `max_parallel_runs` at a time; returns their results in input order.

    `arguments` are run()'s (config, log_dir, tools, ...), the same for every query. A run that fails
    leaves its FastRLMError (with `log_file` and `partial_results`) in its place; with
    raise_errors=True the first failure stops the batch: no new run starts, and it is raised once
    the runs in flight have ended. `verbosity` applies to the batch: a progress bar on a terminal
    (none at 0); the runs themselves print nothing. Ctrl-C cancels every run in flight.

    executor="local" runs the engines on this machine (default max_parallel_runs: the core count, at
    least 2); unless the config sets `workers`, the runs in flight share the cores, each with
    cores / max_parallel_runs REPL processes (at least 1). executor="ray" runs each query as a Ray
    task holding one CPU, its run one REPL process (pip install "fast-rlm[ray]"): on the cluster at
    `ray_address`, or on a local one started here and shut down after (see
    fast_rlm.batch.ray_executor for logs, the engine cache and retries).
    """
    plan = BatchPlan.make(queries, executor, max_parallel_runs, ray_address, raise_errors, arguments)
    outcomes: list[RunOutcome | None] = [None] * len(plan.queries)
    with open_batch_progress(plan.verbosity, len(plan.queries)) as progress:

        def record(index: int, outcome: RunOutcome) -> None:
            outcomes[index] = outcome
            progress.advance(failed=isinstance(outcome, FastRLMError))

        if plan.executor == "ray":
            from fast_rlm.batch.ray_executor import run_on_ray

            run_on_ray(plan, record)
        else:
            run_locally(plan, record)
    finished = [outcome for outcome in outcomes if outcome is not None]
    if raise_errors:
        first_error = next((outcome for outcome in finished if isinstance(outcome, FastRLMError)), None)
        if first_error is not None:
            raise first_error
    assert len(finished) == len(outcomes), "every query of a batch that did not stop has an outcome"
    return finished


class BatchPlan:
    """A checked batch: the queries, how to run them, and each run's arguments."""

    def __init__(
        self,
        queries: list[Any],
        executor: str,
        max_parallel_runs: int | None,
        ray_address: str | None,
        stop_on_error: bool,
        arguments: dict[str, Any],
        verbosity: int,
    ) -> None:
        self.queries = queries
        self.executor = executor
        self.max_parallel_runs = max_parallel_runs
        self.ray_address = ray_address
        self.stop_on_error = stop_on_error
        self.arguments = arguments
        self.verbosity = verbosity

    @classmethod
    def make(
        cls,
        queries: Sequence[Any],
        executor: str,
        max_parallel_runs: int | None,
        ray_address: str | None,
        raise_errors: bool,
        arguments: dict[str, Any],
    ) -> BatchPlan:
        """Checks what every run shares once, so a mistake there fails the batch before any run
        starts instead of failing each run the same way."""
        if isinstance(queries, (str, bytes, dict)) or not isinstance(queries, Sequence):
            raise ConfigTypeError(
                f"queries must be a list of queries (str, dict or list each), not {type(queries).__name__}. "
                "For one query use fast_rlm.run()."
            )
        if executor not in EXECUTORS:
            raise ConfigError(f"executor must be 'local' or 'ray', not {executor!r}.")
        if max_parallel_runs is not None and (
            isinstance(max_parallel_runs, bool)
            or not isinstance(max_parallel_runs, int)
            or max_parallel_runs < 1
        ):
            raise ConfigError(
                f"max_parallel_runs must be a whole number of runs, 1 or more, not {max_parallel_runs!r}."
            )
        if ray_address is not None and executor != "ray":
            raise ConfigError("ray_address is for executor='ray'; pass executor='ray' too, or drop it.")
        if "query" in arguments:
            raise TypeError("run_batch() takes its queries as the first argument, not query=.")
        for name in arguments:
            close = difflib.get_close_matches(name, BATCH_OPTION_NAMES, n=1)
            if close and name not in OPTION_NAMES + POSITIONAL_NAMES:  # else run()'s check says more
                raise TypeError(f"unexpected keyword argument {name!r}. Did you mean {close[0]!r}?")
        positional = {name: arguments.pop(name, None) for name in POSITIONAL_NAMES if name != "query"}
        checked = run_arguments(None, options=arguments, **positional)
        resolved = resolve_config(checked["config"])  # a bad key fails here, once
        if resolved.workers == 0:
            # One REPL process per core would give each of the runs in flight a process on every
            # core: they would fight over the cores instead of sharing them. A Ray task holds one CPU.
            parallel = max_parallel_runs or default_parallel_runs()
            local_share = max(1, (os.cpu_count() or 1) // parallel)
            resolved.workers = local_share if executor == "local" else RAY_TASK_CPUS
            checked["config"] = resolved
        verbosity = parse_verbosity(checked["verbosity"], checked["verbose"])
        shared = {
            **checked,
            "verbose": None,
            "verbosity": SILENT,  # the batch's progress bar is the display
            "log_dir": str(Path(checked["log_dir"] or DEFAULT_LOG_DIR).resolve()),
        }
        if executor == "ray":
            for callback in ("on_event", "on_step"):
                if checked[callback] is not None:
                    raise ConfigError(
                        f"{callback} cannot be used with executor='ray': the runs happen in Ray worker "
                        "processes, not here. Read each run's log (result['log_file']) or use "
                        "executor='local'."
                    )
        return cls(
            list(queries),
            executor,
            max_parallel_runs,
            ray_address,
            raise_errors,
            shared,
            verbosity,
        )

    def run_arguments_for(self, index: int) -> dict[str, Any]:
        """run()'s arguments, all by name, for query `index`; its log file name starts with its place
        in the batch."""
        width = len(str(max(len(self.queries) - 1, 0)))
        prefix = f"{self.arguments.get('prefix') or 'batch'}-{index:0{width}d}"
        return {**self.arguments, "query": self.queries[index], "prefix": prefix}


def run_one(arguments: dict[str, Any], started: Callable[[PreparedRun], None] | None = None) -> RunOutcome:
    """One query's run (`arguments` from BatchPlan.run_arguments_for): its result, or the
    FastRLMError it failed with. `started` gets the run before its engine starts, to cancel it."""
    try:
        prepared = prepare_run(arguments)
        if started is not None:
            started(prepared)
        return prepared.execute()
    except FastRLMError as error:
        return error


def run_locally(plan: BatchPlan, record: OutcomeListener) -> None:
    """A thread per run in flight, each driving its own engine process."""
    parallel = plan.max_parallel_runs or default_parallel_runs()
    in_flight: dict[int, PreparedRun] = {}
    in_flight_lock = threading.Lock()
    stopping = threading.Event()

    def run_query(index: int) -> RunOutcome | None:
        if stopping.is_set():
            return None

        def started(prepared: PreparedRun) -> None:
            with in_flight_lock:
                in_flight[index] = prepared
            if stopping.is_set():  # stopped between the check above and now
                prepared.cancel()

        try:
            return run_one(plan.run_arguments_for(index), started)
        finally:
            with in_flight_lock:
                in_flight.pop(index, None)

    def stop() -> None:
        stopping.set()
        with in_flight_lock:
            for prepared in in_flight.values():
                prepared.cancel()

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fast-rlm-batch") as pool:
        pending: dict[Future[RunOutcome | None], int] = {
            pool.submit(run_query, index): index for index in range(len(plan.queries))
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    outcome = future.result()
                    if outcome is None:
                        continue
                    record(index, outcome)
                    if plan.stop_on_error and isinstance(outcome, FastRLMError):
                        stopping.set()  # runs in flight end on their own; no new one starts
        except BaseException:  # Ctrl-C: cancel every run in flight, and wait until their engines stop
            stop()
            raise
