"""Prompt caching (issue 13, item 1): each agent's stable prefix is marked cacheable, natively and
through OpenRouter-style gateways for anthropic/* models; cache reads and writes are reported per
call, per agent and per run, and priced with model_prices."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.stats import format_report
from fast_rlm.scripted.server import call_number, repl
from tests.conftest import config_for, events_of, read_log

CALLS = 6


def counting_agent(request):
    """Prints something new each call and calls FINAL on call CALLS."""
    call = call_number(request)
    if call < CALLS:
        return repl(f"print('step {call}: ' + 'x' * 200)")
    return repl("FINAL('done')")


def native_config(server, **overrides):
    return {
        "primary_agent": "anthropic:claude-test",
        "anthropic_base_url": server.anthropic_base_url,
        "anthropic_api_key": "anthropic-test-key-123",
        **overrides,
    }


def test_system_prompt_and_first_message_are_byte_identical_across_calls_and_runs(scripted_server):
    server = scripted_server(counting_agent)
    for _ in range(2):
        fast_rlm.run("the same query", config=config_for(server), verbosity=0)
    assert len(server.wire_requests) == 2 * CALLS
    prefixes = {str(wire["body"]["messages"][:2]) for wire in server.wire_requests}
    assert len(prefixes) == 1  # no timestamp, counter or run id in either
    assert all(wire["body"]["messages"][0]["role"] == "system" for wire in server.wire_requests)


def test_native_calls_read_the_conversation_so_far_from_the_cache(scripted_server):
    server = scripted_server(counting_agent)
    result = fast_rlm.run("q", config=native_config(server), verbosity=0)

    bodies = [wire["body"] for wire in server.wire_requests]
    assert all(body["system"][0]["cache_control"] == {"type": "ephemeral"} for body in bodies)
    assert all(body["messages"][-1]["content"][-1]["cache_control"] for body in bodies)
    # System, previous call's last message, last message: within Anthropic's four breakpoints.
    marks = [
        sum("cache_control" in block for message in body["messages"] for block in message["content"])
        for body in bodies
    ]
    assert marks == [1] + [2] * (CALLS - 1)

    usages = server.reported_usage
    assert usages[0]["cache_read_input_tokens"] == 0 and usages[0]["cache_creation_input_tokens"] > 0
    for usage in usages[1:]:
        prompt = (
            usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
        )
        assert usage["cache_read_input_tokens"] >= 0.8 * prompt

    calls = events_of(read_log(result["log_file"]), "llm_call")
    assert [call["usage"]["cached_tokens"] for call in calls] == [
        u["cache_read_input_tokens"] for u in usages
    ]
    assert [call["usage"]["cache_write_tokens"] for call in calls] == [
        u["cache_creation_input_tokens"] for u in usages
    ]
    total_read = sum(u["cache_read_input_tokens"] for u in usages)
    total_written = sum(u["cache_creation_input_tokens"] for u in usages)
    assert (result["usage"]["cached_tokens"], result["usage"]["cache_write_tokens"]) == (
        total_read,
        total_written,
    )
    index = LogIndex.open(result["log_file"])
    assert (index.agents["root"].cached_tokens, index.agents["root"].cache_write_tokens) == (
        total_read,
        total_written,
    )
    assert f"{total_written:,} written to cache" in format_report(index)


def test_openrouter_anthropic_models_get_cache_control_in_content_parts(scripted_server):
    server = scripted_server(counting_agent)
    result = fast_rlm.run("q", config=config_for(server, primary_agent="anthropic/claude-test"), verbosity=0)
    bodies = [wire["body"] for wire in server.wire_requests]
    assert all(body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"} for body in bodies)
    assert all(isinstance(body["messages"][-1]["content"], list) for body in bodies)
    # The gateway reports reads and writes as OpenRouter does; the run adds them up.
    details = [usage["prompt_tokens_details"] for usage in server.reported_usage]
    assert result["usage"]["cached_tokens"] == sum(detail["cached_tokens"] for detail in details) > 0
    assert (
        result["usage"]["cache_write_tokens"] == sum(detail["cache_write_tokens"] for detail in details) > 0
    )


@pytest.mark.parametrize(
    "config_overrides",
    [{"primary_agent": "gpt-test"}, {"primary_agent": "anthropic/claude-test", "prompt_caching": False}],
)
def test_no_cache_control_for_other_models_or_when_prompt_caching_is_off(scripted_server, config_overrides):
    server = scripted_server(counting_agent)
    fast_rlm.run("q", config=config_for(server, **config_overrides), verbosity=0)
    for wire in server.wire_requests:
        assert all(isinstance(message["content"], str) for message in wire["body"]["messages"])


def test_prompt_caching_off_sends_no_breakpoints_natively(scripted_server):
    server = scripted_server(counting_agent)
    result = fast_rlm.run("q", config=native_config(server, prompt_caching=False), verbosity=0)
    assert "cache_control" not in str(server.wire_requests)
    assert result["usage"]["cached_tokens"] == result["usage"]["cache_write_tokens"] == 0


def test_cached_and_written_tokens_are_priced_with_their_own_model_prices(scripted_server):
    server = scripted_server(counting_agent)
    price = {
        "prompt_per_million": 3.0,
        "completion_per_million": 15.0,
        "cached_prompt_per_million": 0.3,
        "cache_write_per_million": 3.75,
    }
    result = fast_rlm.run(
        "q", config=native_config(server, model_prices={"anthropic:claude-test": price}), verbosity=0
    )
    expected = (
        sum(
            usage["input_tokens"] * 3.0
            + usage["cache_read_input_tokens"] * 0.3
            + usage["cache_creation_input_tokens"] * 3.75
            + usage["output_tokens"] * 15.0
            for usage in server.reported_usage
        )
        / 1_000_000
    )
    assert result["usage"]["cost"] == pytest.approx(expected)
    uncached = (result["usage"]["prompt_tokens"] * 3.0 + result["usage"]["completion_tokens"] * 15.0) / 1e6
    assert result["usage"]["cost"] < uncached
