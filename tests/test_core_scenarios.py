"""The engine end to end (real Deno, real Pyodide workers) against scripted model scenarios."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.errors import LLMAuthError
from tests import scripted_server as scenarios
from tests.conftest import config_for, events_of, read_log


def test_fan_out_returns_every_child_result_in_order(scripted_server):
    server = scripted_server(scenarios.fan_out(8))
    result = fast_rlm.run("squares please", config=config_for(server), verbosity=0)

    assert result["results"] == [n * n for n in range(8)]
    assert server.request_count == 9
    usage = result["usage"]
    assert usage["agents"] == 9 and usage["llm_calls"] == 9
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cost"] is None  # the scripted provider reports no cost; never a made-up 0

    log = read_log(result["log_file"])
    assert log[0]["event"] == "run_start" and log[-1]["event"] == "run_end"
    assert {event["run_id"] for event in log} == {result["run_id"]}
    starts = events_of(log, "agent_start")
    assert sorted(event["agent_id"] for event in starts) == ["root"] + sorted(f"root.{n}" for n in range(8))
    assert all(event["parent_id"] == "root" and event["depth"] == 1 for event in starts[1:])
    assert log[-1]["status"] == "ok" and log[-1]["results"] == result["results"]
    assert log[-1]["usage"] == usage


def test_chain_recurses_to_max_depth(scripted_server):
    server = scripted_server(scenarios.chain(4))
    result = fast_rlm.run("start", config=config_for(server, max_depth=4), verbosity=0)

    assert result["results"] == "start reached the bottom"
    assert server.request_count == 5
    log = read_log(result["log_file"])
    depths = {event["agent_id"]: event["depth"] for event in events_of(log, "agent_start")}
    assert depths == {"root": 0, "root.0": 1, "root.0.0": 2, "root.0.0.0": 3, "root.0.0.0.0": 4}


def test_chain_past_max_depth_fails_the_branch_with_a_depth_error(scripted_server):
    server = scripted_server(scenarios.chain(4))
    with pytest.raises(fast_rlm.errors.BudgetExceededError) as raised:
        fast_rlm.run("start", config=config_for(server, max_depth=2, max_calls_per_subagent=1), verbosity=0)

    log = read_log(raised.value.log_file)
    assert max(event["depth"] for event in events_of(log, "agent_start")) == 2
    deepest_step = next(event for event in events_of(log, "code_step") if event["agent_id"] == "root.0.0")
    assert "LLMQueryError: BudgetExceededError: max_depth=2 reached" in deepest_step["error"]
    assert server.request_count == 3


def test_final_none_is_a_result(scripted_server):
    server = scripted_server(scenarios.final_none)
    result = fast_rlm.run("anything", config=config_for(server), verbosity=0)

    assert result["results"] is None
    steps = events_of(read_log(result["log_file"]), "code_step")
    assert len(steps) == 1 and steps[0]["final"] is True
    assert "never printed" not in steps[0]["stdout"]


def test_dict_context_stays_a_dict(scripted_server):
    server = scripted_server(scenarios.dict_context)
    query = {"name": "ledger", "numbers": [3, 4, 5]}
    result = fast_rlm.run(query, config=config_for(server), verbosity=0)

    assert result["results"] == {"kind": "dict", "total": 12, "name": "ledger"}
    assert server.request_count == 2
    # The first prompt describes the dict's keys; the second carries the printed observation.
    assert '"numbers": list (len 3)' in server.requests[0]["messages"][1]["content"]
    assert server.requests[1]["messages"][-1]["content"].strip() == "dict ['name', 'numbers']"


def test_reply_without_code_gets_an_observation_and_a_second_chance(scripted_server):
    server = scripted_server(scenarios.no_repl_block_first)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == 42
    assert server.request_count == 2
    assert "no ```repl code block" in server.requests[1]["messages"][-1]["content"]
    log = read_log(result["log_file"])
    assert len(events_of(log, "llm_call")) == 2 and len(events_of(log, "code_step")) == 1


def test_http_500_is_retried_then_succeeds(scripted_server):
    responder = scenarios.FailThenSucceed(status=500, failures=2, headers={"retry-after": "0"})
    server = scripted_server(responder)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "recovered"
    assert server.request_count == 3
    assert result["usage"]["llm_calls"] == 1  # failed attempts are not billed calls
    # but each reached the provider, so each counts against max_llm_calls
    assert result["usage"]["limits"]["max_llm_calls"] == {"limit": None, "used": 3}
    log = read_log(result["log_file"])
    retries = events_of(log, "llm_retry")
    assert [event["attempt"] for event in retries] == [1, 2]
    assert all(event["reason"] == "HTTP 500" for event in retries)
    assert events_of(log, "llm_call")[0]["attempts"] == 3


def test_http_401_fails_at_once_with_an_auth_error(scripted_server):
    server = scripted_server(scenarios.unauthorized)
    with pytest.raises(LLMAuthError) as raised:
        fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert server.request_count == 1  # never retried
    assert "API key" in str(raised.value)
    assert server.authorization_headers == ["Bearer test-key-not-secret"]
    log = read_log(raised.value.log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["status"] == "error"
    assert log[-1]["error"]["type"] == "LLMAuthError"
    assert "test-key-not-secret" not in "".join(map(str, log))


def test_max_calls_per_subagent_ends_an_agent_that_never_finishes(scripted_server):
    server = scripted_server(lambda request: scenarios.repl("print('still thinking')"))
    with pytest.raises(fast_rlm.errors.BudgetExceededError) as raised:
        fast_rlm.run("q", config=config_for(server, max_calls_per_subagent=3), verbosity=0)

    assert server.request_count == 3
    assert "max_calls_per_subagent=3" in str(raised.value)
    assert raised.value.usage["llm_calls"] == 3


def test_observation_is_truncated_to_truncate_len(scripted_server):
    def respond(request):
        if scenarios.call_number(request) == 1:
            return scenarios.repl("print('x' * 5000 + 'y' * 10)")
        return scenarios.repl("FINAL('done')")

    server = scripted_server(respond)
    fast_rlm.run("q", config=config_for(server, truncate_len=300), verbosity=0)

    observation = server.requests[1]["messages"][-1]["content"]
    head, marker, tail = observation.split("\n")
    assert head == "x" * 150 and tail == "x" * 140 + "y" * 10  # the start and the end are kept
    assert marker == "[... 4710 more characters truncated from the middle; print less]"
