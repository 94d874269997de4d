"""How fast Ctrl-C stops a run: SIGINT to a Python process whose run has children waiting on the
model, until the engine process is gone and until the Python process has exited (after writing the
closing log line and printing its partial results). Target: every agent stopped within 1 s.

    python benchmarks/cancellation.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from fast_rlm.scripted.server import ScriptedModelServer, ScriptedReply, first_user_message, repl

SLOW_CHILDREN = 8

RUNNER = """
import json, sys
import fast_rlm
try:
    fast_rlm.run("q", config=json.loads(sys.argv[1]), log_dir=sys.argv[2], verbosity=0)
except fast_rlm.errors.CancelledError as error:
    print(json.dumps(error.partial_results))
"""


class WaitingChildren:
    def __init__(self) -> None:
        self.all_waiting = threading.Event()
        self._seen = 0
        self._lock = threading.Lock()

    def __call__(self, request):
        if "slow" not in first_user_message(request):
            calls = ", ".join(f"llm_query({n}, 'slow')" for n in range(SLOW_CHILDREN))
            return repl(f"FINAL(await batch_llm_query({calls}))")
        with self._lock:
            self._seen += 1
            if self._seen == SLOW_CHILDREN:
                self.all_waiting.set()
        return ScriptedReply(content=repl("FINAL(0)"), delay_s=120)


def one_cancel(log_dir: str) -> tuple[float, float]:
    model = WaitingChildren()
    with ScriptedModelServer(model) as server:
        config = json.dumps({"base_url": server.base_url, "api_key": "k"})
        runner = subprocess.Popen(
            [sys.executable, "-c", RUNNER, config, log_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        if not model.all_waiting.wait(timeout=60):
            runner.kill()
            raise SystemExit("the children never reached the model")
        engines = [
            child for child in psutil.Process(runner.pid).children(recursive=True) if "deno" in child.name()
        ]
        interrupted = time.perf_counter()
        os.kill(runner.pid, signal.SIGINT)
        psutil.wait_procs(engines, timeout=10)
        engine_gone = time.perf_counter() - interrupted
        runner.communicate(timeout=10)
        return engine_gone, time.perf_counter() - interrupted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as log_dir:
        timings = [one_cancel(log_dir) for _ in range(args.repeat)]
    engine = [engine_gone for engine_gone, _ in timings]
    host = [exited for _, exited in timings]
    print(f"Ctrl-C with {SLOW_CHILDREN} children waiting on the model, {args.repeat} runs (target: < 1 s)")
    for label, seconds in (("engine process gone:  ", engine), ("Python process exited:", host)):
        median_ms, max_ms = statistics.median(seconds) * 1000, max(seconds) * 1000
        print(f"  {label} median {median_ms:5.0f} ms, max {max_ms:5.0f} ms")


if __name__ == "__main__":
    main()
