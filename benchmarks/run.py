"""Run a task suite against a model and score it.

    python -m benchmarks.run --suite sniah --sizes 8k 32k --limit 3 --model scripted
    python -m benchmarks.run --suite oolong --model openai/gpt-5-mini \\
        --base-url https://openrouter.ai/api/v1 --out results/oolong --concurrency 4 --max-cost 5
    python -m benchmarks.run --suite oolong --model openai/gpt-5-mini --baseline   # one plain call a task

Writes OUT/results.jsonl (a line per finished task) and OUT/summary.json, and prints a table.
Running the same command again resumes: finished tasks are kept, not redone. `--model scripted`
answers with the scripted policy (benchmarks/scripted_policy.py) on a local server: no key, no
network. The key comes from RLM_MODEL_API_KEY (or OPENROUTER_API_KEY / OPENAI_API_KEY).
Exit status: 0 done, 2 bad input, 3 stopped early (cost cap or unreachable endpoint; rerun to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fast_rlm
from benchmarks.baseline import EndpointUnreachableError, PlainCallError, plain_call
from benchmarks.public_datasets import PUBLIC_SUITES, DatasetError, public_tasks
from benchmarks.results_store import ResultsStore, TaskResult
from benchmarks.scripted_policy import respond
from benchmarks.suites import DEFAULT_SIZES, SUITES, Task, UnknownSuiteError, suite_named, suite_tasks
from benchmarks.suites.task import UnknownSizeError
from fast_rlm.config import DEFAULT_BASE_URL
from fast_rlm.errors import BudgetExceededError, ConfigError, FastRLMError, LLMUnreachableError
from fast_rlm.scripted.server import ScriptedModelServer

SCRIPTED = "scripted"
KEY_VARIABLES = ("RLM_MODEL_API_KEY", "OPENROUTER_API_KEY", "OPENAI_API_KEY")
EXIT_BAD_INPUT = 2
EXIT_STOPPED = 3
# Long contexts take many calls and tokens: only --max-cost bounds a task's spending.
NO_TOKEN_CAPS = {"max_llm_calls": None, "max_prompt_tokens": None, "max_completion_tokens": None}


class CostCapReached(Exception):
    """A run stopped because the suite's --max-cost ran out."""


class SetupError(Exception):
    """A problem every task would hit (no API key, a bad config): no task is recorded for it."""


@dataclass
class Stop:
    """Why a suite stopped before its last task, and the exit status that says so."""

    reason: str
    exit_status: int


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--suite", required=True, help=f"one of: {', '.join([*SUITES, *PUBLIC_SUITES])}")
    parser.add_argument(
        "--data", type=Path, help="a downloaded file of a public suite (oolong-synth, longbench-v2)"
    )
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="context sizes in tokens")
    parser.add_argument("--limit", type=int, default=5, help="tasks per size (default 5)")
    parser.add_argument("--model", required=True, help="a model name of the endpoint, or 'scripted'")
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint (default: RLM_MODEL_BASE_URL)")
    parser.add_argument(
        "--out", type=Path, help="results directory (default: bench-results/SUITE-MODEL[-baseline])"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="tasks at a time (default 2)")
    parser.add_argument("--max-cost", type=float, help="stop starting tasks once this many USD are spent")
    parser.add_argument("--baseline", action="store_true", help="one plain model call per task, no RLM")
    arguments = parser.parse_args(argv)
    if arguments.limit < 1 or arguments.concurrency < 1:
        parser.error("--limit and --concurrency must be at least 1")
    if arguments.max_cost is not None and arguments.max_cost <= 0:
        parser.error("--max-cost must be above 0")
    return arguments


def default_out(suite: str, model: str, baseline: bool) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{suite}-{model}") + ("-baseline" if baseline else "")
    return Path("bench-results") / name


@contextlib.contextmanager
def endpoint(model: str, base_url: str | None) -> Iterator[tuple[str | None, str | None]]:
    """(base URL, API key): the scripted policy's local server for `scripted`."""
    if model != SCRIPTED:
        yield base_url, next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)
        return
    with ScriptedModelServer(respond) as server:
        yield server.base_url, "scripted-policy"


def rlm_task(
    task: Task, model: str, base_url: str | None, api_key: str | None, cost_left: float | None, log_dir: Path
) -> dict[str, Any]:
    config: dict[str, Any] = {"primary_agent": model, "sub_agent": model, **NO_TOKEN_CAPS}
    if base_url:
        config["base_url"] = base_url
    if api_key:
        config["api_key"] = api_key
    if cost_left is not None:
        config["max_money_spent"] = cost_left
    try:
        outcome = fast_rlm.run(
            task.context, instruction=task.question, config=config, log_dir=log_dir, verbosity=0
        )
        return {
            "answer": outcome["results"],
            "usage": outcome["usage"],
            "log_file": outcome["log_file"],
            "error": None,
        }
    except LLMUnreachableError as error:
        raise EndpointUnreachableError(str(error)) from None
    except ConfigError as error:
        raise SetupError(f"{type(error).__name__}: {error}") from None
    except BudgetExceededError as error:
        money = ((error.usage or {}).get("limits") or {}).get("max_money_spent") or {}
        if (
            cost_left is not None
            and money.get("limit") is not None
            and money["used"] >= money["limit"] * 0.999
        ):
            raise CostCapReached(str(error)) from None
        return failed(error)
    except FastRLMError as error:
        return failed(error)


def failed(error: FastRLMError) -> dict[str, Any]:
    return {
        "answer": error.partial_results,
        "usage": error.usage or {},
        "log_file": error.log_file,
        "error": f"{type(error).__name__}: {error}",
    }


def baseline_task(task: Task, model: str, base_url: str | None, api_key: str | None) -> dict[str, Any]:
    url = base_url or os.environ.get("RLM_MODEL_BASE_URL") or DEFAULT_BASE_URL
    try:
        reply = plain_call(url, api_key or "", model, task)
    except PlainCallError as error:
        return {"answer": None, "usage": {}, "log_file": None, "error": str(error)}
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "cost": reply.cost,
    }
    return {"answer": reply.text, "usage": usage, "log_file": None, "error": None}


def scored(task: Task, mode: str, model: str, outcome: dict[str, Any], wall_s: float) -> TaskResult:
    usage = outcome["usage"]
    answer = outcome["answer"]
    return TaskResult(
        id=task.id,
        suite=task.suite,
        size=task.size,
        kind=task.kind,
        mode=mode,
        model=model,
        answer=answer,
        gold=task.gold,
        score=0.0 if outcome["error"] else score_of(task, answer),
        cost=usage.get("cost") or 0.0,
        prompt_tokens=usage.get("prompt_tokens", 0),
        completion_tokens=usage.get("completion_tokens", 0),
        wall_s=round(wall_s, 3),
        log_file=outcome["log_file"],
        error=outcome["error"],
    )


def run_suite(arguments: argparse.Namespace, tasks: list[Task], store: ResultsStore) -> Stop | None:
    """Runs the unfinished tasks, recording each as it ends. Returns why it stopped early, if it did."""
    mode = "baseline" if arguments.baseline else "rlm"
    done = store.finished_ids(mode, arguments.model)
    pending = [task for task in tasks if task.id not in done]
    spent = sum(r.cost for r in store.results if r.mode == mode and r.model == arguments.model)
    stopped: Stop | None = None
    with (
        endpoint(arguments.model, arguments.base_url) as (base_url, api_key),
        ThreadPoolExecutor(arguments.concurrency) as pool,
    ):

        def start(task: Task) -> Future[tuple[Task, dict[str, Any], float]]:
            cost_left = None if arguments.max_cost is None else arguments.max_cost - spent

            def one() -> tuple[Task, dict[str, Any], float]:
                began = time.perf_counter()
                if arguments.baseline:
                    outcome = baseline_task(task, arguments.model, base_url, api_key)
                else:
                    outcome = rlm_task(
                        task, arguments.model, base_url, api_key, cost_left, store.directory / "logs"
                    )
                return task, outcome, time.perf_counter() - began

            return pool.submit(one)

        in_flight: set[Future[tuple[Task, dict[str, Any], float]]] = set()
        queue = list(pending)
        while queue or in_flight:
            while queue and len(in_flight) < arguments.concurrency and stopped is None:
                if arguments.max_cost is not None and spent >= arguments.max_cost:
                    reason = f"cost cap reached: ${spent:.4f} spent of --max-cost ${arguments.max_cost:g}"
                    stopped = Stop(reason, EXIT_STOPPED)
                    break
                in_flight.add(start(queue.pop(0)))
            if not in_flight:
                break
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    task, outcome, wall_s = future.result()
                except CostCapReached:
                    reason = f"cost cap reached: a run used up --max-cost ${arguments.max_cost:g}"
                    stopped = stopped or Stop(reason, EXIT_STOPPED)
                    continue
                except EndpointUnreachableError as error:
                    reason = f"endpoint unreachable: {error} Check --base-url and that the server is up."
                    stopped = stopped or Stop(reason, EXIT_STOPPED)
                    continue
                except SetupError as error:
                    stopped = stopped or Stop(str(error), EXIT_BAD_INPUT)
                    continue
                result = scored(task, mode, arguments.model, outcome, wall_s)
                spent += result.cost
                store.add(result)
    return stopped


def tasks_for(arguments: argparse.Namespace) -> list[Task]:
    """A public suite's first --limit records, or --limit generated tasks per size."""
    if arguments.suite in PUBLIC_SUITES:
        return public_tasks(PUBLIC_SUITES[arguments.suite], arguments.data, arguments.limit)
    if arguments.data:
        raise DatasetError(
            f"--data is for the public suites ({', '.join(PUBLIC_SUITES)}), not {arguments.suite}"
        )
    try:
        return suite_tasks(arguments.suite, arguments.sizes, arguments.limit)
    except UnknownSuiteError:
        raise UnknownSuiteError(
            f"unknown suite {arguments.suite!r}; choose from {', '.join([*SUITES, *PUBLIC_SUITES])}"
        ) from None


def score_of(task: Task, answer: Any) -> float:
    if task.suite in PUBLIC_SUITES:
        return PUBLIC_SUITES[task.suite].score(task, answer)
    return suite_named(task.suite).score(task, answer)


def print_table(summary: dict[str, Any]) -> None:
    print(f"{summary['suite']} · {summary['mode']} · {summary['model']}")
    header = f"{'size':>6} {'tasks':>6} {'accuracy':>9} {'cost $':>9} {'tokens':>10} {'wall s':>8}"
    print(header)
    print("-" * len(header))
    rows = [*summary["by_size"].items(), ("all", summary)]
    for size, row in rows:
        print(
            f"{size:>6} {row['tasks']:>6} {row['accuracy']:>9.3f} {row['cost']:>9.4f} {row['tokens']:>10} "
            f"{row['wall_s']:>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        tasks = tasks_for(arguments)
    except (UnknownSuiteError, UnknownSizeError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    store = ResultsStore(arguments.out or default_out(arguments.suite, arguments.model, arguments.baseline))
    stopped = run_suite(arguments, tasks, store)
    mode = "baseline" if arguments.baseline else "rlm"
    summary = store.summary(arguments.suite, mode, arguments.model, len(tasks), stopped and stopped.reason)
    print_table(summary)
    print(f"results: {store.results_file}\nsummary: {store.summary_file}")
    if stopped:
        print(
            f"stopped after {summary['tasks']} of {len(tasks)} tasks: {stopped.reason}\n"
            "Finished tasks are kept; run the same command again to resume.",
            file=sys.stderr,
        )
        return stopped.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
