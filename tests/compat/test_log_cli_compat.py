"""`fast-rlm-log FILE --stats`, as the original's users run it, and the caps beside their use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import scripted_server as scenarios

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import iter_events  # noqa: E402

pytest_plugins = ["tests.log_fixtures"]  # the session's real and broken logs


def fast_rlm_log(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fast_rlm.logs.cli", *args], capture_output=True, text=True, timeout=60
    )


def labelled(output: str) -> dict[str, str]:
    """The report's `label: value` lines, by label."""
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line and not line[0].isspace())


def test_stats_prints_the_original_notions_without_the_agent_table(scripted_logs):
    log = scripted_logs.fan_out_and_chain
    events = list(iter_events(log))
    usage = events[-1]["usage"]
    depths = [event["depth"] for event in events if event["event"] == "agent_start"]

    completed = fast_rlm_log(str(log), "--stats")

    assert completed.returncode == 0, completed.stderr
    stats = labelled(completed.stdout)
    assert stats["total"].startswith("ok in ") and ": 7 agents, 12 LLM calls" in stats["total"]
    assert stats["total"].endswith("cost $0.003000")
    line_count = len(log.read_text(encoding="utf-8").splitlines())
    assert stats["tree"] == f"1 root agent, max depth {max(depths)}; {line_count} log lines"
    assert stats["tokens"] == f"{usage['prompt_tokens'] + usage['completion_tokens']:,} in all"
    limits = usage["limits"]
    assert stats["limits"] == (
        f"{limits['max_llm_calls']['used']} LLM requests (no cap) · "
        f"{limits['max_prompt_tokens']['used']:,} of 200,000 prompt tokens · "
        f"{limits['max_completion_tokens']['used']:,} of 50,000 completion tokens · "
        f"${limits['max_money_spent']['used']:.6f} of $1.00"
    )
    assert "status  depth  model" not in completed.stdout and "├─ root.0" not in completed.stdout


def test_the_default_report_keeps_the_agent_table_and_shows_the_same_stats(scripted_logs):
    log = str(scripted_logs.fan_out_and_chain)

    report = fast_rlm_log(log).stdout
    stats = fast_rlm_log(log, "--stats").stdout

    assert "status  depth  model" in report and "├─ root.0" in report
    for label in ("total", "tree", "tokens", "limits"):
        assert labelled(report)[label] == labelled(stats)[label]


def test_a_crashed_run_shows_the_caps_it_had(broken_logs):
    completed = fast_rlm_log(str(broken_logs.crashed), "--stats")

    stats = labelled(completed.stdout)
    assert "limits" not in stats
    assert stats["caps"] == "$1.00 · 200,000 prompt + 50,000 completion tokens"
    assert stats["total"].startswith("no run_end in ")


def test_stats_is_one_mode_among_tui_and_render(scripted_logs):
    completed = fast_rlm_log(str(scripted_logs.no_cost), "--stats", "--render", "dot")
    assert completed.returncode == 2
    assert "not allowed with argument" in completed.stderr


def test_a_cli_run_with_the_originals_flags_then_stats_shows_the_caps_it_set(
    scripted_server, isolated_workdir
):
    server = scripted_server(scenarios.fan_out(2))
    env = {name: value for name, value in os.environ.items() if not name.startswith("RLM_MODEL_")}
    env.update(RLM_MODEL_API_KEY="cli-key-0000", RLM_MODEL_BASE_URL=server.base_url)
    (isolated_workdir / "caps.yaml").write_text("max_prompt_tokens: 90000\nmax_money_spent: 0.25\n")
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "fast_rlm.cli.main",
            "squares",
            "--config",
            "caps.yaml",
            "--max-global-calls",
            "40",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    # The progress summary on stderr ends with the caps beside their use, then the log.
    assert ran.stderr.splitlines()[-2].startswith("limits: 3 of 40 LLM requests · ")
    assert ran.stderr.splitlines()[-2].endswith(" · n/a of $0.25")  # the scripted model reports no cost

    stats = labelled(fast_rlm_log(result["log_file"], "--stats").stdout)

    used = result["usage"]["limits"]
    assert stats["limits"] == (
        f"3 of 40 LLM requests · {used['max_prompt_tokens']['used']:,} of 90,000 prompt tokens · "
        f"{used['max_completion_tokens']['used']:,} of 50,000 completion tokens · n/a of $0.25"
    )
    assert stats["tree"].startswith("1 root agent, max depth 1; ")
    assert Path(result["log_file"]).parent == isolated_workdir / "logs"
