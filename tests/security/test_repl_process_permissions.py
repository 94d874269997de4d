"""What a REPL process itself refuses, whatever the JavaScript running in it.

Agent code has no JavaScript to reach Deno with, so the probe suites that run agent code no longer
reach Deno's permissions or V8's flags: those layers are tested here, directly. The command is the
engine's own (engine/repl/repl_process.ts, replProcessCommand, recorded by repl_process_command.ts)
with one change: repl_process_probes.ts runs in place of the supervisor. Same deno binary, flags,
environment and working directory; the probes run as the process's main module, so they have every
capability the REPL process has.

Two processes run: the first attempts everything, aimed at files in a temporary folder and at a
loopback sentinel; the second tries to read back what the first stored. Where the network namespace
can be unshared, the second also aims at an outside host, with no network but its own loopback, so
nothing leaves this machine even if a refusal were missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fast_rlm.config import RLMConfig
from fast_rlm.host.deno_setup import deno_dir, deno_environment, is_installed, offline_deno_run, snapshot_file
from fast_rlm.host.engine_process import repl_launch_paths
from fast_rlm.host.resources import cache_dir, engine_dir
from tests.security.conftest import LoopbackSentinel

HERE = Path(__file__).parent
SUPERVISOR = engine_dir() / "repl" / "supervisor.ts"
SECRET = "repl-process-secret-" + secrets.token_hex(16)
STORAGE_KEY = "probe-" + secrets.token_hex(8)
PROCESS_TIMEOUT_S = 60
CODE_GENERATION_REFUSED = "EvalError: Code generation from strings disallowed for this context"


def refused(access: str, target: str | None = None) -> str:
    """Deno's refusal of an access the process was not granted."""
    what = f'{access} access to "{target}"' if target is not None else f"{access} access"
    return f"NotCapable: Requires {what}, run again with the --allow-{access} flag"


@dataclass
class ReplCommand:
    argv: list[str]  # the deno binary and its arguments, the supervisor last
    env: dict[str, str]

    def with_main_module(self, main_module: Path) -> list[str]:
        return [*self.argv[:-1], str(main_module)]


@pytest.fixture(scope="module")
def repl_command() -> ReplCommand:
    if not is_installed():
        pytest.fail("The engine's dependencies are not installed: run `fast-rlm setup` first.")
    memory_mb = RLMConfig().repl_memory_mb
    recorder = [
        *offline_deno_run(),
        f"--allow-read={engine_dir()},{deno_dir()}",
        str(HERE / "repl_process_command.ts"),
        json.dumps(repl_launch_paths()),
        str(snapshot_file()),
        str(memory_mb),
    ]
    completed = subprocess.run(
        recorder, env=deno_environment(), cwd=engine_dir(), capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    recorded = json.loads(completed.stdout)
    options = recorded["options"]
    # The shape the probes rely on: a cleared environment and the supervisor as the main module.
    assert options["clearEnv"] is True
    assert options["args"][-1] == str(SUPERVISOR)
    return ReplCommand([recorded["command"], *options["args"]], options["env"])


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("repl-process-host")
    (folder / "secret.txt").write_text(SECRET)
    (folder / "delete-me.txt").write_text(SECRET)
    (folder / "module.js").write_text(f"export default {json.dumps(SECRET)};")
    return folder


@pytest.fixture(scope="module")
def sentinel():
    server = LoopbackSentinel()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def victim():
    """A process of the host's that the probes try to signal; it lives until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield process
    process.kill()
    process.wait()


def unshare_network() -> list[str] | None:
    """A prefix that runs a command in its own network namespace (loopback only), if this host
    allows unprivileged ones."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    trial = subprocess.run(
        [unshare, "--user", "--map-root-user", "--net", sys.executable, "-c", ""], check=False
    )
    return [unshare, "--user", "--map-root-user", "--net"] if trial.returncode == 0 else None


def files_under(folder: Path) -> set[Path]:
    return {Path(root) / name for root, dirs, files in os.walk(folder) for name in [*dirs, *files]}


@dataclass
class ProbeProcesses:
    attempt: dict[str, str]
    read_back: dict[str, str]
    outside_checked: bool
    new_cache_files: set[Path]  # what appeared under the cache directory while they ran


@pytest.fixture(scope="module")
def probe_processes(repl_command, host_dir, sentinel, victim) -> ProbeProcesses:
    pyodide_dir = next(arg for arg in repl_command.argv if arg.startswith("--allow-read=")).split("=")[1]
    inputs: dict[str, Any] = {
        "secret": SECRET,
        "hostDir": str(host_dir),
        "secretFile": str(host_dir / "secret.txt"),
        "hostModule": str(host_dir / "module.js"),
        "writeTarget": str(host_dir / "written.txt"),
        "deleteTarget": str(host_dir / "delete-me.txt"),
        "marker": str(host_dir / "marker-made-by-a-program"),
        "pyodideDir": pyodide_dir.split(",")[0],
        "snapshotFile": str(snapshot_file()),
        "sentinelPort": sentinel.port,
        "victimPid": victim.pid,
        "storageKey": STORAGE_KEY,
    }
    outside_prefix = unshare_network()

    def run(phase: str, prefix: list[str]) -> dict[str, str]:
        completed = subprocess.run(
            [*prefix, *repl_command.with_main_module(HERE / "repl_process_probes.ts")],
            input=json.dumps({**inputs, "phase": phase, "outside": bool(prefix)}),
            env=repl_command.env,
            cwd=engine_dir(),
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT_S,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    before = files_under(cache_dir())
    try:
        attempt = run("attempt", [])
        read_back = run("read_back", outside_prefix or [])
    finally:
        new_files = files_under(cache_dir()) - before
        # What a missing refusal stored (under Deno's storage root) is removed, so no later run sees it.
        for path in sorted(new_files):
            if not path.is_relative_to(deno_dir() / "location_data") or not path.exists():
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    # Deno's own compiled copy of the probe module (deno/gen/) and its analysis caches (SQLite files
    # named *_cache_v2*, which any deno process touches) are not something the probes stored.
    stored = {
        path
        for path in new_files
        if not path.is_relative_to(deno_dir() / "gen") and "_cache_v2" not in path.name
    }
    return ProbeProcesses(attempt, read_back, outside_prefix is not None, stored)


def expected_refusals(inputs_dir: Path, sentinel_port: int) -> dict[str, str]:
    sentinel_host = f"127.0.0.1:{sentinel_port}"
    return {
        "read a host file": refused("read", str(inputs_dir / "secret.txt")),
        "read /proc/self/environ": refused("read", "/proc/self/environ"),
        "list a host directory": refused("read", str(inputs_dir)),
        "list /": refused("read", "/"),
        "write a host file": refused("write", str(inputs_dir / "written.txt")),
        "delete a host file": refused("write", str(inputs_dir / "delete-me.txt")),
        "import() a host module": f'TypeError: Requires read access to "{inputs_dir / "module.js"}"',
        "nested worker reads a host file": refused("read", str(inputs_dir / "secret.txt")),
        "fetch the loopback sentinel": refused("net", sentinel_host),
        "Deno.connect to the loopback sentinel": refused("net", sentinel_host),
        "WebSocket to the loopback sentinel": refused("net", sentinel_host),
        "Deno.listen on loopback": refused("net", "127.0.0.1:0"),
        "import() from the loopback sentinel": (
            f'TypeError: A remote specifier was requested: "http://{sentinel_host}/module.js", but '
            "--no-remote is specified."
        ),
        "Deno.Command": refused("run", "/bin/sh"),
        # Deno's child_process reads the environment first, and is refused there.
        "node:child_process.spawnSync": refused("env"),
        "Deno.kill a host process": refused("run"),
        "Deno.dlopen libc": refused("ffi", "libc.so.6"),
        "Deno.hostname": refused("sys", "hostname"),
        "Deno.env.toObject": refused("env"),
        "Deno.env.get(DENO_DIR)": refused("env", "DENO_DIR"),
        "eval": CODE_GENERATION_REFUSED,
        "new Function": CODE_GENERATION_REFUSED,
        "Deno.openKv": "TypeError: Deno.openKv is not a function",  # an unstable API, not enabled
    }


EXPECTED_NAMES = list(expected_refusals(Path("/"), 0))


@pytest.mark.parametrize("probe", EXPECTED_NAMES)
def test_probe_is_refused_exactly(probe_processes, host_dir, sentinel, probe):
    expected = expected_refusals(host_dir, sentinel.port)[probe]
    assert probe_processes.attempt[probe].startswith(expected), probe_processes.attempt[probe]


def test_the_probes_ran_with_the_engines_grants(probe_processes):
    # What the engine does grant works: the probes saw the REPL process's permissions, not none.
    assert probe_processes.attempt["read Pyodide's package.json"] == "ALLOWED: pyodide"


@pytest.mark.parametrize("probe", ["write into Pyodide's directory", "open the snapshot for writing"])
def test_what_the_process_may_read_it_cannot_write(probe_processes, probe):
    assert probe_processes.attempt[probe].startswith("NotCapable: Requires write access to "), (
        probe_processes.attempt[probe]
    )


def test_an_npm_package_outside_the_lock_cannot_be_fetched(probe_processes):
    outcome = probe_processes.attempt["import() an npm package"]
    assert outcome.startswith(
        'TypeError: Failed loading https://registry.npmjs.org/left-pad for package "left-pad"'
    )
    assert "--cached-only is specified" in outcome


# Deno writes these under DENO_DIR/location_data with no permission check.
@pytest.mark.parametrize("probe", ["Cache API put", "localStorage.setItem"])
def test_storage_is_refused(probe_processes, probe):
    assert not probe_processes.attempt[probe].startswith("ALLOWED"), probe_processes.attempt[probe]


def test_nothing_persisted_under_the_cache_directory(probe_processes):
    assert probe_processes.new_cache_files == set(), "the REPL process stored files that outlive it"


@pytest.mark.parametrize("probe", ["Cache API read back", "localStorage read back"])
def test_a_second_process_reads_nothing_back(probe_processes, probe):
    assert SECRET not in probe_processes.read_back[probe], probe_processes.read_back[probe]


@pytest.mark.parametrize(
    "probe, refusal",
    [
        ("fetch an outside host", refused("net", "example.com:443")),
        ("Deno.connect to an outside host", refused("net", "example.com:443")),
        ("Deno.resolveDns", 'NotCapable: Requires net access to "'),  # to this host's name server
    ],
)
def test_outside_hosts_are_refused(probe_processes, probe, refusal):
    if not probe_processes.outside_checked:
        pytest.skip("this host cannot unshare a network namespace, so no probe aims beyond loopback")
    outcome = probe_processes.read_back[probe]
    assert outcome.startswith(refusal), outcome


def test_host_files_untouched(probe_processes, host_dir):
    assert sorted(path.name for path in host_dir.iterdir()) == ["delete-me.txt", "module.js", "secret.txt"]
    assert (host_dir / "delete-me.txt").read_text() == SECRET
    assert SECRET not in json.dumps(probe_processes.attempt)


def test_nothing_reached_the_sentinel(probe_processes, sentinel):
    assert sentinel.request_lines == []


def test_no_program_ran_and_no_process_was_signalled(probe_processes, host_dir, victim):
    assert not (host_dir / "marker-made-by-a-program").exists()
    assert victim.poll() is None
