"""The installed commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fast_rlm.scripted.server import repl
from tests import scripted_server as scenarios


def _command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    merged = {name: value for name, value in os.environ.items() if not name.startswith("RLM_MODEL_")}
    merged.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fast_rlm.cli.main", *args],
        capture_output=True,
        text=True,
        env=merged,
        timeout=120,
    )


def test_demo_runs_a_recursive_fan_out_and_chain_with_no_key(isolated_workdir):
    completed = _command("demo")
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout.split("Answer:\n", 1)[1].split("\n\nInspect the run:", 1)[0])
    assert answer["total"] == 21 and answer["r_counts"]["strawberry"] == 3 and len(answer["r_counts"]) == 16
    assert "7 agents, 8 LLM calls" in completed.stdout
    assert "    ✓ root.4.0 -> 21" in completed.stderr  # the tree as it unfolds, chain included
    assert len(list((isolated_workdir / "logs").glob("demo_*.jsonl"))) == 1


def test_query_command_prints_results_as_json(scripted_server):
    server = scripted_server(scenarios.fan_out(3))
    completed = _command(
        "squares",
        "--verbosity",
        "0",
        env={"RLM_MODEL_API_KEY": "cli-key-0000", "RLM_MODEL_BASE_URL": server.base_url},
    )
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["results"] == [0, 1, 4]
    assert output["usage"]["agents"] == 4
    assert set(output) == {"results", "usage", "log_file", "run_id"}


def test_bad_config_file_exits_2_with_the_reason(isolated_workdir):
    (isolated_workdir / "mine.yaml").write_text("max_depht: 3\n")
    completed = _command("q", "--config", "mine.yaml", env={"RLM_MODEL_API_KEY": "k"})
    assert completed.returncode == 2
    assert "ConfigError" in completed.stderr and "Did you mean 'max_depth'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_missing_key_exits_2(isolated_workdir):
    completed = _command("q")
    assert completed.returncode == 2
    assert "RLM_MODEL_API_KEY" in completed.stderr


def test_query_command_prints_control_characters_from_results_as_visible_stand_ins(scripted_server):
    server = scripted_server(lambda request: repl('FINAL("\\x9b2J cleared \\u202e reversed")'))
    completed = _command(
        "q",
        "--verbosity",
        "0",
        env={"RLM_MODEL_API_KEY": "cli-key-0000", "RLM_MODEL_BASE_URL": server.base_url},
    )
    assert completed.returncode == 0, completed.stderr
    assert "\x9b" not in completed.stdout and "\u202e" not in completed.stdout
    assert json.loads(completed.stdout)["results"] == "⟨U+009B⟩2J cleared ⟨U+202E⟩ reversed"
