"""Runaway code, measured: how soon a hung step is stopped, and what a runaway child costs a fan-out.

    python benchmarks/runaway.py
    python benchmarks/runaway.py --step-timeout-s 0.5 --repeat 5

1. interrupt latency: an agent runs `while True: pass` (and variants: a loop that swallows the
   interrupt, time.sleep, asyncio.sleep); the log's code_step duration minus step_timeout_s is how
   late the engine stopped it. Target: within 100 ms.
2. one runaway among 32: the root fans out 32 children; one of them never ends (a Python loop, or a
   C-level `sum(range(10**13))` that only a worker restart stops). The run must finish with the
   other 31 results. It runs with `workers: 2`, which keeps children off their parent's process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import fast_rlm
from fast_rlm.scripted.server import ScriptedModelServer, call_number, first_user_message, repl

RUNAWAY_STEPS = {
    "while True: pass": "while True:\n    pass",
    "swallows the interrupt": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass"
    ),
    "time.sleep(600)": "import time\ntime.sleep(600)",
    "await asyncio.sleep(600)": "import asyncio\nawait asyncio.sleep(600)",
}
CHILD_RUNAWAYS = {"Python loop": "while True:\n    pass", "C-level loop": "sum(range(10**13))"}
CHILDREN = 32
RUNAWAY_INDEX = 13


def step_overrun_ms(code: str, step_timeout_s: float, log_dir: str) -> float:
    def respond(request):
        return repl(code) if call_number(request) == 1 else repl("FINAL('stopped')")

    with ScriptedModelServer(respond) as server:
        config = {"base_url": server.base_url, "api_key": "k", "step_timeout_s": step_timeout_s}
        result = fast_rlm.run("q", config=config, log_dir=log_dir, verbosity=0)
    events = [json.loads(line) for line in Path(result["log_file"]).read_text().splitlines()]
    step = next(event for event in events if event["event"] == "code_step")
    assert "StepTimedOut" in step["error"], step["error"]
    return (step["duration_s"] - step_timeout_s) * 1000


def fan_out_with_runaway(runaway: str, step_timeout_s: float, log_dir: str) -> tuple[float, list]:
    def respond(request):
        task = first_user_message(request)
        if "runaway" in task:
            return repl(runaway) if call_number(request) == 1 else repl("FINAL('gave up')")
        if "square" in task:
            return repl("FINAL(context * context)")
        calls = ", ".join(
            f"llm_query({n}, '{'runaway' if n == RUNAWAY_INDEX else 'square'}')" for n in range(CHILDREN)
        )
        return repl(
            f"results = await batch_llm_query({calls}, return_exceptions=True)\n"
            "FINAL([f'{type(r).__name__}: {r}' if isinstance(r, BaseException) else r for r in results])"
        )

    with ScriptedModelServer(respond) as server:
        # Two REPL processes: children are placed away from their parent, so the root outlives a child
        # whose C-level loop costs its process (with one, the default on 2 cores, it would not).
        config = {"base_url": server.base_url, "api_key": "k", "step_timeout_s": step_timeout_s, "workers": 2}
        started = time.perf_counter()
        result = fast_rlm.run("q", config=config, log_dir=log_dir, verbosity=0)
        return time.perf_counter() - started, result["results"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--step-timeout-s", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as log_dir:
        target = "target: stopped within 100 ms"
        print(f"step_timeout_s = {args.step_timeout_s}; {args.repeat} runs each; {target}\n")
        print(f"{'runaway step':28} {'median ms late':>15} {'max ms late':>12}")
        for label, code in RUNAWAY_STEPS.items():
            overruns = [step_overrun_ms(code, args.step_timeout_s, log_dir) for _ in range(args.repeat)]
            print(f"{label:28} {statistics.median(overruns):15.0f} {max(overruns):12.0f}")
        target = f"target: the other {CHILDREN - 1} results"
        print(f"\n{CHILDREN} children, child {RUNAWAY_INDEX} runs away; {target}\n")
        print(f"{'runaway child':16} {'wall s':>7} {'results':>8}  child {RUNAWAY_INDEX} got")
        for label, code in CHILD_RUNAWAYS.items():
            wall, results = fan_out_with_runaway(code, args.step_timeout_s, log_dir)
            others = [value for index, value in enumerate(results) if index != RUNAWAY_INDEX]
            complete = others == [n * n for n in range(CHILDREN) if n != RUNAWAY_INDEX]
            shown = str(results[RUNAWAY_INDEX])[:70]
            print(f"{label:16} {wall:7.2f} {len(others) if complete else 'WRONG':>8}  {shown}")
            if not complete:
                sys.exit(1)


if __name__ == "__main__":
    main()
