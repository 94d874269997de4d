"""The CLI speaks to a shell user (issue 17, item 3): help that does nothing else, help that names the
key variable and the demo, a missing-key message that says what to export, an empty query refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import scripted_server as scenarios


def _command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RLM_MODEL_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "fast_rlm.cli.main", *args],
        capture_output=True,
        text=True,
        env={**inherited, **(env or {})},
        timeout=120,
    )


# Should `setup` ever set up after all, it finds no package source beyond 127.0.0.1.
_NOTHING_TO_FETCH_FROM = {"PIP_INDEX_URL": "http://127.0.0.1:1/simple", "HTTPS_PROXY": "http://127.0.0.1:1"}


def test_setup_help_prints_help_and_touches_no_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    completed = _command("setup", "--help", env={"FAST_RLM_CACHE_DIR": str(cache), **_NOTHING_TO_FETCH_FROM})

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: fast-rlm setup")
    assert "--force" in completed.stdout
    assert list(cache.iterdir()) == []


def test_setup_refuses_an_unknown_option_before_doing_anything(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    completed = _command("setup", "--forse", env={"FAST_RLM_CACHE_DIR": str(cache), **_NOTHING_TO_FETCH_FROM})

    assert completed.returncode == 2
    assert "unrecognized arguments: --forse" in completed.stderr
    assert list(cache.iterdir()) == []


def test_help_names_the_key_variable_and_the_demo():
    completed = _command("--help")

    assert completed.returncode == 0
    assert "RLM_MODEL_API_KEY" in completed.stdout
    assert "fast-rlm demo" in completed.stdout


def test_a_missing_key_says_what_to_export_and_suggests_the_demo(isolated_workdir):
    completed = _command("What is 2 + 2?")

    assert completed.returncode == 2
    assert "export RLM_MODEL_API_KEY=" in completed.stderr
    assert "fast-rlm demo" in completed.stderr
    assert "RLMConfig(" not in completed.stderr  # Python advice means nothing at a shell prompt
    assert "Traceback" not in completed.stderr


def test_a_missing_anthropic_key_says_to_export_that_one(isolated_workdir):
    completed = _command("q", "--primary-agent", "anthropic:claude-sonnet-4-5")

    assert completed.returncode == 2
    assert "export ANTHROPIC_API_KEY=" in completed.stderr


def test_an_empty_or_blank_query_is_refused_before_any_model_call(scripted_server, isolated_workdir):
    server = scripted_server(scenarios.final_none)
    env = {"RLM_MODEL_API_KEY": "cli-key-0000", "RLM_MODEL_BASE_URL": server.base_url}

    for query in ("", "   \n\t"):
        completed = _command(query, "--verbosity", "0", env=env)
        assert completed.returncode == 2, completed.stderr
        assert "the query is empty" in completed.stderr

    assert server.request_count == 0
    assert not Path("logs").exists()
