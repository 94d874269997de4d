"""Recovery from a dying REPL process, measured: a kill, an out-of-memory and a stdout flood in one
child among 32.

    python benchmarks/recovery.py
    python benchmarks/recovery.py --repeat 3 --repl-memory-mb 1024

The root fans out 32 children; child 13 meets the hazard, the others return the square of their
number. Then the root starts one more child, which lands where the children were: on the
replacement, if their REPL process was replaced. Everything is measured from the host:

- hazard -> gone: from the hazard child's last host call before the hazard to its REPL process
  leaving the engine's children (the engine has reaped it), seen by a thread that lists the
  engine's child processes every 2 ms;
- gone -> new: until the engine has started the replacement process;
- gone -> step: until the next child's step ran on the replacement (it calls a host function):
  the replacement restored its snapshot and took an agent, plus one scripted model call (0 ms);
- wall: around fast_rlm.run(), engine start included;
- others ok: children other than 13 that returned their square (of 31). Children still running on
  the same process when it dies lose their REPL too: that is the design (the state lived there).

No asserts on time: this prints figures. Runs with `workers` 2 (root on one process, its children on
the other) unless told otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

# Measure the checkout this script is in, even when another fast_rlm is installed.
CHECKOUT = Path(__file__).resolve().parent.parent
if (CHECKOUT / "fast_rlm" / "__init__.py").is_file():
    sys.path.insert(0, str(CHECKOUT))

import fast_rlm  # noqa: E402
from fast_rlm.scripted.server import ScriptedModelServer, first_user_message, repl  # noqa: E402

CHILDREN = 32
HAZARD_INDEX = 13
FLOOD_MB = 2048
POLL_S = 0.002
HAZARDS = {
    "kill (os._exit)": "import os\nos._exit(3)",
    "out of memory": "grown = []\nwhile True:\n    grown.append(bytearray(50 << 20))",
    f"stdout flood ({FLOOD_MB} MB, no newline)": (
        f"import os\nchunk = b'x' * (1 << 20)\nfor _ in range({FLOOD_MB}):\n    os.write(1, chunk)\n"
        "FINAL('flooded')"
    ),
}


def _child_pids(pid: int) -> set[int]:
    """A process's children, from /proc (cheap enough to poll every few ms), else psutil."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return {int(child) for task in tasks for child in (task / "children").read_text().split()}
    except OSError:
        try:
            return {child.pid for child in psutil.Process(pid).children()}
        except psutil.Error:
            return set()


def _runs_supervisor(pid: int) -> bool:
    try:
        command = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return bool(command) and command[-1].endswith("supervisor.ts")


class ReplProcessWatch:
    """Records when the engine's REPL processes appear and disappear, polling every POLL_S."""

    def __init__(self) -> None:
        self.appeared: dict[int, float] = {}
        self.gone: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _engine_pid(self) -> int | None:
        for child in psutil.Process().children():
            try:
                if child.cmdline()[-1].endswith("main.ts"):
                    return child.pid
            except (psutil.Error, IndexError):
                continue
        return None

    def _watch(self) -> None:
        engine = None
        known: set[int] = set()
        while not self._stop.wait(POLL_S):
            engine = engine or self._engine_pid()
            if engine is None:
                continue
            now = time.perf_counter()
            current = {pid for pid in _child_pids(engine) if pid in known or _runs_supervisor(pid)}
            for pid in current - known:
                self.appeared[pid] = now
            for pid in known - current:
                self.gone[pid] = now
            known = current

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_with_hazard(hazard_code: str, workers: int, repl_memory_mb: int, log_dir: str) -> dict:
    marks: dict[str, float] = {}

    def hazard_starts() -> None:
        """Called by the hazard child just before the hazard."""
        marks["hazard"] = time.perf_counter()

    def next_child_runs() -> None:
        """Called by the child started after the fan-out, from its first step."""
        marks["next step"] = time.perf_counter()

    def respond(request):
        task = first_user_message(request).splitlines()[0]
        if task == "Task: hazard":
            return repl("await hazard_starts()\n" + hazard_code)
        if task == "Task: square":
            return repl("FINAL(context * context)")
        if task == "Task: next":
            return repl("await next_child_runs()\nFINAL('ran')")
        calls = ", ".join(
            f"llm_query({n}, 'hazard', tools=['hazard_starts'])"
            if n == HAZARD_INDEX
            else f"llm_query({n}, 'square')"
            for n in range(CHILDREN)
        )
        return repl(
            f"results = await batch_llm_query({calls}, return_exceptions=True)\n"
            "shown = [r if isinstance(r, (int, str)) else f'{type(r).__name__}: {r}' for r in results]\n"
            "FINAL({'children': shown, 'next': await llm_query(0, 'next', tools=['next_child_runs'])})"
        )

    watch = ReplProcessWatch()
    with ScriptedModelServer(respond) as server:
        config = {
            "base_url": server.base_url,
            "api_key": "k",
            "workers": workers,
            "repl_memory_mb": repl_memory_mb,
            "run_timeout_s": 120,
        }
        started = time.perf_counter()
        result = fast_rlm.run(
            "q", config=config, log_dir=log_dir, verbosity=0, host_functions=[hazard_starts, next_child_runs]
        )
        wall = time.perf_counter() - started
    watch.stop()
    # The hazard's process: the first REPL process to go after the hazard began and before the next
    # child ran (the run's end takes the others down too).
    gone_after = sorted(
        (at, pid) for pid, at in watch.gone.items() if marks["hazard"] <= at <= marks["next step"]
    )
    figures: dict = {"wall": wall, "to gone": None, "to new": None, "to step": None}
    if gone_after:
        gone_at, _ = gone_after[0]
        new_after = sorted(at for at in watch.appeared.values() if at >= gone_at)
        figures["to gone"] = gone_at - marks["hazard"]
        figures["to new"] = new_after[0] - gone_at if new_after else None
        figures["to step"] = marks["next step"] - gone_at
    children = result["results"]["children"]
    others = [value for index, value in enumerate(children) if index != HAZARD_INDEX]
    figures["others ok"] = sum(
        value == index * index for index, value in enumerate(children) if index != HAZARD_INDEX
    )
    figures["others failed"] = len(others) - figures["others ok"]
    figures["hazard child"] = str(children[HAZARD_INDEX])
    figures["next"] = result["results"]["next"]
    return figures


def _ms(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    return f"{statistics.median(known) * 1000:.0f}" if known else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repl-memory-mb", type=int, default=1024)
    args = parser.parse_args()
    print(
        f"{CHILDREN} children, child {HAZARD_INDEX} meets the hazard; workers={args.workers}, "
        f"repl_memory_mb={args.repl_memory_mb}; medians of {args.repeat} runs (ms unless marked)\n"
    )
    columns = f"{'hazard->gone':>12} {'gone->new':>10} {'gone->step':>11} {'wall s':>7} {'others ok':>10}"
    print(f"{'hazard':34} {columns}  child {HAZARD_INDEX} got")
    with tempfile.TemporaryDirectory() as log_dir:
        for label, code in HAZARDS.items():
            runs = [
                run_with_hazard(code, args.workers, args.repl_memory_mb, log_dir) for _ in range(args.repeat)
            ]
            wall = statistics.median(run["wall"] for run in runs)
            others = min(run["others ok"] for run in runs)
            print(
                f"{label:34} {_ms([r['to gone'] for r in runs]):>12} {_ms([r['to new'] for r in runs]):>10} "
                f"{_ms([r['to step'] for r in runs]):>11} {wall:7.2f} {f'{others}/{CHILDREN - 1}':>10}  "
                f"{runs[-1]['hazard child'].split('was lost: ')[-1][:70]}"
            )
            if any(run["next"] != "ran" for run in runs):
                print("  the child after the fan-out did not run")
                sys.exit(1)


if __name__ == "__main__":
    main()
