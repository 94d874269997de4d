"""The first run speaks (issue 17, item 2): `fast-rlm setup` makes the snapshot too and says what each
step is, how big or long, with a live indicator on a terminal; offline, the failure is one line.

No test reaches beyond 127.0.0.1: the package index and the HTTPS proxy are pointed at port 1.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import fast_rlm
from fast_rlm.host.deno_setup import deno_dir, snapshot_file
from fast_rlm.host.engine_setup import ENGINE_PACKAGES_BYTES
from fast_rlm.host.python_packages import python_packages_file
from fast_rlm.host.setup_progress import FAILURE_LOG_NAME, SetupProgress, bytes_under
from tests import scripted_server as scenarios
from tests.conftest import config_for

UNREACHABLE = "http://127.0.0.1:1"


def _offline_environment(cache: Path) -> dict[str, str]:
    """The machine's environment without its pip and proxy settings (a local wheel directory would
    answer), pip's index and every HTTPS request pointed at a closed port, and the cache at `cache`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(
            ("PIP_", "HTTP", "NO_PROXY", "RLM_MODEL_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_")
        )
    }
    return {
        **inherited,
        "FAST_RLM_CACHE_DIR": str(cache),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": f"{UNREACHABLE}/simple",
        "PIP_RETRIES": "1",  # one retry: pip names the refused connection only when it retries
        "HTTPS_PROXY": UNREACHABLE,
    }


def _fast_rlm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fast_rlm.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def _cache_with_packages(tmp_path: Path, npm: bool) -> Path:
    """A cache holding the set-up cache's Python packages, and its npm packages if `npm`: linked, so
    the set-up finds them fetched, as a linked cache directory is found."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "python-packages").symlink_to(python_packages_file().parent, target_is_directory=True)
    if npm:
        (cache / "deno").symlink_to(deno_dir(), target_is_directory=True)
    return cache


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("fast-rlm: EngineStartError")]


def test_setup_makes_the_snapshot_and_says_so_in_plain_lines(tmp_path, scripted_server):
    cache = _cache_with_packages(tmp_path, npm=True)
    env = _offline_environment(cache)

    completed = _fast_rlm("setup", env=env)

    assert completed.returncode == 0, completed.stderr
    assert f"setting up the engine in {cache}" in completed.stderr
    assert "  making the interpreter snapshot (10-30 s) ...\n" in completed.stderr
    assert "  making the interpreter snapshot (10-30 s): done (" in completed.stderr
    assert "\r" not in completed.stderr  # not a terminal: no live line
    assert "fetching" not in completed.stderr  # the packages were there already
    snapshots = list((cache / "snapshots").glob("*.snap"))
    assert len(snapshots) == 1 and snapshots[0].stat().st_size > 1_000_000

    # A run boots from the snapshot the set-up made, and has nothing left to set up.
    server = scripted_server(scenarios.final_none)
    env["RLM_MODEL_API_KEY"], env["RLM_MODEL_BASE_URL"] = "k", server.base_url
    run = _fast_rlm("q", "--verbosity", "1", env=env)
    assert run.returncode == 0, run.stderr
    assert "setting up the engine" not in run.stderr
    assert list((cache / "snapshots").glob("*.snap")) == snapshots


def test_offline_first_run_without_python_packages_fails_in_one_line(tmp_path):
    cache = tmp_path / "empty-cache"
    cache.mkdir()

    completed = _fast_rlm("demo", env=_offline_environment(cache))

    assert completed.returncode == 1
    [error] = _error_lines(completed.stderr)
    assert error.startswith(
        "fast-rlm: EngineStartError: Cannot fetch the REPL's Python packages with pip: "
        "the network is unreachable"
    )
    assert "run `fast-rlm setup` when online" in error and str(cache / FAILURE_LOG_NAME) in error
    assert "ERROR:" not in completed.stderr and "anyio" not in completed.stderr  # pip's own words stay out
    assert "anyio" in (cache / FAILURE_LOG_NAME).read_text()


def test_offline_first_run_without_npm_packages_fails_in_one_line(tmp_path):
    cache = _cache_with_packages(tmp_path, npm=False)

    completed = _fast_rlm("demo", env=_offline_environment(cache))

    assert completed.returncode == 1
    [error] = _error_lines(completed.stderr)
    assert error.startswith(
        "fast-rlm: EngineStartError: Cannot fetch the engine's packages from the npm registry: "
        "the network is unreachable (Connection refused)"
    )
    assert "HTTPS_PROXY" in error
    assert "Download" not in completed.stderr  # deno's download list went to the log file
    assert "Download" in (cache / FAILURE_LOG_NAME).read_text()


def test_a_silent_run_sets_up_without_a_word(tmp_path, monkeypatch, scripted_server):
    cache = _cache_with_packages(tmp_path, npm=True)
    monkeypatch.setenv("FAST_RLM_CACHE_DIR", str(cache))
    server = scripted_server(scenarios.final_none)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    assert fast_rlm.run("q", config=config_for(server), verbosity=0)["results"] is None

    assert stderr.getvalue() == ""
    assert snapshot_file().is_file()


class _Terminal(io.StringIO):
    """What a terminal would show, written by the set-up's redraw thread; `seen` is set once the
    live line has shown `awaited`."""

    def __init__(self, awaited: str) -> None:
        super().__init__()
        self.awaited = awaited
        self.seen = threading.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.awaited in text:
            self.seen.set()
        return super().write(text)


def test_on_a_terminal_a_fetch_shows_its_megabytes_live(tmp_path):
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    (fetched / "part").write_bytes(b"x" * 4_000_000)
    terminal = _Terminal(awaited="4 of 10 MB")
    progress = SetupProgress(terminal)

    with progress.step("fetching the packages", measure=lambda: bytes_under(fetched), expected_bytes=10**7):
        assert terminal.seen.wait(timeout=30)

    shown = terminal.getvalue()
    assert "\r  fetching the packages | 4 of 10 MB" in shown
    assert re.search(r"\r  fetching the packages: done \(\d+ s\)\x1b\[K\n$", shown)


def test_the_announced_size_of_the_engine_packages_matches_the_cache():
    """The figure in "fetching the engine's packages (N MB)" is what the set-up cache holds, within a
    quarter: a new Pyodide or MCP SDK in deno.lock must update ENGINE_PACKAGES_BYTES."""
    actual = bytes_under(deno_dir() / "npm")

    assert 0.75 * actual <= ENGINE_PACKAGES_BYTES <= 1.25 * actual
