"""What this process and everything under it use: peak resident memory, and the CPU that the rest
of the machine used meanwhile (other work skews a wall-time benchmark, so it is measured, not assumed).

The engine is a Deno subprocess and its REPL interpreters run in Deno subprocesses of its own, so
the sum over this process and its descendants covers the host, the engine and every REPL process.
Two sums are kept: RSS counts pages shared between processes (the deno binary's code, about 48 MB,
mapped by the engine and by every REPL process) once per process, so it errs on the high side;
PSS divides each shared page among the processes that map it, so it adds up to what the machine
actually holds.
"""

from __future__ import annotations

import threading
import time

import psutil

BYTES_PER_MB = 1024 * 1024
PSS_EVERY_NTH_SAMPLE = 10


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def process_tree_rss_bytes(root: psutil.Process) -> int:
    total = 0
    for member in _tree(root):
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # a process that ended between listing and reading holds no memory
    return total


def process_tree_pss_bytes(root: psutil.Process) -> int:
    total = 0
    for member in _tree(root):
        try:
            total += member.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


class PeakTreeRSS:
    """`with PeakTreeRSS() as peak: ...` then `peak.peak_mb` (RSS) and `peak.peak_pss_mb`; samples
    every `interval_s`."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self._samples = 0
        self._root = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / BYTES_PER_MB

    @property
    def peak_pss_mb(self) -> float:
        return self.peak_pss_bytes / BYTES_PER_MB

    def _take_sample(self) -> None:
        self.peak_bytes = max(self.peak_bytes, process_tree_rss_bytes(self._root))
        # PSS means reading every process's page map, which costs CPU the run would miss: taken at
        # a tenth of the rate, and always in the last sample.
        self._samples += 1
        if self._samples % PSS_EVERY_NTH_SAMPLE == 1 or self._stop.is_set():
            self.peak_pss_bytes = max(self.peak_pss_bytes, process_tree_pss_bytes(self._root))

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._take_sample()

    def __enter__(self) -> PeakTreeRSS:
        self._take_sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take_sample()


def _machine_busy_cpu_s() -> float:
    times = psutil.cpu_times()
    # guest and guest_nice are already inside user and nice; steal is a neighbour's use of our cores.
    fields = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(getattr(times, name, 0.0) for name in fields)


def _own_cpu_s(process: psutil.Process) -> tuple[float, float]:
    """This process's CPU time, and that of the children it has waited for. The finished engine is
    one, and it waits for its REPL processes, so the second figure holds them too."""
    times = process.cpu_times()
    return times.user + times.system, times.children_user + times.children_system


class OtherCPULoad:
    """`with OtherCPULoad() as other: ...` then `other.cores`: the CPU the rest of the machine used
    meanwhile, in cores. Also what this process tree used: `other.children_cpu_s` (the engine and
    its REPL processes) and `other.this_process_cpu_s` (here: the scripted model server, the host
    side of the run and the memory sampler). Measure only around code that waits for the children it
    starts."""

    def __init__(self) -> None:
        self.cores = 0.0
        self.children_cpu_s = 0.0
        self.this_process_cpu_s = 0.0
        self._process = psutil.Process()
        self._started_at = 0.0
        self._machine_start_s = 0.0
        self._own_start_s = (0.0, 0.0)

    def __enter__(self) -> OtherCPULoad:
        self._started_at = time.perf_counter()
        self._machine_start_s = _machine_busy_cpu_s()
        self._own_start_s = _own_cpu_s(self._process)
        return self

    def __exit__(self, *exc_info: object) -> None:
        elapsed_s = time.perf_counter() - self._started_at
        machine_s = _machine_busy_cpu_s() - self._machine_start_s
        this_process_s, children_s = _own_cpu_s(self._process)
        self.this_process_cpu_s = this_process_s - self._own_start_s[0]
        self.children_cpu_s = children_s - self._own_start_s[1]
        own_s = self.this_process_cpu_s + self.children_cpu_s
        self.cores = max(0.0, machine_s - own_s) / elapsed_s if elapsed_s > 0 else 0.0


def wait_for_idle_machine(max_busy_cores: float, timeout_s: float, sample_s: float = 2.0) -> bool:
    """Waits until the machine's CPU use over `sample_s` is below `max_busy_cores`; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        busy_cores = psutil.cpu_percent(interval=sample_s) / 100 * (psutil.cpu_count() or 1)
        if busy_cores < max_busy_cores:
            return True
        if time.monotonic() >= deadline:
            return False
