"""Budgets under fan-out: a root starts 2,000 children in one batch, with max_llm_calls=100 and with
no run-wide cap at all, end to end against the scripted model at 0 ms latency.

    python benchmarks/budgets.py                       # both scenarios, 5 runs each
    python benchmarks/budgets.py --repeat 9 --wait-idle-s 30

It imports the fast_rlm of the checkout it sits in: copy it into another checkout (main, say) and run
it there to compare. Targets: with the cap, at most 100 requests reach the model and the run ends
within 2 s of the 100th; without caps, the wall time is within 5% of the other checkout's (the
bookkeeping of the caps costs no more than that). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from process_tree import OtherCPULoad, wait_for_idle_machine

# Measure the checkout this script is in, even when another fast_rlm is installed.
CHECKOUT = Path(__file__).resolve().parent.parent
if (CHECKOUT / "fast_rlm" / "__init__.py").is_file():
    sys.path.insert(0, str(CHECKOUT))

import fast_rlm  # noqa: E402
from fast_rlm.errors import FastRLMError  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer, first_user_message, repl  # noqa: E402

CHILDREN = 2000
CALL_CAP = 100
CHILD_INSTRUCTION = "square it"
RUN_CAPS = ("max_llm_calls", "max_prompt_tokens", "max_completion_tokens", "max_money_spent")
IDLE_MACHINE_CORES = 0.2
SCENARIOS: dict[str, dict[str, Any]] = {
    f"max_llm_calls={CALL_CAP}": {**dict.fromkeys(RUN_CAPS), "max_llm_calls": CALL_CAP},
    "no caps": dict.fromkeys(RUN_CAPS),
}


def respond(request: dict[str, Any]) -> str:
    """Root: every child in one batch, past the ones that fail; FINAL how many answered. Child: FINAL."""
    if CHILD_INSTRUCTION in first_user_message(request):
        return repl("FINAL(context * context)")
    return repl(
        f"done = await batch_llm_query(*[llm_query(n, {CHILD_INSTRUCTION!r}) for n in range({CHILDREN})], "
        "return_exceptions=True)\n"
        "FINAL(sum(1 for answer in done if not isinstance(answer, Exception)))"
    )


@dataclass
class Measurement:
    wall_s: float
    requests: int
    after_cap_s: float | None  # from the CALL_CAP-th request reaching the model to run() returning
    engine_cpu_s: float  # CPU the engine process used: less skewed than wall time on a busy machine
    other_cpu_cores: float
    problem: str | None


def measure(caps: dict[str, Any], log_dir: Path) -> Measurement:
    arrivals: list[float] = []
    arrivals_lock = threading.Lock()

    def timed_respond(request: dict[str, Any]) -> str:
        with arrivals_lock:
            arrivals.append(time.perf_counter())
        return respond(request)

    problem = None
    with ScriptedModelServer(timed_respond) as server, OtherCPULoad() as other:
        config = {"base_url": server.base_url, "api_key": "benchmark", "max_depth": 1, **caps}
        engine_cpu_before = _finished_children_cpu_s()
        started = time.perf_counter()
        try:
            fast_rlm.run("q", config=config, log_dir=log_dir, verbosity=0)
        except FastRLMError as error:
            problem = f"{type(error).__name__}: {error}"
        ended = time.perf_counter()
        engine_cpu_s = _finished_children_cpu_s() - engine_cpu_before
    cap_reached = sorted(arrivals)[CALL_CAP - 1] if len(arrivals) >= CALL_CAP else None
    return Measurement(
        wall_s=ended - started,
        requests=len(arrivals),
        after_cap_s=None if cap_reached is None else ended - cap_reached,
        engine_cpu_s=engine_cpu_s,
        other_cpu_cores=other.cores,
        problem=problem,
    )


def _finished_children_cpu_s() -> float:
    """User + system CPU of this process's children that have ended and been waited for (the engine)."""
    times = os.times()
    return times.children_user + times.children_system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument(
        "--wait-idle-s",
        type=float,
        default=0,
        help="before each run, wait up to this long for the machine to be idle (default: do not wait)",
    )
    arguments = parser.parse_args()
    print(f"fast_rlm from {Path(fast_rlm.__file__).parent}; {CHILDREN} children at 0 ms latency", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fast-rlm-budgets-") as log_dir:
        measure(SCENARIOS["no caps"], Path(log_dir))  # warm-up: the engine cache and the OS's file cache
        runs: dict[str, list[Measurement]] = {name: [] for name in SCENARIOS}
        for _ in range(arguments.repeat):  # interleaved, so drifting load on the machine hits both alike
            for name, caps in SCENARIOS.items():
                if arguments.wait_idle_s > 0:
                    wait_for_idle_machine(IDLE_MACHINE_CORES, arguments.wait_idle_s)
                runs[name].append(measure(caps, Path(log_dir)))
        for name, measurements in runs.items():
            after_cap = [m.after_cap_s for m in measurements if m.after_cap_s is not None]
            rows.append(
                [
                    name,
                    f"{statistics.median(m.wall_s for m in measurements):.2f}",
                    f"{min(m.wall_s for m in measurements):.2f}",
                    f"{statistics.median(m.engine_cpu_s for m in measurements):.2f}",
                    "/".join(str(count) for count in sorted({m.requests for m in measurements})),
                    f"{statistics.median(after_cap):.2f}" if after_cap else "-",
                    f"{max(m.other_cpu_cores for m in measurements):.2f}",
                ]
            )
            for problem in {m.problem for m in measurements if m.problem}:
                print(f"  {name}: {problem[:300]}")
    headers = ["scenario", "wall s (median)", "min s", "engine CPU s", "requests", "end after cap s"]
    headers.append("other CPU")
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for cells in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
    print(
        f"\nend after cap: from the {CALL_CAP}th request reaching the model to run() returning (median).\n"
        "engine CPU: user + system CPU of the engine process (median); steadier than wall time under load.\n"
        "other CPU: cores the rest of the machine used during a run, the max; above ~0.2 it skews the times."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
