"""The REPL processes of a real run, seen from outside: what they hold open and their environment.

While the root agent waits for its second model reply, the test finds the engine (its Deno child)
and the engine's REPL processes (its Deno children running the supervisor) and reads
/proc/<pid>/fd and /proc/<pid>/environ of each.

What a REPL process holds open, measured on Deno 2.9.8: its stdio (0, 1, 2: pipes to the engine)
and dups of them, its runtimes' epoll and eventfd descriptors (one set per isolate), a Unix socket
pair of its own, and Deno's cache databases under DENO_DIR (dependency and code caches, opened by
Deno itself). Nothing is inherited: no descriptor shares an open file description with the engine
or the host, so none reaches the log file, a socket of the engine or the engine's own stdio.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from fast_rlm.host.deno_setup import deno_dir
from tests.security.conftest import (
    assert_run_completed_with_legit_steps,
    engine_process,
    repl_processes,
)

REPL_PROCESSES = 2
REPL_ENVIRONMENT = {
    "DENO_DIR",
    "DENO_NO_UPDATE_CHECK",
    "DENO_NO_PACKAGE_JSON",
    "NO_COLOR",
    "MALLOC_MMAP_THRESHOLD_",
}
# Deno's own SQLite caches: module dependency analysis, Node module analysis, V8 code cache.
DENO_CACHE_DATABASE = re.compile(r"(dep_analysis|node_analysis|v8_code)_cache_v2(-wal|-shm)?")
RUNTIME_DESCRIPTORS = {"anon_inode:[eventpoll]", "anon_inode:[eventfd]"}
KCMP_FILE = 0
KCMP_SYSCALL = {"x86_64": 312, "aarch64": 272}


def open_descriptors(pid: int) -> dict[int, str]:
    """fd -> what it points to (a path, "pipe:[inode]", "socket:[inode]", "anon_inode:[kind]")."""
    descriptors = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            descriptors[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass  # closed meanwhile (listing this process's own fds opens one)
    return descriptors


def environment(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if entry)


def same_open_file(pid: int, fd: int, other_pid: int, other_fd: int) -> bool:
    """Whether two descriptors share one open file description (what a leaked, inherited or passed
    descriptor does), by kcmp(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(KCMP_SYSCALL[platform.machine()], pid, other_pid, KCMP_FILE, fd, other_fd)
    if result < 0 and ctypes.get_errno() == errno.EBADF:
        return False  # closed since it was listed
    if result < 0:
        raise OSError(ctypes.get_errno(), f"kcmp({pid}:{fd}, {other_pid}:{other_fd})")
    return result == 0


@dataclass
class ProcessView:
    pid: int
    descriptors: dict[int, str]
    environment: dict[str, str] = field(default_factory=dict)
    # fds of this process that share an open file description with one of the engine's or the host's
    shared_with_others: list[str] = field(default_factory=list)


@dataclass
class Observation:
    engine: ProcessView | None = None
    host: ProcessView | None = None
    repls: list[ProcessView] = field(default_factory=list)


class ObserveProcesses:
    """Reads the engine's and its REPL processes' descriptors while the root agent waits for its
    second model reply."""

    def __init__(self) -> None:
        self.observed = Observation()

    def __call__(self, call: int, request: dict) -> None:
        if call != 2:
            return
        engine = engine_process()
        host = psutil.Process()
        self.observed.engine = ProcessView(engine.pid, open_descriptors(engine.pid))
        self.observed.host = ProcessView(host.pid, open_descriptors(host.pid))
        for repl in repl_processes(engine):
            view = ProcessView(repl.pid, open_descriptors(repl.pid), environment(repl.pid))
            if platform.machine() in KCMP_SYSCALL:
                view.shared_with_others = [
                    f"fd {fd} ({target}) is {other.pid}'s fd {other_fd}"
                    for fd, target in view.descriptors.items()
                    for other in (self.observed.engine, self.observed.host)
                    for other_fd in other.descriptors
                    if same_open_file(repl.pid, fd, other.pid, other_fd)
                ]
            self.observed.repls.append(view)


@pytest.fixture(scope="module")
def observed(probe_runner) -> tuple[Observation, dict]:
    observer = ObserveProcesses()
    run = probe_runner.run(
        'await probe("pid", lambda: os.getpid())', on_call=observer, workers=REPL_PROCESSES
    )
    assert_run_completed_with_legit_steps(run)
    return observer.observed, run.result


def inodes(view: ProcessView, kind: str, fds: list[int] | None = None) -> set[str]:
    """The "kind:[inode]" targets (kind: pipe or socket) of the given fds, or of all."""
    return {
        target
        for fd, target in view.descriptors.items()
        if target.startswith(f"{kind}:[") and (fds is None or fd in fds)
    }


def test_every_repl_process_was_seen(observed):
    observation, _ = observed
    assert len(observation.repls) == REPL_PROCESSES


def test_a_repl_process_environment_holds_only_denos_settings(observed):
    observation, _ = observed
    for repl in observation.repls:
        assert set(repl.environment) == REPL_ENVIRONMENT, repl.environment
        assert repl.environment["DENO_DIR"] == str(deno_dir())


def test_stdio_is_the_pipes_to_the_engine_not_the_engines_own(observed):
    observation, _ = observed
    engine = observation.engine
    for repl in observation.repls:
        stdio = [repl.descriptors[fd] for fd in (0, 1, 2)]
        assert all(target.startswith("pipe:[") for target in stdio), stdio
        # The engine holds the other end of each ...
        assert set(stdio) <= inodes(engine, "pipe"), stdio
        # ... and none is a pipe of the engine's own stdio (to the host).
        assert not set(stdio) & inodes(engine, "pipe", [0, 1, 2]), stdio


def test_every_pipe_is_its_own_stdio(observed):
    observation, _ = observed
    for repl in observation.repls:
        assert inodes(repl, "pipe") == inodes(repl, "pipe", [0, 1, 2]), repl.descriptors


def test_no_socket_is_the_engines_or_the_hosts(observed):
    observation, _ = observed
    for repl in observation.repls:
        assert inodes(repl, "socket"), "a Deno process has a socket pair of its own; the scan missed it"
        assert not inodes(repl, "socket") & inodes(observation.engine, "socket"), repl.descriptors
        assert not inodes(repl, "socket") & inodes(observation.host, "socket"), repl.descriptors


def test_open_files_are_only_denos_own_caches(observed):
    observation, result = observed
    for repl in observation.repls:
        paths = {Path(target) for target in repl.descriptors.values() if target.startswith("/")}
        assert Path(result["log_file"]) not in paths
        for path in paths:
            assert path.parent == deno_dir() and DENO_CACHE_DATABASE.fullmatch(path.name), path


def test_nothing_else_is_open(observed):
    observation, _ = observed
    for repl in observation.repls:
        others = {
            target
            for target in repl.descriptors.values()
            if not target.startswith(("/", "pipe:[", "socket:["))
        }
        assert others <= RUNTIME_DESCRIPTORS, others


def test_no_descriptor_is_shared_with_the_engine_or_the_host(observed):
    if platform.machine() not in KCMP_SYSCALL:
        pytest.skip(f"kcmp's syscall number on {platform.machine()} is not known here")
    observation, _ = observed
    assert same_open_file(os.getpid(), 0, os.getpid(), 0), "kcmp does not work here"
    for repl in observation.repls:
        assert repl.shared_with_others == []
