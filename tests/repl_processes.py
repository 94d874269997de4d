"""The engine's REPL processes seen from the host, for tests that crash, kill or count them.

Host functions run in the host process, so agent code can call into these while the run is going
on: a host function blocks its caller until a point of the run is reached (every child has
arrived, a REPL process has died), which lines agents up without sleeping.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable
from typing import Any

import psutil

ENGINE_ENTRY = "main.ts"
REPL_ENTRY = "supervisor.ts"
WAIT_TIMEOUT_S = 30.0  # a point that is never reached fails the test instead of hanging it

# Agent code: a token for the interpreter it runs in, the same for every agent placed on one REPL
# process (modules are shared there) and different between processes.
INTERPRETER_TOKEN_CODE = (
    "import os, sys\ntoken = sys.__dict__.setdefault('_test_interpreter', os.urandom(8).hex())\n"
)


def _runs(process: psutil.Process, entry: str) -> bool:
    try:
        command = process.cmdline()
    except psutil.Error:
        return False
    return bool(command) and command[-1].endswith(entry)


def engine_processes() -> list[psutil.Process]:
    """The Deno engines this process started (one per run in progress)."""
    return [child for child in psutil.Process().children() if _runs(child, ENGINE_ENTRY)]


def repl_processes() -> list[psutil.Process]:
    """The REPL processes of the running engines."""
    processes = []
    for engine in engine_processes():
        try:
            processes += [child for child in engine.children() if _runs(child, REPL_ENTRY)]
        except psutil.NoSuchProcess:
            continue
    return processes


def all_engine_descendants() -> list[psutil.Process]:
    descendants = []
    for engine in engine_processes():
        try:
            descendants += engine.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
    return descendants


def wait_for_any_exit(processes: list[psutil.Process], timeout_s: float = WAIT_TIMEOUT_S) -> psutil.Process:
    """The first of `processes` to end; raises TimeoutError if none does within timeout_s."""
    exited: queue.Queue[psutil.Process] = queue.Queue()

    def watch(process: psutil.Process) -> None:
        try:
            process.wait(timeout_s)
        except psutil.TimeoutExpired:
            return
        except psutil.NoSuchProcess:
            pass
        exited.put(process)

    for process in processes:
        threading.Thread(target=watch, args=(process,), daemon=True).start()
    try:
        return exited.get(timeout=timeout_s)
    except queue.Empty:
        raise TimeoutError(f"none of the REPL processes ended within {timeout_s} s") from None


def kill_largest_repl_process() -> int:
    """SIGKILLs the REPL process using the most memory; returns its pid. The caller makes its own
    process the largest by a clear margin (ballast), so this is the process hosting the caller."""
    by_memory = sorted(repl_processes(), key=lambda process: process.memory_info().rss, reverse=True)
    largest, runner_up = by_memory[0].memory_info().rss, by_memory[1].memory_info().rss
    if largest - runner_up < 100 * 1024 * 1024:
        raise RuntimeError(
            f"no REPL process stands out by memory ({largest >> 20} MB vs {runner_up >> 20} MB)"
        )
    by_memory[0].send_signal(signal.SIGKILL)
    return by_memory[0].pid


class CrashStage:
    """Host functions that line up a fan-out around one child's crash.

    Every child calls `checkin(index, token)`, which returns once all have arrived (so all of them are
    placed and running when the crash comes) and tells the child whether it is the one to crash.
    The others call `crash_seen()`, which returns once a REPL process that existed at check-in has
    ended, and then finish. `tokens` maps each child to its interpreter (INTERPRETER_TOKEN_CODE), so a
    test knows which children shared the crashed process.
    """

    def __init__(self, children: int, crashing_index: int) -> None:
        self.crashing_index = crashing_index
        self.tokens: dict[int, str] = {}
        self.lost_pid: int | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Barrier(children, timeout=WAIT_TIMEOUT_S, action=self._note_processes)
        self._processes_at_checkin: list[psutil.Process] = []
        self._crash_seen = threading.Event()

    def _note_processes(self) -> None:
        self._processes_at_checkin = repl_processes()

    def host_functions(self) -> list[Callable[..., Any]]:
        stage = self

        def checkin(index: int, token: str) -> bool:
            """Wait until every child has arrived; True for the child that is to crash."""
            with stage._lock:
                stage.tokens[index] = token
            stage._arrived.wait()
            return index == stage.crashing_index

        def crash_seen() -> int:
            """Wait until a REPL process has ended; returns its pid."""
            with stage._lock:
                if stage.lost_pid is None:
                    stage.lost_pid = wait_for_any_exit(stage._processes_at_checkin).pid
            return stage.lost_pid

        def kill_my_process() -> int:
            """SIGKILL the caller's REPL process from outside (the caller holds ballast)."""
            return kill_largest_repl_process()

        def repl_pids() -> list[int]:
            """The pids of the engine's REPL processes now."""
            return sorted(process.pid for process in repl_processes())

        return [checkin, crash_seen, kill_my_process, repl_pids]

    def sharing_the_crash(self) -> set[int]:
        """The children placed on the same REPL process as the crashing one."""
        crashed = self.tokens[self.crashing_index]
        return {index for index, token in self.tokens.items() if token == crashed}
