"""Replay and resume against their targets (issue 14).

Replay: a 100-child fan-out is recorded against the scripted model, the model is stopped, and the
run is replayed from its log with no endpoint and no key. Reported: the replay's wall time (engine
start, REPLs and every agent's code included). Target: under 1.5 s.

The replay does what the live run does but the HTTP round trips (every agent's REPL and code run
again), so a live run of the same fan-out is timed in turn with it for comparison.

Resume: a 40-child fan-out (41 requests: the root's and one per child) is killed (its engine and
REPL processes, SIGKILL) as soon as the model has received 21 requests; requests after those hang.
Then fast_rlm.resume() finishes it. Reported: requests the resume sent, against the target of the
20 never sent plus those in flight at the kill (received but not in the log).

    python benchmarks/replay.py [--children 100] [--resume-children 40] [--kill-after 21] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout being measured

import psutil  # noqa: E402

import fast_rlm  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer, ScriptedReply, first_user_message, repl  # noqa: E402

REPLAY_TARGET_S = 1.5
HANG_S = 120.0


def _fan_out(children: int):
    def respond(request):
        if "Answer the query held in `context`." in first_user_message(request):
            return repl(
                f"FINAL(await batch_llm_query(*[llm_query(n, 'square it') for n in range({children})]))"
            )
        return repl("FINAL(context * context)")

    return respond


class _KilledAfter:
    """The fan-out, answering its first `answered` requests and hanging on the rest."""

    def __init__(self, children: int, answered: int) -> None:
        self.respond = _fan_out(children)
        self.answered = answered
        self.hanging = True
        self.received = 0
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request):
        with self._lock:
            self.received += 1
            number = self.received
        if self.hanging and number > self.answered:
            return ScriptedReply(content=self.respond(request), delay_s=HANG_S)
        if number == self.answered:
            self.reached.set()
        return self.respond(request)


def _kill_engines() -> None:
    for process in psutil.Process().children(recursive=True):
        if "deno" in process.name():
            process.kill()


def _llm_calls(log_file: str) -> int:
    lines = Path(log_file).read_text().splitlines()
    return sum(1 for line in lines if line.strip() and json.loads(line).get("event") == "llm_call")


def measure_replay(children: int, repeat: int, scratch: str) -> tuple[list[float], list[float]]:
    """Wall seconds of each replay, and of each live run of the same fan-out (0 ms model latency)
    taken in turn with them, so that a loaded machine shows in both."""
    replays, lives = [], []
    with ScriptedModelServer(_fan_out(children)) as server:
        config = {"base_url": server.base_url, "api_key": "k", "max_concurrency": 64}
        for _ in range(repeat):
            started = time.perf_counter()
            recorded = fast_rlm.run("bench", config=config, verbosity=0, log_dir=scratch)
            lives.append(time.perf_counter() - started)
            sent = server.request_count
            started = time.perf_counter()
            replayed = fast_rlm.run(replay=recorded["log_file"], verbosity=0, log_dir=scratch)
            replays.append(time.perf_counter() - started)
            assert server.request_count == sent
            assert replayed["results"] == recorded["results"]
            assert replayed["usage"]["replayed_calls"] == children + 1
    return replays, lives


def measure_resume(children: int, kill_after: int, scratch: str) -> dict[str, int]:
    model = _KilledAfter(children, kill_after)
    with ScriptedModelServer(model) as server:
        config = {"base_url": server.base_url, "api_key": "k", "max_concurrency": 64}
        killer = threading.Thread(target=lambda: (model.reached.wait(120), _kill_engines()))
        killer.start()
        try:
            fast_rlm.run("bench", config=config, verbosity=0, log_dir=scratch)
            raise AssertionError("the run was to be killed")
        except fast_rlm.errors.EngineCrashError as error:
            log_file = error.log_file
        killer.join()
        logged = _llm_calls(log_file)
        model.hanging = False
        sent_before = server.request_count
        resumed = fast_rlm.resume(log_file, config=config, verbosity=0)
        assert resumed["results"] == [n * n for n in range(children)]
        return {
            "total": children + 1,
            "received_before_kill": kill_after,
            "in_flight_at_kill": kill_after - logged,
            "sent_by_resume": server.request_count - sent_before,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--resume-children", type=int, default=40)
    parser.add_argument("--kill-after", type=int, default=21)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        seconds, lives = measure_replay(args.children, args.repeat, scratch)
        resume = measure_resume(args.resume_children, args.kill_after, scratch)
    median = statistics.median(seconds)
    never_sent = resume["total"] - resume["received_before_kill"]
    allowed = never_sent + resume["in_flight_at_kill"]
    print(
        f"replay of a {args.children}-child run, no endpoint: median {median:.2f} s "
        f"(runs: {', '.join(f'{s:.2f}' for s in seconds)}); target < {REPLAY_TARGET_S} s: "
        f"{'met' if median < REPLAY_TARGET_S else 'MISSED'} (the same run live, 0 ms model: median "
        f"{statistics.median(lives):.2f} s)"
    )
    print(
        f"resume of a {args.resume_children}-child run killed after {args.kill_after} requests: sent "
        f"{resume['sent_by_resume']} (never sent {never_sent}, in flight at the kill "
        f"{resume['in_flight_at_kill']}); target <= {allowed}: "
        f"{'met' if resume['sent_by_resume'] <= allowed else 'MISSED'}"
    )
    return 0 if median < REPLAY_TARGET_S and resume["sent_by_resume"] <= allowed else 1


if __name__ == "__main__":
    raise SystemExit(main())
