"""The engine's one-time set-up, which `fast-rlm setup` runs, or else the first run.

Three steps fill the cache, each skipped when the cache has its result already and announced when
it has work to do (setup_progress.py): the REPL's Python packages (pip), the engine's npm packages
(deno install) and the interpreter snapshot every REPL process starts from. After them every run
works offline.
"""

from __future__ import annotations

import json
from pathlib import Path

from fast_rlm.host.deno_setup import (
    deno_binary,
    deno_dir,
    install_npm_packages,
    is_installed,
    offline_deno_run,
    refuse_web_storage,
    run_setup_step,
    snapshot_file,
)
from fast_rlm.host.engine_process import repl_launch_paths
from fast_rlm.host.python_packages import install_python_packages, python_packages_file
from fast_rlm.host.resources import cache_dir, engine_dir
from fast_rlm.host.setup_progress import SetupProgress, bytes_under

# What the set-up's steps come to, for its messages: the npm packages as `deno install` leaves them
# under DENO_DIR/npm (tests/newcomer/test_first_run.py checks the figure against the cache), the
# wheels, and how long the snapshot takes on a laptop.
ENGINE_PACKAGES_BYTES = 33_000_000
PYTHON_PACKAGES_SIZE = "under 1 MB"
SNAPSHOT_DURATION = "10-30 s"
_SNAPSHOT_MAKER = "repl/make_snapshot.ts"


def install_engine_dependencies(force: bool = False, progress: SetupProgress | None = None) -> Path:
    """Fill the cache with what runs need, doing only what is missing (everything with `force`),
    reporting on `progress` (None: silently). Returns the DENO_DIR."""
    progress = progress or SetupProgress(None)
    refuse_web_storage()
    # The engine writes its snapshot there, also when the packages came from elsewhere (a Ray
    # worker unpacks them from the driver's cache).
    snapshot_file().parent.mkdir(parents=True, exist_ok=True)
    if force or not python_packages_file().is_file():
        progress.announce(cache_dir())
        with progress.step(f"fetching the REPL's Python packages ({PYTHON_PACKAGES_SIZE})"):
            install_python_packages(force=True)
    if force or not is_installed():
        progress.announce(cache_dir())
        with progress.step(
            f"fetching the engine's packages ({ENGINE_PACKAGES_BYTES / 1e6:.0f} MB)",
            measure=lambda: bytes_under(deno_dir() / "npm"),
            expected_bytes=ENGINE_PACKAGES_BYTES,
        ):
            install_npm_packages()
    if force or not snapshot_file().is_file():
        progress.announce(cache_dir())
        with progress.step(f"making the interpreter snapshot ({SNAPSHOT_DURATION})"):
            make_snapshot(replace=force)
    return deno_dir()


def make_snapshot(replace: bool = False) -> Path:
    """Boot an interpreter and save its memory as the snapshot REPL processes start from (in a Deno
    process with the engine's own permissions, minus the network). Returns the snapshot file."""
    target = snapshot_file()
    if replace:
        target.unlink(missing_ok=True)
    command = [
        *offline_deno_run(),
        f"--allow-read={engine_dir()},{deno_dir()},{target.parent}",
        f"--allow-write={target.parent}",
        f"--allow-run={deno_binary()}",
        str(engine_dir() / _SNAPSHOT_MAKER),
        json.dumps(repl_launch_paths()),
        str(target),
    ]
    run_setup_step(
        command,
        "Cannot make the interpreter snapshot",
        "Run `fast-rlm setup --force` to make it again; if that fails too, report it with the output",
        fetches=False,
    )
    return target
