"""Bad input fails with a typed error that names the fix, before the engine starts, leaving nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.config import RLMConfig, resolve_config
from fast_rlm.errors import ConfigError, LLMUnreachableError, MissingAPIKeyError, QueryError
from tests import scripted_server as scenarios
from tests.conftest import config_for, read_log


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _assert_nothing_written(workdir: Path) -> None:
    assert list(workdir.iterdir()) == []


def test_unknown_config_key_suggests_the_right_one(isolated_workdir):
    with pytest.raises(ConfigError, match="unknown config key 'max_dept'. Did you mean 'max_depth'"):
        fast_rlm.run("q", config={"max_dept": 2, "api_key": "k"})
    _assert_nothing_written(isolated_workdir)


def test_negative_max_depth_is_refused(isolated_workdir):
    with pytest.raises(ConfigError, match="'max_depth' = -1"):
        fast_rlm.run("q", config={"max_depth": -1, "api_key": "k"})
    with pytest.raises(ConfigError, match="max_depth"):
        RLMConfig(max_depth=-1)
    config = RLMConfig()
    with pytest.raises(ConfigError, match="RLMConfig.max_depth"):
        config.max_depth = -2
    _assert_nothing_written(isolated_workdir)


@pytest.mark.parametrize("query", [42, {1, 2}, b"bytes", {"x": object()}])
def test_query_of_the_wrong_type(isolated_workdir, query):
    with pytest.raises(QueryError, match="str, dict or list|JSON values"):
        fast_rlm.run(query, config={"api_key": "k"})
    _assert_nothing_written(isolated_workdir)


def test_missing_api_key_names_the_variable(isolated_workdir):
    with pytest.raises(MissingAPIKeyError, match="RLM_MODEL_API_KEY"):
        fast_rlm.run("q")
    _assert_nothing_written(isolated_workdir)


def test_unreachable_base_url_fails_before_the_engine_starts(isolated_workdir):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(LLMUnreachableError, match="RLM_MODEL_BASE_URL"):
        fast_rlm.run("q", config={"api_key": "k", "base_url": url})
    _assert_nothing_written(isolated_workdir)


def test_bad_verbosity_is_a_config_error(isolated_workdir):
    with pytest.raises(ConfigError, match="verbosity"):
        fast_rlm.run("q", config={"api_key": "k"}, verbosity="loud")


def test_bad_local_yaml_names_the_file(isolated_workdir):
    (isolated_workdir / "rlm_config.yaml").write_text("truncate_len: many\n")
    with pytest.raises(ConfigError, match="rlm_config.yaml.*truncate_len"):
        resolve_config(None)


def test_config_layers_merge_in_order(isolated_workdir, monkeypatch):
    (isolated_workdir / "rlm_config.yaml").write_text(
        "max_depth: 1\nsub_agent: local-sub\ntruncate_len: 999\n"
    )
    monkeypatch.setenv("RLM_MODEL_BASE_URL", "http://127.0.0.1:9/v1")
    passed = RLMConfig()
    passed.truncate_len = 500
    merged = resolve_config(passed)
    assert merged.max_depth == 1  # from ./rlm_config.yaml
    assert merged.sub_agent == "local-sub"
    assert merged.truncate_len == 500  # the RLMConfig passed to run() wins
    assert merged.primary_agent == RLMConfig().primary_agent  # packaged default
    assert merged.resolved_base_url() == "http://127.0.0.1:9/v1"  # env when no base_url is configured
    assert RLMConfig.default().max_depth == 1


def test_environment_supplies_key_and_base_url(scripted_server, monkeypatch):
    server = scripted_server(scenarios.final_none)
    monkeypatch.setenv("RLM_MODEL_API_KEY", "env-key-123456")
    monkeypatch.setenv("RLM_MODEL_BASE_URL", server.base_url)
    result = fast_rlm.run("q", verbosity=0)
    assert result["results"] is None
    assert server.authorization_headers == ["Bearer env-key-123456"]
    log_text = Path(result["log_file"]).read_text()
    assert "env-key-123456" not in log_text


def test_input_file_becomes_context_and_query_the_instruction(scripted_server, isolated_workdir):
    data = isolated_workdir / "data.json"
    data.write_text('{"numbers": [1, 2, 3], "name": "file"}')
    server = scripted_server(scenarios.dict_context)
    result = fast_rlm.run("Sum the numbers", input_file=data, config=config_for(server), verbosity=0)
    assert result["results"] == {"kind": "dict", "total": 6, "name": "file"}
    assert "Task: Sum the numbers" in server.requests[0]["messages"][1]["content"]


def test_unreadable_input_file(isolated_workdir):
    with pytest.raises(QueryError, match="Cannot read input_file"):
        fast_rlm.run(input_file=isolated_workdir / "missing.txt", config={"api_key": "k"})


def test_failed_run_keeps_its_log_with_a_closing_line(scripted_server):
    server = scripted_server(lambda request: scenarios.repl("print('looping')"))
    with pytest.raises(fast_rlm.errors.BudgetExceededError) as raised:
        fast_rlm.run("q", config=config_for(server, max_calls_per_subagent=2), verbosity=0)
    log = read_log(raised.value.log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["status"] == "error"
    assert log[-1]["usage"]["llm_calls"] == 2
    assert raised.value.partial_results == {}


def test_session_holds_arguments_and_calls_override_them(scripted_server):
    server = scripted_server(scenarios.fan_out(2))
    session = fast_rlm.Session(config=config_for(server), verbosity=0, prefix="session")
    first = session.run("q")
    second = session.run("q", prefix="override")
    assert first["results"] == second["results"] == [0, 1]
    assert Path(first["log_file"]).name.startswith("session_")
    assert Path(second["log_file"]).name.startswith("override_")


def test_misspelt_option_is_a_type_error_with_a_suggestion(isolated_workdir):
    with pytest.raises(TypeError, match="'verbosty'. Did you mean 'verbosity'"):
        fast_rlm.run("q", verbosty=0)
    assert list(isolated_workdir.iterdir()) == []
