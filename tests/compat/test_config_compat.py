"""The original fast-rlm's config keys and RLMConfig habits keep working (issue 12, item 3)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest
from pydantic import SecretStr

import fast_rlm
from fast_rlm.config import RLMConfig, resolve_config
from fast_rlm.errors import BudgetExceededError, ConfigError
from fast_rlm.scripted.server import ScriptedReply
from tests import scripted_server as scenarios
from tests.conftest import config_for

# The keys and values of the original 0.5.0's bundled rlm_config.yaml, written out here.
ORIGINAL_BUNDLED_CONFIG = """\
max_calls_per_subagent: 20
max_depth: 3
truncate_len: 10000
max_money_spent: 0.2
api_max_retries: 3
api_timeout_ms: 30000
enable_tools: true
enable_structured_io: true
inherit_tools: false
inherit_mcp: false
enable_compression_guard: true
compression_min_chars: 5000
compression_ratio: 0.6
"""


@pytest.fixture
def original_local_config(isolated_workdir: Path) -> Path:
    path = isolated_workdir / "rlm_config.yaml"
    path.write_text(ORIGINAL_BUNDLED_CONFIG)
    return path


def test_the_original_bundled_config_loads_cleanly_with_its_keys_translated(original_local_config):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = resolve_config(None)
    assert config.llm_max_retries == 3
    assert config.llm_timeout_s == 30.0
    assert (config.truncate_len, config.max_money_spent) == (10000, 0.2)
    assert config.enable_compression_guard is True
    assert (config.enable_tools, config.inherit_tools) == (True, False)
    assert "api_timeout_ms" not in config.engine_fields()
    assert "enable_compression_guard" not in config.engine_fields()


def test_every_other_key_of_the_original_config_is_accepted(isolated_workdir):
    config = RLMConfig(
        max_global_calls=7,
        acp_agents={"hermes": {"command": "hermes", "args": ["acp"]}},
        cli_agents={"mycli": {"command": "mycli"}},
        cli_minimal=True,
        cli_allow_api_key=True,
    )
    assert config.max_llm_calls == 7
    assert config.acp_agents == {"hermes": {"command": "hermes", "args": ["acp"]}}
    with pytest.raises(ConfigError, match="compression_ratio"):
        config.compression_ratio = -1


def test_aliases_read_and_write_through_to_our_names():
    config = RLMConfig(api_timeout_ms=2500, api_max_retries=1)
    assert (config.llm_timeout_s, config.llm_max_retries) == (2.5, 1)
    assert config.api_timeout_ms == 2500
    config.api_timeout_ms = 4000
    config.max_global_calls = 9
    assert (config.llm_timeout_s, config.max_llm_calls, config.max_global_calls) == (4.0, 9, 9)
    with pytest.raises(ConfigError, match="api_timeout_ms.*milliseconds"):
        config.api_timeout_ms = "soon"


def test_an_alias_in_the_local_yaml_is_overridden_by_our_name_in_run_config(original_local_config):
    merged = resolve_config({"llm_timeout_s": 12, "max_global_calls": 4})
    assert merged.llm_timeout_s == 12
    assert merged.max_llm_calls == 4
    assert merged.llm_max_retries == 3  # api_max_retries from the yaml


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"api_max_retries": 2, "llm_max_retries": 5}, ("api_max_retries", "llm_max_retries")),
        ({"api_timeout_ms": 1000, "llm_timeout_s": 3}, ("api_timeout_ms", "llm_timeout_s")),
        ({"max_global_calls": 1, "max_llm_calls": 2}, ("max_global_calls", "max_llm_calls")),
    ],
)
def test_an_alias_and_its_new_name_that_disagree_fail_naming_both(isolated_workdir, values, names):
    first, second = names
    with pytest.raises(ConfigError, match=f"'{first}'.*'{second}'.*disagree"):
        fast_rlm.run("q", config={**values, "api_key": "k"})
    with pytest.raises(ConfigError, match=f"'{first}'.*'{second}'"):
        RLMConfig(**values)
    local_yaml = "".join(f"{key}: {value}\n" for key, value in values.items())
    (isolated_workdir / "rlm_config.yaml").write_text(local_yaml)
    with pytest.raises(ConfigError, match=f"rlm_config.yaml.*'{first}'.*'{second}'"):
        resolve_config(None)


def test_an_alias_and_its_new_name_that_agree_are_accepted():
    assert RLMConfig(api_timeout_ms=3000, llm_timeout_s=3).llm_timeout_s == 3


def test_unknown_keys_suggest_the_original_names_too(isolated_workdir):
    suggestion = "unknown config key 'max_global_call'. Did you mean 'max_global_calls'"
    with pytest.raises(ConfigError, match=suggestion):
        fast_rlm.run("q", config={"max_global_call": 2, "api_key": "k"})
    with pytest.raises(ConfigError, match="Did you mean 'api_timeout_ms'"):
        RLMConfig(api_timeout_m=5)
    assert list(isolated_workdir.iterdir()) == []


@pytest.mark.parametrize(
    ("key", "model", "backend"),
    [("primary_agent", "acp:codex", "Agent Client Protocol"), ("sub_agent", "cli:claude-code", "CLIs")],
)
def test_acp_and_cli_agents_fail_before_the_run_naming_the_backend(isolated_workdir, key, model, backend):
    with pytest.raises(ConfigError, match=f"'{key}' = '{model}'.*{backend}.*OpenAI-compatible"):
        fast_rlm.run("q", config={key: model, "api_key": "k"})
    assert list(isolated_workdir.iterdir()) == []


def test_rlmconfig_is_a_dataclass_for_replace_and_asdict():
    config = RLMConfig(max_depth=1, api_key="sk-not-printed")
    assert dataclasses.is_dataclass(config)
    changed = dataclasses.replace(config, truncate_len=321)
    assert (changed.truncate_len, changed.max_depth) == (321, 1)
    assert config.truncate_len != 321
    with pytest.raises(ConfigError, match="max_depth"):
        dataclasses.replace(config, max_depth=-1)
    as_dict = dataclasses.asdict(config)
    assert as_dict["max_depth"] == 1 and as_dict["llm_timeout_s"] == config.llm_timeout_s
    assert isinstance(as_dict["api_key"], SecretStr)
    assert "sk-not-printed" not in repr(as_dict) and "sk-not-printed" not in repr(config)
    assert RLMConfig(**as_dict) == config


def test_only_the_fields_an_rlmconfig_sets_override_the_local_yaml(isolated_workdir):
    (isolated_workdir / "rlm_config.yaml").write_text("truncate_len: 999\nllm_max_retries: 1\n")
    config = RLMConfig(max_depth=1)
    config.api_max_retries = 6
    merged = resolve_config(config)
    assert (merged.max_depth, merged.truncate_len, merged.llm_max_retries) == (1, 999, 6)


def test_max_global_calls_caps_the_run_like_max_llm_calls(scripted_server):
    failing = ScriptedReply(status=500, body='{"error": "overloaded"}', headers={"retry-after": "0"})
    server = scripted_server(lambda request: failing)
    config = config_for(server, max_global_calls=2, api_max_retries=10)
    with pytest.raises(BudgetExceededError, match="max_llm_calls=2 reached"):
        fast_rlm.run("q", config=config, verbosity=0)
    assert server.request_count == 2


def test_openai_then_openrouter_api_keys_are_the_fallbacks_in_the_original_order(
    scripted_server, monkeypatch
):
    server = scripted_server(scenarios.final_none)
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key-123456")
    monkeypatch.setenv("RLM_MODEL_BASE_URL", server.base_url)
    fast_rlm.run("q", verbosity=0)
    monkeypatch.setenv("OPENAI_API_KEY", "oa-key-987654")
    fast_rlm.run("q", verbosity=0)
    monkeypatch.setenv("RLM_MODEL_API_KEY", "rlm-key-654321")
    fast_rlm.run("q", verbosity=0)
    assert server.authorization_headers == [
        "Bearer or-key-123456",
        "Bearer oa-key-987654",
        "Bearer rlm-key-654321",
    ]


def test_children_use_primary_agent_when_sub_agent_is_unset(scripted_server):
    server = scripted_server(scenarios.fan_out(2))
    fast_rlm.run("q", config=config_for(server, primary_agent="only/model"), verbosity=0)
    assert [request["model"] for request in server.requests] == ["only/model"] * 3

    server.requests.clear()
    fast_rlm.run("q", config=config_for(server, primary_agent="a/root", sub_agent="b/child"), verbosity=0)
    assert sorted(request["model"] for request in server.requests) == ["a/root", "b/child", "b/child"]
