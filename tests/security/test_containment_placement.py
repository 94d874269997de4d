"""Issue 10, deliver 7: the engine accepts a message from a REPL process only for agents it placed
there. Agent code cannot forge frames on its process's pipe (that would be a hole of its own), so
this drives the engine's pool directly, with two real REPL processes, and hands it the messages a
garbled process would send (tests/security/placement_harness.ts).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fast_rlm.host.deno_setup import deno_binary, deno_dir, deno_environment, snapshot_file
from fast_rlm.host.python_packages import python_packages_file
from fast_rlm.host.resources import deno_config_file, deno_lock_file, project_files_dir

HARNESS = Path(__file__).with_name("placement_harness.ts")


def test_requests_and_results_from_a_process_are_accepted_only_for_agents_placed_there():
    launch = {
        "denoBinary": deno_binary(),
        "configFile": str(deno_config_file()),
        "lockFile": str(deno_lock_file()),
        "denoDir": str(deno_dir()),
        "pythonPackagesFile": str(python_packages_file()),
        "netGrant": [],
    }
    command = [
        deno_binary(), "run", "--cached-only", "--frozen", "--no-remote", "--no-prompt",
        "--config", str(deno_config_file()), "--lock", str(deno_lock_file()), "--allow-all",
        str(HARNESS), json.dumps(launch), str(snapshot_file()),
    ]  # fmt: skip
    finished = subprocess.run(
        command, env=deno_environment(), cwd=project_files_dir(), capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])

    assert report["samePlace"] is False
    assert report["fromTheWrongProcess"] == []  # neither a's request nor one for an unknown agent
    assert report["fromItsOwnProcess"] == ["a:host_function"]  # the check is not a blanket refusal
    assert report["finalOfA"] == '"a real"'  # the forged step_done was ignored
