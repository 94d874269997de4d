"""The native Anthropic Messages API (issue 13, item 2): "anthropic:<model>" for the root and its
helpers, with the same retries, usage and logs as the OpenAI-compatible client, and a missing key or
an unknown provider prefix refused before the engine starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import LLMAuthError, MissingAPIKeyError, UnknownProviderError
from fast_rlm.inputs.providers import provider_of
from fast_rlm.scripted.server import ScriptedReply, repl
from tests import scripted_server as scenarios
from tests.conftest import events_of, read_log

ANTHROPIC_KEY = "anthropic-test-key-123"


def anthropic_config(server, **overrides):
    return {
        "primary_agent": "anthropic:claude-root",
        "sub_agent": "anthropic:claude-helper",
        "anthropic_base_url": server.anthropic_base_url,
        "anthropic_api_key": ANTHROPIC_KEY,
        **overrides,
    }


def test_a_tree_runs_on_the_messages_api_with_its_key_and_version_headers(scripted_server):
    server = scripted_server(scenarios.fan_out(2))
    result = fast_rlm.run("q", config=anthropic_config(server), verbosity=0)

    assert result["results"] == [0, 1]
    assert len(server.wire_requests) == 3
    for wire in server.wire_requests:
        assert wire["path"] == "/v1/messages"
        headers = {name.lower(): value for name, value in wire["headers"].items()}
        assert headers["x-api-key"] == ANTHROPIC_KEY
        assert headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in headers
        body = wire["body"]
        assert body["max_tokens"] == 8192
        assert body["system"][0]["type"] == "text" and "```repl" in body["system"][0]["text"]
        assert [message["role"] for message in body["messages"]][0] == "user"
    assert sorted(wire["body"]["model"] for wire in server.wire_requests) == [
        "claude-helper",
        "claude-helper",
        "claude-root",
    ]
    log = read_log(result["log_file"])
    calls = events_of(log, "llm_call")
    assert sorted(call["model"] for call in calls) == [
        "anthropic:claude-helper",
        "anthropic:claude-helper",
        "anthropic:claude-root",
    ]
    parts = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    sent = [sum(usage[part] for part in parts) for usage in server.reported_usage]
    assert result["usage"]["prompt_tokens"] == sum(sent) > 0
    # The second helper's system prompt is the first one's: read from the cache.
    assert (
        result["usage"]["cached_tokens"]
        == sum(u["cache_read_input_tokens"] for u in server.reported_usage)
        > 0
    )
    assert result["usage"]["completion_tokens"] == sum(u["output_tokens"] for u in server.reported_usage)
    assert ANTHROPIC_KEY not in Path(result["log_file"]).read_text()


def test_anthropic_helpers_under_an_openai_compatible_root_take_the_key_from_the_environment(
    scripted_server, monkeypatch
):
    server = scripted_server(scenarios.fan_out(1))
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    result = fast_rlm.run(
        "q",
        config={
            "base_url": server.base_url,
            "api_key": "openai-side-key",
            "primary_agent": "root-model",
            "sub_agent": "anthropic:claude-helper",
        },
        verbosity=0,
    )
    assert result["results"] == [0]
    assert [wire["path"] for wire in server.wire_requests] == ["/v1/chat/completions", "/v1/messages"]
    assert server.wire_requests[1]["headers"]["x-api-key"] == ANTHROPIC_KEY


def test_overloaded_answers_are_retried_and_a_refused_key_names_the_anthropic_settings(scripted_server):
    answers = iter([ScriptedReply(status=529, body="{}", headers={"retry-after": "0"})])

    def respond(request):
        return next(answers, None) or repl("FINAL('ok')")

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=anthropic_config(server), verbosity=0)
    assert result["results"] == "ok"
    retries = events_of(read_log(result["log_file"]), "llm_retry")
    assert [retry["reason"] for retry in retries] == ["HTTP 529"]

    refusing = scripted_server(lambda request: ScriptedReply(status=401, body='{"error": "bad key"}'))
    with pytest.raises(LLMAuthError, match="ANTHROPIC_API_KEY or config anthropic_api_key"):
        fast_rlm.run("q", config=anthropic_config(refusing), verbosity=0)
    assert len(refusing.requests) == 1  # an auth error is never retried


def test_a_missing_anthropic_key_fails_before_the_engine_starts(scripted_server, isolated_workdir):
    server = scripted_server(lambda request: repl("FINAL(1)"))
    config = anthropic_config(server)
    del config["anthropic_api_key"]
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY") as raised:
        fast_rlm.run("q", config=config, verbosity=0)
    assert "anthropic:claude-root" in str(raised.value)
    assert server.requests == [] and list(isolated_workdir.iterdir()) == []
    # An all-Anthropic tree needs no OpenAI-compatible key.
    assert fast_rlm.run("q", config=anthropic_config(server), verbosity=0)["results"] == 1


@pytest.mark.parametrize("model", ["foo:model", "vertex:gemini-pro"])
def test_an_unknown_provider_prefix_fails_before_the_engine_starts(isolated_workdir, model):
    with pytest.raises(UnknownProviderError, match="unknown provider prefix") as raised:
        fast_rlm.run("q", config={"api_key": "k", "sub_agent": model}, verbosity=0)
    assert "'anthropic:<model>'" in str(raised.value) and f"'openai:{model}'" in str(raised.value)
    assert list(isolated_workdir.iterdir()) == []


def test_names_with_a_colon_that_are_not_provider_prefixes():
    assert provider_of("anthropic:claude-sonnet-4-5") == "anthropic"
    assert provider_of("openai:llama3:8b") == "openai"
    assert provider_of("anthropic/claude-sonnet-4.5") == "openai"  # OpenRouter's name
    assert provider_of("meta-llama/llama-3.2-3b-instruct:free") == "openai"
    assert provider_of("llama3:8b") == provider_of("mistral:latest") == "openai"  # Ollama tags


def test_an_llm_query_model_with_an_unknown_prefix_fails_that_call_only(scripted_server):
    def respond(request):
        if scenarios.is_root(request):
            return repl(
                "try:\n    await llm_query(1, model='foo:bar')\nexcept Exception as error:\n"
                "    FINAL(str(error))"
            )
        return repl("FINAL(0)")

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=anthropic_config(server), verbosity=0)
    assert 'unknown provider prefix "foo:"' in result["results"]
    assert json.dumps(server.requests).count("claude-helper") == 0
