"""Limits that span the whole tree: calls, tokens, money. Each model request reserves its share of
every cap before it is sent, so a fan-out cannot overshoot; a request that cannot reserve fails its
agent with BudgetExceededError, and the run keeps what was done."""

from __future__ import annotations

import itertools

import pytest

import fast_rlm
from fast_rlm.config import RLMConfig
from fast_rlm.errors import BudgetExceededError
from fast_rlm.scripted.server import ScriptedReply, call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log

CHILDREN = 2000
CAPS = ("max_llm_calls", "max_prompt_tokens", "max_completion_tokens", "max_money_spent")
NO_CAPS = dict.fromkeys(CAPS)
COST_PER_CALL = 0.01


def _wide_fan_out(cost: float | None = None):
    """The root starts CHILDREN children in one batch, keeps going past the ones that fail and
    FINALs how many succeeded; each child answers at once. Every reply reports `cost`."""

    def respond(request):
        if "square it" in first_user_message(request):
            content = repl("FINAL(context * context)")
        else:
            content = repl(
                f"done = await batch_llm_query(*[llm_query(n, 'square it') for n in range({CHILDREN})], "
                "return_exceptions=True)\n"
                "FINAL(sum(1 for answer in done if not isinstance(answer, Exception)))"
            )
        return ScriptedReply(content=content, cost=cost)

    return respond


def _served(server, cap: str) -> float:
    """What the scripted server handed out of the capped measure: what the cap must hold."""
    if cap == "max_llm_calls":
        return server.request_count
    usage_fields = {"max_prompt_tokens": "prompt_tokens", "max_completion_tokens": "completion_tokens"}
    field = usage_fields.get(cap, "cost")
    return sum(usage.get(field) or 0 for usage in server.reported_usage)


def _priced(server, price) -> float:
    return (
        sum(
            usage["prompt_tokens"] * price["prompt_per_million"]
            + usage["completion_tokens"] * price["completion_per_million"]
            for usage in server.reported_usage
        )
        / 1_000_000
    )


@pytest.mark.parametrize(
    ("cap", "limit", "model_prices"),
    [
        ("max_llm_calls", 100, {}),
        ("max_prompt_tokens", 20_000, {}),
        ("max_completion_tokens", 1_000, {}),
        ("max_money_spent", 0.5, {}),  # the provider reports $0.01 a call
        # no cost reported: each call is priced from model_prices, before it is sent and after
        ("max_money_spent", 0.05, {"root-model": {"prompt_per_million": 1.0, "completion_per_million": 4.0}}),
    ],
    ids=["calls", "prompt-tokens", "completion-tokens", "reported-money", "priced-money"],
)
def test_a_fan_out_of_2000_children_never_passes_a_cap(scripted_server, cap, limit, model_prices):
    reported_cost = COST_PER_CALL if cap == "max_money_spent" and not model_prices else None
    server = scripted_server(_wide_fan_out(reported_cost))
    models = {"primary_agent": "root-model", "sub_agent": "root-model"} if model_prices else {}
    config = config_for(server, **{**NO_CAPS, cap: limit}, max_depth=1, model_prices=model_prices, **models)
    result = fast_rlm.run("q", config=config, verbosity=0)

    served = _served(server, cap) if not model_prices else _priced(server, model_prices["root-model"])
    assert served <= limit + 1e-9  # with 2,001 agents asking, not one request past the cap
    assert served > 0.8 * limit  # and the cap, not something else, is what stopped them
    # Every child that got its one request answered finished; the rest failed without sending any.
    assert result["results"] == server.request_count - 1
    assert result["usage"]["limits"][cap] == {"limit": limit, "used": pytest.approx(served)}
    log = read_log(result["log_file"])
    assert log[-1]["usage"]["limits"] == result["usage"]["limits"]
    refused = [event for event in events_of(log, "agent_end") if event["status"] == "failed"]
    assert len(refused) == CHILDREN - result["results"]
    assert all(event["error"]["type"] == "BudgetExceededError" for event in refused)
    assert f"{cap}={limit} reached" in refused[0]["error"]["message"]
    assert f"Raise {cap} in the config" in refused[0]["error"]["message"]


def test_replies_longer_than_reserved_pass_the_cap_only_by_what_requests_in_flight_report(scripted_server):
    """Replies of 0 to ~400 tokens, so a reply can report far more than the average it reserved: the
    cap can then be passed, but only by the requests in flight, at most max_concurrency of them."""
    replies = itertools.count()
    wide = _wide_fan_out()

    def respond(request):
        if "square it" not in first_user_message(request):
            return wide(request)
        padding = "x" * (next(replies) * 97 % 1600)
        return repl(f"# {padding}\nFINAL(context * context)")

    server = scripted_server(respond)
    limit, in_flight = 3_000, 8
    caps = {**NO_CAPS, "max_completion_tokens": limit}
    config = config_for(server, **caps, max_concurrency=in_flight, max_depth=1)
    result = fast_rlm.run("q", config=config, verbosity=0)

    used = _served(server, "max_completion_tokens")
    longest_reply = max(usage["completion_tokens"] for usage in server.reported_usage)
    assert 0.8 * limit < used <= limit + in_flight * longest_reply
    assert result["usage"]["limits"]["max_completion_tokens"] == {"limit": limit, "used": used}


def test_the_error_names_the_cap_what_was_used_and_keeps_finished_agents(scripted_server):
    """The root keeps starting children one at a time until its own next request is refused."""

    def respond(request):
        if "child" in first_user_message(request):
            return repl("FINAL(len(str(context)))")
        return repl(f"print(await llm_query('step {call_number(request)}', 'child'))")

    server = scripted_server(respond)
    with pytest.raises(BudgetExceededError) as raised:
        fast_rlm.run("q", config=config_for(server, max_llm_calls=5, max_calls_per_subagent=100), verbosity=0)

    assert str(raised.value).startswith("max_llm_calls=5 reached: 5 model requests used in this run.")
    assert "Raise max_llm_calls in the config" in str(raised.value)
    assert server.request_count == 5
    assert raised.value.usage["limits"]["max_llm_calls"] == {"limit": 5, "used": 5}
    assert raised.value.partial_results == {"root.0": 6, "root.1": 6}  # the children that finished
    log = read_log(raised.value.log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["error"]["type"] == "BudgetExceededError"


def test_every_retry_counts_against_max_llm_calls(scripted_server):
    failing = ScriptedReply(status=500, body='{"error": "overloaded"}', headers={"retry-after": "0"})
    server = scripted_server(lambda request: failing)
    with pytest.raises(BudgetExceededError, match="max_llm_calls=3 reached"):
        fast_rlm.run("q", config=config_for(server, max_llm_calls=3, llm_max_retries=10), verbosity=0)
    assert server.request_count == 3


def test_packaged_defaults_cap_every_run_like_the_original():
    config = RLMConfig()
    assert config.max_money_spent == 1.0
    assert config.max_completion_tokens == 50_000
    assert config.max_prompt_tokens == 200_000
    assert config.max_llm_calls is None


def test_a_money_cap_that_cannot_price_a_model_says_so_once_at_run_start(scripted_server, capfd):
    server = scripted_server(lambda request: repl("FINAL('free?')"))
    prices = {"priced-model": {"prompt_per_million": 1.0, "completion_per_million": 1.0}}
    config = config_for(server, primary_agent="priced-model", sub_agent="mystery-model", model_prices=prices)
    result = fast_rlm.run("q", config=config, verbosity="summary")

    notices = [line for line in capfd.readouterr().err.splitlines() if "model_prices" in line]
    assert len(notices) == 1
    assert notices[0].startswith("fast-rlm: max_money_spent=1 cannot be enforced for mystery-model:")
    run_start = read_log(result["log_file"])[0]
    assert run_start["event"] == "run_start" and run_start["unpriced_models"] == ["mystery-model"]


def test_no_notice_when_every_model_is_priced_or_there_is_no_money_cap(scripted_server, capfd):
    server = scripted_server(lambda request: repl("FINAL(1)"))
    result = fast_rlm.run("q", config=config_for(server, max_money_spent=None), verbosity="summary")
    assert "model_prices" not in capfd.readouterr().err
    assert read_log(result["log_file"])[0]["unpriced_models"] == []


def test_price_table_prices_a_provider_that_reports_no_cost(scripted_server):
    server = scripted_server(lambda request: repl("FINAL('priced')"))
    prices = {"priced-model": {"prompt_per_million": 1_000_000, "completion_per_million": 2_000_000}}
    result = fast_rlm.run(
        "q",
        config=config_for(server, primary_agent="priced-model", model_prices=prices, max_money_spent=None),
        verbosity=0,
    )
    usage = result["usage"]
    assert usage["cost"] == pytest.approx(usage["prompt_tokens"] * 1 + usage["completion_tokens"] * 2)


def test_reported_cost_is_summed_over_the_tree(scripted_server):
    def respond(request):
        if "child" in first_user_message(request):
            return ScriptedReply(content=repl("FINAL(1)"), cost=0.25)
        code = "FINAL(await batch_llm_query(llm_query(1, 'child'), llm_query(2, 'child')))"
        return ScriptedReply(content=repl(code), cost=0.5)

    server = scripted_server(respond)
    # A child model of its own: its cost is not estimated from the root's replies.
    result = fast_rlm.run("q", config=config_for(server, sub_agent="child-model"), verbosity=0)
    assert result["results"] == [1, 1]
    assert result["usage"]["cost"] == pytest.approx(1.0)
    assert result["usage"]["limits"]["max_money_spent"] == {"limit": 1, "used": pytest.approx(1.0)}


def test_partly_reported_cost_is_null_not_a_partial_sum(scripted_server):
    def respond(request):
        if "child" in first_user_message(request):
            return repl("FINAL(1)")  # no cost reported
        return ScriptedReply(content=repl("FINAL(await llm_query(1, 'child'))"), cost=0.5)

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["usage"]["cost"] is None
