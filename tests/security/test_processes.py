"""Agent code cannot run programs, load native libraries, signal other processes or query the system."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
)

PROBES = """
marker = context["marker"]
shell_options = js.JSON.parse(json.dumps({"args": ["-c", "touch " + marker]}))
shell = js.Deno.Command.new
await probe("Deno.Command(sh).outputSync()", lambda: shell("/bin/sh", shell_options).outputSync())
await probe("Deno.Command(sh).spawn()", lambda: shell("/bin/sh", shell_options).spawn())
await probe(
    "Deno.run(sh)",
    lambda: js.eval("(command) => Deno.run({cmd: ['/bin/sh', '-c', command]})")("touch " + marker),
)
await probe(
    "node:child_process.execSync",
    lambda: js.eval(
        "import('node:child_process').then((childProcess) => String(childProcess.execSync(%s)))"
        % json.dumps("touch " + marker)
    ),
)
await probe("Deno.dlopen(libc)", lambda: js.Deno.dlopen("libc.so.6", js.Object.new()))
await probe("Deno.kill(host's child process)", lambda: js.Deno.kill(context["victim_pid"], "SIGTERM"))
await probe("Deno.hostname()", lambda: js.Deno.hostname())
"""

EXPECTED = {
    "Deno.Command(sh).outputSync()": 'JsException: NotCapable: Requires run access to "/bin/sh"',
    "Deno.Command(sh).spawn()": 'JsException: NotCapable: Requires run access to "/bin/sh"',
    "Deno.run(sh)": 'JsException: NotCapable: Requires run access to "/bin/sh"',
    # Deno's child_process asks for the environment first, and is refused there.
    "node:child_process.execSync": "JsException: NotCapable: Requires env access",
    "Deno.dlopen(libc)": 'JsException: NotCapable: Requires ffi access to "libc.so.6"',
    "Deno.kill(host's child process)": "TypeError: Expected callable",  # Deno.kill is sealed in workers
    "Deno.hostname()": 'JsException: NotCapable: Requires sys access to "hostname"',
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
    return probe_runner.run(PROBES, query=query)


@pytest.mark.parametrize("probe", EXPECTED)
def test_probe_is_refused_exactly(processes_run, probe):
    assert processes_run.outcomes[probe].startswith(EXPECTED[probe]), processes_run.outcomes[probe]


def test_no_program_ran(processes_run, probe_runner):
    assert not (Path(probe_runner.work_dir) / "marker-made-by-a-program").exists()


def test_the_hosts_process_was_not_signalled(processes_run, victim):
    assert victim.poll() is None


def test_the_agent_keeps_working(processes_run):
    assert_no_secret_exposed(processes_run)
    assert_nothing_left_loopback(processes_run)
    assert_run_completed_with_legit_steps(processes_run)
