"""Agent code cannot read, write, delete or list the host's files.

Python's open() and os.listdir() see only Pyodide's in-memory file system, so what they return (or
create) is never the host's. Deno's file functions are out of reach (`js` has no Deno, and no code
can be made from strings); that the REPL process's permissions would refuse them anyway is tested in
test_repl_process_permissions.py.
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
import_module = "return import(%s)" % json.dumps("file://" + paths["host_module"])
await probe("import(host .js file)", lambda: js.Object.constructor(import_module)())
await probe(
    "Deno.writeTextFileSync(host path)",
    lambda: js.Deno.writeTextFileSync(paths["deno_write_target"], "pwned"),
)
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


DENO_PROBES = [
    "Deno.readDirSync('/')",
    "Deno.readDirSync(host dir)",
    "Deno.readTextFileSync(host file)",
    "Deno.readTextFileSync('/etc/passwd')",
    "Deno.writeTextFileSync(host path)",
    "Deno.removeSync(host file)",
]


@pytest.mark.parametrize("probe", DENO_PROBES)
def test_deno_file_functions_are_out_of_reach(files_run, probe):
    assert files_run.outcomes[probe] == "AttributeError: Deno"


def test_dynamic_import_of_a_host_module_cannot_be_written(files_run):
    outcome = files_run.outcomes["import(host .js file)"]
    assert outcome == "JsException: EvalError: Code generation from strings disallowed for this context"


@pytest.mark.parametrize("probe", ["open(host file)", "open('/etc/passwd')"])
def test_python_open_sees_only_the_in_memory_file_system(files_run, probe):
    outcome = files_run.outcomes[probe]
    assert outcome.startswith("FileNotFoundError: [Errno 44] No such file or directory"), outcome
    assert HOST_SECRET not in outcome
    if Path("/etc/passwd").is_file():
        assert Path("/etc/passwd").read_text().splitlines()[0] not in outcome


def test_python_writes_land_only_in_memory(files_run, paths):
    outcomes = files_run.outcomes
    # The host's folder does not exist in Pyodide's file system ...
    assert outcomes["open(host path, 'w')"].startswith("FileNotFoundError: [Errno 44]")
    assert not Path(paths["python_write_target"]).exists()
    # ... and once the agent makes it there, the write succeeds in memory and never reaches the host.
    assert outcomes["open(host path, 'w') after os.makedirs"] == "ALLOWED: 5"
    assert not Path(paths["python_makedirs_target"]).parent.exists()


def test_python_listing_shows_only_pyodides_file_system(files_run):
    assert files_run.outcomes["os.listdir(host dir)"].startswith("FileNotFoundError: [Errno 44]")
    listed = set(json.loads(outcome_value(files_run.outcomes["os.listdir('/')"])))
    assert listed and listed <= PYODIDE_ROOT_ENTRIES


def test_host_files_untouched_and_the_agent_keeps_working(files_run, host_dir):
    # Nothing written (by Deno or Python), nothing deleted, nothing changed.
    assert sorted(path.name for path in host_dir.iterdir()) == ["delete-me.txt", "module.js", "secret.txt"]
    assert (host_dir / "delete-me.txt").read_text() == HOST_SECRET
    assert HOST_SECRET not in json.dumps(files_run.result)
    assert_no_secret_exposed(files_run)
    assert_nothing_left_loopback(files_run)
    assert_run_completed_with_legit_steps(files_run)
