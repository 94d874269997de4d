"""benchmarks/process_tree.py: the CPU a benchmark run used, split between this process (the scripted
server's side) and the processes it started and waited for (the engine and its REPL processes)."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.process_tree import OtherCPULoad

BURN_S = 0.3
CLOCK_TICKS_S = 0.02  # the kernel counts CPU time in ticks of 10 ms
BURN = f"import time\nstarted = time.process_time()\nwhile time.process_time() - started < {BURN_S}: pass"


def burn_here() -> None:
    exec(BURN)


def test_a_grandchild_counts_once_its_parent_has_waited_for_it():
    # The engine stands in the middle: it starts REPL processes and waits for them before it exits.
    middle = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {BURN!r}], check=True)\n{BURN}"
    with OtherCPULoad() as load:
        subprocess.run([sys.executable, "-c", middle], check=True)
    assert load.children_cpu_s >= 2 * BURN_S - CLOCK_TICKS_S
    assert load.this_process_cpu_s < BURN_S


def test_this_process_counts_apart_from_its_children():
    with OtherCPULoad() as load:
        burn_here()
    assert load.this_process_cpu_s >= BURN_S - CLOCK_TICKS_S
    assert load.children_cpu_s < BURN_S / 10
