"""The original fast-rlm's command-line flags, run as its users run them: `fast-rlm PROMPT --flags`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fast_rlm.scripted.server import first_user_message, repl
from tests import scripted_server as scenarios
from tests.conftest import events_of, read_log


def fast_rlm(*args: str, base_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RLM_MODEL_")}
    env["RLM_MODEL_API_KEY"] = "cli-key-0000"
    if base_url is not None:
        env["RLM_MODEL_BASE_URL"] = base_url
    return subprocess.run(
        [sys.executable, "-m", "fast_rlm.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def run_log(completed: subprocess.CompletedProcess[str], log_dir: str = "logs") -> list[dict]:
    """The run's log, found in `log_dir`: with -q, stdout holds only the answer."""
    assert completed.returncode == 0, completed.stderr
    (log_file,) = Path(log_dir).glob("*.jsonl")
    return read_log(log_file)


def test_config_flags_reach_the_engine_and_win_over_the_config_file_and_local_yaml(
    scripted_server, isolated_workdir
):
    server = scripted_server(scenarios.fan_out(2))
    (isolated_workdir / "rlm_config.yaml").write_text("max_calls_per_subagent: 3\nsub_agent: local/sub\n")
    (isolated_workdir / "mine.yaml").write_text(
        "primary_agent: file/root\nmax_depth: 5\nmax_llm_calls: 99\ntruncate_len: 1234\n"
    )

    completed = fast_rlm(
        "squares",
        "--config", "mine.yaml",
        "--primary-agent", "flag/root",
        "--sub-agent", "flag/sub",
        "--max-depth", "2",
        "--max-calls", "7",
        "--max-global-calls", "40",
        "--prefix", "compat",
        "--log-dir", "elsewhere",
        "-q",
        base_url=server.base_url,
    )  # fmt: skip

    log = run_log(completed, "elsewhere")
    config = events_of(log, "run_start")[0]["config"]
    assert config["primary_agent"] == "flag/root" and config["sub_agent"] == "flag/sub"
    assert config["max_depth"] == 2
    assert config["max_calls_per_subagent"] == 7
    assert config["max_llm_calls"] == 40
    assert config["truncate_len"] == 1234  # the file's other keys still apply
    assert json.loads(completed.stdout) == [0, 1]  # -q: only the answer
    assert sorted(request["model"] for request in server.requests) == ["flag/root", "flag/sub", "flag/sub"]
    assert [path.name[:7] for path in (isolated_workdir / "elsewhere").iterdir()] == ["compat_"]
    assert not (isolated_workdir / "logs").exists()
    assert completed.stderr == ""  # -q: no progress


def test_max_global_calls_caps_the_run_and_max_calls_caps_an_agent(scripted_server):
    server = scripted_server(scenarios.fan_out(3))
    capped = fast_rlm("squares", "--max-global-calls", "2", "-q", base_url=server.base_url)
    assert capped.returncode == 1
    assert "BudgetExceededError" in capped.stderr and "max_llm_calls" in capped.stderr

    looping = scripted_server(lambda request: repl("print('thinking')"))
    stuck = fast_rlm("q", "--max-calls", "2", "-q", base_url=looping.base_url)
    assert stuck.returncode == 1
    assert "max_calls_per_subagent=2" in stuck.stderr
    assert len(looping.requests) == 2


def test_quiet_is_silent_and_verbosity_wins_over_it(scripted_server):
    server = scripted_server(scenarios.fan_out(2))

    quiet = fast_rlm("squares", "--quiet", base_url=server.base_url)
    assert quiet.returncode == 0 and quiet.stderr == ""

    summary = fast_rlm("squares", base_url=server.base_url)  # the default: a line per agent, no steps
    assert "root.0" in summary.stderr and "step 1]" not in summary.stderr

    full = fast_rlm("squares", "-q", "--verbosity", "full", base_url=server.base_url)
    assert full.returncode == 0, full.stderr
    assert "[root step 1] FINAL(await batch_llm_query" in full.stderr
    assert full.stderr.rstrip().splitlines()[-1].startswith("log: ")

    for spelling in ("silent", "0"):
        assert fast_rlm("squares", "--verbosity", spelling, base_url=server.base_url).stderr == ""


def test_a_bad_verbosity_exits_2_naming_the_values_even_with_quiet():
    completed = fast_rlm("q", "-q", "--verbosity", "loud")
    assert completed.returncode == 2
    assert "verbosity must be 0/'silent', 1/'summary' or 2/'full', not 'loud'" in completed.stderr


@pytest.mark.parametrize(
    ("flag", "bad", "reason"),
    [
        ("--max-depth", "-1", "must be 0 or more, not -1"),
        ("--max-calls", "0", "must be 1 or more, not 0"),
        ("--max-global-calls", "many", "'many' is not a whole number"),
        ("--primary-agent", " ", "needs a model name"),
    ],
)
def test_bad_flag_values_exit_2_naming_the_flag(isolated_workdir, flag, bad, reason):
    completed = fast_rlm("q", flag, bad)
    assert completed.returncode == 2
    assert f"argument {flag}" in completed.stderr and reason in completed.stderr
    assert "Traceback" not in completed.stderr and not (isolated_workdir / "logs").exists()


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        (["--acp-agents", '{"x": {}}'], "OpenAI-compatible HTTP API only"),
        (["--cli-agents", "@agents.json"], "OpenAI-compatible HTTP API only"),
        (["--cli-minimal"], "--primary-agent/--sub-agent"),
        (["--cli-allow-api-key"], "RLM_MODEL_BASE_URL"),
        (["--vertex"], "OpenAI-compatible endpoint, such as Vertex AI's"),
    ],
)
def test_the_originals_other_backends_exit_2_saying_what_to_use(isolated_workdir, args, instead):
    completed = fast_rlm("q", *args)
    assert completed.returncode == 2
    assert f"{args[0]} is not supported: " in completed.stderr and instead in completed.stderr
    assert "unrecognized arguments" not in completed.stderr
    assert not (isolated_workdir / "logs").exists()


def test_with_input_file_the_prompt_is_the_instruction_and_the_file_the_context(
    scripted_server, isolated_workdir
):
    server = scripted_server(lambda request: repl("FINAL([type(context).__name__, context['n'] * 2])"))
    Path("data.json").write_text('{"n": 21}')

    completed = fast_rlm("Double n", "--input-file", "data.json", "-q", base_url=server.base_url)

    log = run_log(completed)
    assert json.loads(completed.stdout) == ["dict", 42]
    assert "Double n" in first_user_message(server.requests[0])
    run_start = events_of(log, "run_start")[0]
    assert run_start["instruction"] == "Double n" and run_start["query_type"] == "dict"


def test_input_file_alone_is_enough_and_nothing_at_all_exits_2(scripted_server):
    server = scripted_server(lambda request: repl("FINAL(len(context))"))
    Path("notes.txt").write_text("twelve chars")

    alone = fast_rlm("--input-file", "notes.txt", "-q", base_url=server.base_url)
    assert json.loads(alone.stdout) == 12

    nothing = fast_rlm("-q", base_url=server.base_url)
    assert nothing.returncode == 2 and "No query" in nothing.stderr
    missing = fast_rlm("q", "--input-file", "absent.txt", "-q", base_url=server.base_url)
    assert missing.returncode == 2 and "absent.txt" in missing.stderr


def test_quiet_prints_a_string_answer_as_it_is_and_without_q_the_whole_result(scripted_server):
    server = scripted_server(lambda request: repl('FINAL("two words")'))

    quiet = fast_rlm("q", "-q", base_url=server.base_url)
    assert quiet.returncode == 0 and quiet.stdout == "two words\n"

    whole = fast_rlm("q", "--verbosity", "silent", base_url=server.base_url)
    result = json.loads(whole.stdout)
    assert result["results"] == "two words" and Path(result["log_file"]).is_file()


def test_a_flag_wins_over_the_original_name_of_its_key_in_the_config_file(scripted_server, isolated_workdir):
    server = scripted_server(scenarios.fan_out(2))
    (isolated_workdir / "old.yaml").write_text("max_global_calls: 50\napi_timeout_ms: 20000\n")

    completed = fast_rlm(
        "squares", "--config", "old.yaml", "--max-global-calls", "3", "-q", base_url=server.base_url
    )

    config = events_of(run_log(completed), "run_start")[0]["config"]
    assert config["max_llm_calls"] == 3 and config["llm_timeout_s"] == 20
