"""Where the time and CPU of a big run go: fan-out 1,000 and a 100 MB context (issue 15, item 5).

    python benchmarks/profile_hotspots.py                   # fan-out 1000 @ 0 ms, then a 100 MB context
    python benchmarks/profile_hotspots.py --fanout 100 --context-mb 10   # smaller

For each run: wall time split into phases read from the run's log (run() called -> run_start ->
root agent_start -> first model request -> last child ends -> run_end -> run() returns), and the
CPU seconds of each process kind (this Python process, which also serves the scripted model; the
deno engine; its REPL processes), sampled every 50 ms, with peak RSS. The largest figure is what
to act on first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(BENCHMARKS.parent))

import psutil  # noqa: E402
from fanout import NO_RUN_CAPS, fanout_responder  # noqa: E402
from process_tree import PeakTreeRSS  # noqa: E402

import fast_rlm  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer, repl  # noqa: E402

SAMPLE_S = 0.05


def kind_of(process: psutil.Process) -> str:
    if process.pid == psutil.Process().pid:
        return "python host (+ scripted server)"
    command = " ".join(process.cmdline())
    if "deno" not in command:
        return "other"
    return "deno REPL processes" if "repl" in command else "deno engine (main)"


class CPUByKind:
    """CPU seconds per process kind over the run: the last reading of each process, summed."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._start = psutil.Process().cpu_times()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(SAMPLE_S):
            for process in [me, *me.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                    self.last[process.pid] = (kind_of(process), times.user + times.system)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue

    def __enter__(self) -> CPUByKind:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        me = psutil.Process()
        times = me.cpu_times()
        self.last[me.pid] = (kind_of(me), times.user + times.system - self._start.user - self._start.system)

    def totals(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for kind, seconds in self.last.values():
            totals[kind] += seconds
        return dict(totals)


def phases(
    log_file: str, called: float, returned: float, first_request: float | None
) -> list[tuple[str, float]]:
    events = [json.loads(line) for line in Path(log_file).read_text().splitlines()]
    at = {event["event"]: event["ts"] for event in reversed(events)}  # the first of each kind
    child_ends = [
        event["ts"] for event in events if event["event"] == "agent_end" and event["agent_id"] != "root"
    ]
    marks = [
        ("run() called -> run_start logged", at["run_start"] - called),
        ("run_start -> root agent_start", at["agent_start"] - at["run_start"]),
    ]
    if first_request is not None:
        marks.append(("root agent_start -> first model request", first_request - at["agent_start"]))
        # The root's first code runs once its reply is in and a REPL process is ready for it.
        marks.append(("first model request -> root's first step logged", at["code_step"] - first_request))
        if not child_ends:
            marks.append(("root's first step -> run_end", events[-1]["ts"] - at["code_step"]))
        else:
            marks.append(("root's first step -> last child ends", max(child_ends) - at["code_step"]))
            marks.append(("last child ends -> run_end", events[-1]["ts"] - max(child_ends)))
    marks.append(("run_end -> run() returns", returned - events[-1]["ts"]))
    return marks


def profile(label: str, query: Any, responder: Any, log_dir: Path) -> None:
    arrivals: list[float] = []

    def timed(request: dict[str, Any]) -> str:
        arrivals.append(time.time())
        return responder(request)

    with ScriptedModelServer(timed) as server:
        config = {"base_url": server.base_url, "api_key": "benchmark", "max_depth": 1, **NO_RUN_CAPS}
        with PeakTreeRSS() as peak, CPUByKind() as cpu:
            called = time.time()
            outcome = fast_rlm.run(query, config=config, log_dir=log_dir, verbosity=0)
            returned = time.time()
    print(
        f"\n## {label}: {returned - called:.2f} s wall, {peak.peak_mb:.0f} MB peak RSS, "
        f"{len(arrivals)} model requests"
    )
    for name, seconds in phases(outcome["log_file"], called, returned, min(arrivals, default=None)):
        print(f"  {name:<45} {seconds:7.2f} s")
    print("  CPU seconds by process kind:")
    for kind, seconds in sorted(cpu.totals().items(), key=lambda item: -item[1]):
        print(f"    {kind:<43} {seconds:7.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--context-mb", type=float, default=100)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fast-rlm-profile-") as temporary:
        log_dir = Path(temporary)
        profile("warm-up (fan-out 1)", [0], fanout_responder, log_dir)
        profile(
            f"fan-out {arguments.fanout} @ 0 ms", list(range(arguments.fanout)), fanout_responder, log_dir
        )
        text = "lorem ipsum dolor sit amet needle-7 " * (int(arguments.context_mb * 2**20) // 36 + 1)
        search = repl("import re\nFINAL(len(re.findall(r'needle-\\d+', context)))")
        profile(f"{arguments.context_mb:g} MB context, regex search", text, lambda request: search, log_dir)
        profile("1 KB context, regex search", text[:1024], lambda request: search, log_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
