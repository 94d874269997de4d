"""How long a large context takes to reach the root agent's REPL, and what memory it costs.

    python benchmarks/context_load.py              # 1, 10 and 100 MB
    python benchmarks/context_load.py --sizes 1 10

For each size, a text context of that many MB (and a dict holding it) is handed to a run whose
scripted root agent answers `FINAL(len(...))` in its first step, so the run is engine start + one
model call + loading the context + one step. The figure of interest is the extra wall time over a
1 KB context. A warm-up run first keeps the one-time set-up out of the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_tree import PeakTreeRSS  # noqa: E402

import fast_rlm  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer, repl  # noqa: E402

BYTES_PER_MB = 1024 * 1024


def answer_length(request: dict) -> str:
    return repl("FINAL(len(context) if isinstance(context, str) else len(context['text']))")


def timed_run(server: ScriptedModelServer, query: object, log_dir: str) -> tuple[float, float, int]:
    with PeakTreeRSS() as peak:
        started = time.perf_counter()
        result = fast_rlm.run(
            query, config={"base_url": server.base_url, "api_key": "k"}, log_dir=log_dir, verbosity=0
        )
        wall = time.perf_counter() - started
    return wall, peak.peak_mb, result["results"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 100], help="context sizes in MB")
    args = parser.parse_args()
    with ScriptedModelServer(answer_length) as server, tempfile.TemporaryDirectory() as log_dir:
        timed_run(server, "warm-up", log_dir)
        baseline, baseline_rss, _ = timed_run(server, "x" * 1024, log_dir)
        print(f"baseline (1 KB context): {baseline:.2f} s wall, {baseline_rss:.0f} MB peak RSS\n")
        print(f"{'context':>16} {'wall s':>8} {'extra s':>8} {'peak MB':>8}  check")
        for size_mb in args.sizes:
            text = ("lorem ipsum dolor sit amet " * (int(size_mb * BYTES_PER_MB) // 27 + 1))[
                : int(size_mb * BYTES_PER_MB)
            ]
            for label, query in ((f"{size_mb:g} MB str", text), (f"{size_mb:g} MB dict", {"text": text})):
                wall, rss, length = timed_run(server, query, log_dir)
                check = "ok" if length == len(text) else f"WRONG length {length}"
                print(f"{label:>16} {wall:8.2f} {wall - baseline:8.2f} {rss:8.0f}  {check}")


if __name__ == "__main__":
    main()
