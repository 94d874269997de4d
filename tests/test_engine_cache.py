"""The engine's cache: a linked cache directory works, and a damaged snapshot heals itself.

These tests run on whatever cache FAST_RLM_CACHE_DIR names, fresh or not: the fixture below sets it
up as the product does, offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.host.cache_tarball import pack_engine_cache, unpack_engine_cache
from fast_rlm.host.deno_setup import deno_dir, is_installed, snapshot_file
from fast_rlm.host.engine_setup import install_engine_dependencies
from fast_rlm.host.python_packages import python_packages_file
from fast_rlm.host.resources import cache_dir
from tests import scripted_server as scenarios
from tests.conftest import config_for


def _default_cache_dir() -> Path:
    """Where `fast-rlm setup` put the cache when FAST_RLM_CACHE_DIR was not set."""
    return (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fast-rlm").resolve()


@pytest.fixture(scope="module", autouse=True)
def set_up_cache() -> None:
    """The set-up these tests need, done by the product's own means and with no network: a cache that
    lacks the fetched packages gets them from the default cache as a Ray worker gets the driver's
    (cache_tarball.py), then the set-up makes the interpreter snapshot there."""
    fetched = is_installed() and python_packages_file().is_file()
    source = _default_cache_dir()
    if not fetched and source != cache_dir():
        unpack_engine_cache(pack_engine_cache(source), cache_dir())
    install_engine_dependencies()


def test_a_damaged_snapshot_fails_one_run_clearly_and_is_made_again(scripted_server, tmp_path, monkeypatch):
    good_snapshot = snapshot_file().read_bytes()
    cache = tmp_path / "cache"
    (cache / "snapshots").mkdir(parents=True)
    (cache / "deno").symlink_to(deno_dir(), target_is_directory=True)  # a linked cache works too
    # The REPL's Python packages too: the test fetches nothing from an index.
    (cache / "python-packages").symlink_to(python_packages_file().parent, target_is_directory=True)
    monkeypatch.setenv("FAST_RLM_CACHE_DIR", str(cache))
    damaged = snapshot_file()
    damaged.write_bytes(good_snapshot[: len(good_snapshot) // 3])
    server = scripted_server(scenarios.final_none)

    with pytest.raises(fast_rlm.errors.AgentError, match="was removed; the next run makes a new one"):
        fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert not damaged.exists()

    assert fast_rlm.run("q", config=config_for(server), verbosity=0)["results"] is None
    assert damaged.stat().st_size == len(good_snapshot)


def test_a_change_to_the_code_that_takes_the_snapshot_makes_a_new_one(monkeypatch, tmp_path):
    """The snapshot holds what worker.ts did before taking it: a newer fast-rlm with the same Pyodide
    and Deno must not boot from a snapshot an older worker made."""
    import shutil

    from fast_rlm.host import deno_setup

    copied = tmp_path / "engine"
    shutil.copytree(deno_setup.engine_dir() / "repl", copied / "repl")
    monkeypatch.setattr(deno_setup, "engine_dir", lambda: copied)
    before = deno_setup.snapshot_file()
    with (copied / "repl" / "worker.ts").open("a") as worker:
        worker.write("\n// changed\n")
    assert deno_setup.snapshot_file() != before
    assert deno_setup.snapshot_file().parent == before.parent
    # The runtime's modules are imported into the snapshot too.
    after_worker = deno_setup.snapshot_file()
    with (copied / "repl" / "step_code.py").open("a") as module:
        module.write("\n# changed\n")
    assert deno_setup.snapshot_file() != after_worker
