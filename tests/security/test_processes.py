"""Agent code cannot run programs, load native libraries, signal other processes or query the system.

Python's process functions are Emscripten stubs that fail inside the interpreter; Deno's are out of
reach (`js` has no Deno). os.system is the exception: Emscripten implements it with Node's
child_process, which the REPL process's permissions refuse (see test_repl_process_permissions.py),
and the refusal crashes the interpreter: it runs in a helper agent, so only the helper's REPL
process is lost.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
    repl_lost,
)

PROBES = """
import ctypes
import signal
import socket
import subprocess

marker = context["marker"]
await probe("Deno.Command(sh)", lambda: js.Deno.Command.new("/bin/sh", js.Object.new()))
await probe("subprocess.run(sh)", lambda: subprocess.run(["/bin/sh", "-c", "touch " + marker]))
await probe("os.popen(sh)", lambda: os.popen("touch " + marker).read())
await probe("os.fork()", lambda: os.fork())
await probe("os.execv(sh)", lambda: os.execv("/bin/sh", ["sh", "-c", "touch " + marker]))
await probe("ctypes.CDLL(libc)", lambda: ctypes.CDLL("libc.so.6"))
await probe("Deno.dlopen(libc)", lambda: js.Deno.dlopen("libc.so.6", js.Object.new()))
await probe("os.kill(host's child process)", lambda: os.kill(context["victim_pid"], signal.SIGTERM))
await probe("Deno.kill(host's child process)", lambda: js.Deno.kill(context["victim_pid"], "SIGTERM"))
await probe("Deno.hostname()", lambda: js.Deno.hostname())
await probe("socket.gethostname()", lambda: socket.gethostname())
await probe_child("os.system(sh)", data=marker)
"""

CHILD_PROBES = {"os.system(sh)": "await probe('os.system', lambda: os.system('touch ' + context))"}

NO_PROCESSES = "OSError: [Errno 138] emscripten does not support processes."
EXPECTED = {
    "Deno.Command(sh)": "AttributeError: Deno",
    "subprocess.run(sh)": NO_PROCESSES,
    "os.popen(sh)": NO_PROCESSES,
    "os.fork()": "OSError: [Errno 52] Function not implemented",
    "os.execv(sh)": "OSError: [Errno 45] Exec format error",
    # The interpreter's file system is in memory: the host's libraries are not there.
    "ctypes.CDLL(libc)": "OSError: could not load dynamic lib: libc.so.6",
    "Deno.dlopen(libc)": "AttributeError: Deno",
    "os.kill(host's child process)": "PermissionError: [Errno 63] Operation not permitted",
    "Deno.kill(host's child process)": "AttributeError: Deno",
    "Deno.hostname()": "AttributeError: Deno",
    "socket.gethostname()": "ALLOWED: emscripten",
    # Refused by the REPL process's permissions, which crashes the interpreter: the helper's process
    # is replaced and the helper fails, typed.
    "os.system(sh)": repl_lost("root.0"),
}


@pytest.fixture(scope="module")
def victim():
    """A process of the host's that the agent tries to kill; it lives until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield process
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def processes_run(probe_runner, victim):
    query = {"marker": str(probe_runner.work_dir / "marker-made-by-a-program"), "victim_pid": victim.pid}
    return probe_runner.run(PROBES, query=query, child_probes=CHILD_PROBES, workers=2)


@pytest.mark.parametrize("probe", EXPECTED)
def test_probe_is_refused_exactly(processes_run, probe):
    assert processes_run.outcomes[probe].startswith(EXPECTED[probe]), processes_run.outcomes[probe]


def test_probe_names_cover_every_expectation(processes_run):
    assert sorted(processes_run.outcomes) == sorted(EXPECTED)


def test_no_program_ran(processes_run, probe_runner):
    assert not (Path(probe_runner.work_dir) / "marker-made-by-a-program").exists()


def test_the_hosts_process_was_not_signalled(processes_run, victim):
    assert victim.poll() is None


def test_the_system_query_did_not_see_the_host(processes_run):
    assert socket.gethostname() not in processes_run.outcomes["socket.gethostname()"].split(": ", 1)[1]


def test_the_agent_keeps_working(processes_run):
    assert_no_secret_exposed(processes_run)
    assert_nothing_left_loopback(processes_run)
    assert_run_completed_with_legit_steps(processes_run)
