"""The transport floor of a fan-out: how fast its model requests alone can go on this machine.

    python benchmarks/transport_floor.py --fanouts 1 100 1000 --latency-ms 500

A fan-out's wall time is the model's latency (twice: the root's call, then the children's), the
engine's own work, and what it costs to carry 1 + N requests to the model and back. This measures
the last part with nothing else: a Deno process makes the root's request, then the N children's at
once, each on a fresh HTTP/1.1 connection as the engine's would be, against the same scripted model
server the benchmarks use (in this process). `wall s` counts from starting that Deno process, as a
run's wall time counts from calling run(); `requests s` from its first request. What a fan-out takes
beyond `wall s` is the engine's share (starting agents, their REPL steps, the log).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))

from fast_rlm.host.deno_setup import deno_environment, offline_deno_run  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer  # noqa: E402

SCRIPT = BENCHMARKS / "transport_floor.ts"
# About the size of a child's first request: its system prompt and task.
REQUEST_BODY = json.dumps(
    {
        "model": "floor",
        "messages": [
            {"role": "system", "content": "You are an agent working inside a Python REPL. " * 25},
            {"role": "user", "content": "Task: Return the square of the number in context."},
        ],
    }
)
TIMEOUT_S = 300


@dataclass
class Floor:
    children: int
    latency_ms: int
    wall_s: float  # from starting the Deno process
    requests_s: float  # from its first request


def transport_floor(children: int, latency_ms: int) -> Floor:
    with ScriptedModelServer(lambda request: "ok", latency_s=latency_ms / 1000) as server:
        started = time.perf_counter()
        finished = subprocess.run(
            [
                *offline_deno_run(),
                "--allow-net={}:{}".format(*server.address),
                str(SCRIPT),
                f"{server.base_url}/chat/completions",
                str(children),
                REQUEST_BODY,
            ],
            capture_output=True,
            text=True,
            env=deno_environment(),
            timeout=TIMEOUT_S,
        )
        wall_s = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"the transport floor's Deno script failed: {finished.stderr[-2000:]}")
    if server.request_count != children + 1:
        raise RuntimeError(f"the server got {server.request_count} requests, not {children + 1}")
    return Floor(children, latency_ms, wall_s, json.loads(finished.stdout)["requests_s"])


def median_floor(children: int, latency_ms: int, repeat: int) -> Floor:
    runs = [transport_floor(children, latency_ms) for _ in range(repeat)]
    return sorted(runs, key=lambda floor: floor.wall_s)[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fanouts", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'children':>8} {'latency ms':>10} {'ideal s':>8} {'wall s':>7} {'requests s':>10}")
    for children in args.fanouts:
        floor = median_floor(children, args.latency_ms, args.repeat)
        ideal_s = 2 * args.latency_ms / 1000
        print(
            f"{children:>8} {args.latency_ms:>10} {ideal_s:>8.2f} {floor.wall_s:>7.2f} "
            f"{floor.requests_s:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
