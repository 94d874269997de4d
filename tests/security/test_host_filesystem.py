"""Agent code cannot read, write, delete or list the host's files.

Deno's calls are refused by the worker's permissions; Python's open() and os.listdir() see only
Pyodide's in-memory file system, so what they return (or create) is never the host's.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
    outcome_value,
)

HOST_SECRET = "host-file-secret-" + secrets.token_hex(16)
PYODIDE_ROOT_ENTRIES = {"dev", "home", "lib", "proc", "tmp"}

# Listings run first: the write probes later create the host folder in Pyodide's memory.
PROBES = """
paths = context
await probe("Deno.readDirSync('/')", lambda: [entry.name for entry in js.Deno.readDirSync("/")])
await probe("Deno.readDirSync(host dir)", lambda: list(js.Deno.readDirSync(paths["host_dir"])))
await probe("os.listdir(host dir)", lambda: os.listdir(paths["host_dir"]))
await probe("os.listdir('/')", lambda: json.dumps(sorted(os.listdir("/"))))
await probe("Deno.readTextFileSync(host file)", lambda: js.Deno.readTextFileSync(paths["secret_file"]))
await probe("Deno.readTextFileSync('/etc/passwd')", lambda: js.Deno.readTextFileSync("/etc/passwd"))
await probe("open(host file)", lambda: open(paths["secret_file"]).read())
await probe("open('/etc/passwd')", lambda: open("/etc/passwd").read())
await probe("import(host .js file)", lambda: import_from_module("file://" + paths["host_module"]))
write_text = js.Deno.writeTextFileSync
await probe("Deno.writeTextFileSync(host path)", lambda: write_text(paths["deno_write_target"], "pwned"))
await probe("open(host path, 'w')", lambda: open(paths["python_write_target"], "w").write("pwned"))


def write_after_makedirs():
    os.makedirs(os.path.dirname(paths["python_makedirs_target"]), exist_ok=True)
    with open(paths["python_makedirs_target"], "w") as file:
        return file.write("pwned")


await probe("open(host path, 'w') after os.makedirs", write_after_makedirs)
await probe("Deno.removeSync(host file)", lambda: js.Deno.removeSync(paths["delete_target"]))
"""


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("host-files")
    (folder / "secret.txt").write_text(HOST_SECRET)
    (folder / "delete-me.txt").write_text(HOST_SECRET)
    (folder / "module.js").write_text(f"export default {json.dumps(HOST_SECRET)};")
    return folder


@pytest.fixture(scope="module")
def paths(host_dir: Path) -> dict[str, str]:
    return {
        "host_dir": str(host_dir),
        "secret_file": str(host_dir / "secret.txt"),
        "delete_target": str(host_dir / "delete-me.txt"),
        "host_module": str(host_dir / "module.js"),
        "deno_write_target": str(host_dir / "written-by-deno.txt"),
        "python_write_target": str(host_dir / "written-by-python.txt"),
        "python_makedirs_target": str(host_dir / "made" / "written-after-makedirs.txt"),
    }


@pytest.fixture(scope="module")
def files_run(probe_runner, paths):
    return probe_runner.run(PROBES, query=paths)


def refused_read(path: str) -> str:
    return f'JsException: NotCapable: Requires read access to "{path}"'


def test_deno_cannot_read_host_files(files_run, paths):
    outcomes = files_run.outcomes
    assert outcomes["Deno.readTextFileSync(host file)"].startswith(refused_read(paths["secret_file"]))
    assert outcomes["Deno.readTextFileSync('/etc/passwd')"].startswith(refused_read("/etc/passwd"))


def test_dynamic_import_cannot_read_a_host_module(files_run, paths):
    outcome = files_run.outcomes["import(host .js file)"]
    assert outcome.startswith(f'JsException: TypeError: Requires read access to "{paths["host_module"]}"')
    assert HOST_SECRET not in outcome


@pytest.mark.parametrize("probe", ["open(host file)", "open('/etc/passwd')"])
def test_python_open_sees_only_the_in_memory_file_system(files_run, probe):
    outcome = files_run.outcomes[probe]
    assert outcome.startswith("FileNotFoundError: [Errno 44] No such file or directory"), outcome
    assert HOST_SECRET not in outcome
    if Path("/etc/passwd").is_file():
        assert Path("/etc/passwd").read_text().splitlines()[0] not in outcome


def test_deno_cannot_write_a_host_file(files_run, paths):
    assert files_run.outcomes["Deno.writeTextFileSync(host path)"].startswith(
        f'JsException: NotCapable: Requires write access to "{paths["deno_write_target"]}"'
    )
    assert not Path(paths["deno_write_target"]).exists()


def test_python_writes_land_only_in_memory(files_run, paths):
    outcomes = files_run.outcomes
    # The host's folder does not exist in Pyodide's file system ...
    assert outcomes["open(host path, 'w')"].startswith("FileNotFoundError: [Errno 44]")
    assert not Path(paths["python_write_target"]).exists()
    # ... and once the agent makes it there, the write succeeds in memory and never reaches the host.
    assert outcomes["open(host path, 'w') after os.makedirs"] == "ALLOWED: 5"
    assert not Path(paths["python_makedirs_target"]).parent.exists()


def test_deno_cannot_delete_a_host_file(files_run, paths):
    assert files_run.outcomes["Deno.removeSync(host file)"].startswith(
        f'JsException: NotCapable: Requires write access to "{paths["delete_target"]}"'
    )
    assert Path(paths["delete_target"]).read_text() == HOST_SECRET


def test_deno_cannot_list_host_directories(files_run, paths):
    outcomes = files_run.outcomes
    assert outcomes["Deno.readDirSync('/')"].startswith(refused_read("/"))
    assert outcomes["Deno.readDirSync(host dir)"].startswith(refused_read(paths["host_dir"]))


def test_python_listing_shows_only_pyodides_file_system(files_run):
    assert files_run.outcomes["os.listdir(host dir)"].startswith("FileNotFoundError: [Errno 44]")
    listed = set(json.loads(outcome_value(files_run.outcomes["os.listdir('/')"])))
    assert listed and listed <= PYODIDE_ROOT_ENTRIES


def test_host_files_untouched_and_the_agent_keeps_working(files_run, host_dir):
    assert sorted(path.name for path in host_dir.iterdir()) == ["delete-me.txt", "module.js", "secret.txt"]
    assert HOST_SECRET not in json.dumps(files_run.result)
    assert_no_secret_exposed(files_run)
    assert_nothing_left_loopback(files_run)
    assert_run_completed_with_legit_steps(files_run)
