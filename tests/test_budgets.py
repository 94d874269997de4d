"""Limits that span the whole tree: tokens, money, calls. Hitting one ends the run with a typed error
carrying what was done."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.errors import BudgetExceededError
from fast_rlm.scripted_model import ScriptedReply, call_number, first_user_message, repl
from tests.conftest import config_for, read_log


def _endless_children(request):
    """The root keeps starting children; each child answers at once."""
    if "child" in first_user_message(request):
        return repl("FINAL(len(str(context)))")
    return repl(f"print(await llm_query('step {call_number(request)}', 'child'))")


@pytest.mark.parametrize(
    ("limit", "value"),
    [("max_prompt_tokens", 2000), ("max_completion_tokens", 60), ("max_llm_calls", 5)],
)
def test_tree_wide_limits_stop_the_run(scripted_server, limit, value):
    server = scripted_server(_endless_children)
    with pytest.raises(BudgetExceededError, match=f"{limit}={value}") as raised:
        fast_rlm.run(
            "q", config=config_for(server, **{limit: value}, max_calls_per_subagent=100), verbosity=0
        )

    usage = raised.value.usage
    spent = {"max_prompt_tokens": "prompt_tokens", "max_completion_tokens": "completion_tokens"}
    measured = usage[spent.get(limit, "llm_calls")]
    assert measured >= value  # it ran until the limit, not further than one call past it
    assert server.request_count == usage["llm_calls"]
    assert raised.value.partial_results  # children that finished are kept
    assert all(key.startswith("root.") for key in raised.value.partial_results)
    log = read_log(raised.value.log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["error"]["type"] == "BudgetExceededError"


def test_money_limit_uses_reported_cost(scripted_server):
    def respond(request):
        reply = _endless_children(request)
        return ScriptedReply(content=reply, cost=0.01)

    server = scripted_server(respond)
    with pytest.raises(BudgetExceededError, match="max_money_spent=0.035"):
        fast_rlm.run(
            "q", config=config_for(server, max_money_spent=0.035, max_calls_per_subagent=100), verbosity=0
        )
    assert server.request_count == 4


def test_price_table_prices_a_provider_that_reports_no_cost(scripted_server):
    server = scripted_server(lambda request: repl("FINAL('priced')"))
    prices = {"priced-model": {"prompt_per_million": 1_000_000, "completion_per_million": 2_000_000}}
    result = fast_rlm.run(
        "q", config=config_for(server, primary_agent="priced-model", model_prices=prices), verbosity=0
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
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == [1, 1]
    assert result["usage"]["cost"] == pytest.approx(1.0)


def test_partly_reported_cost_is_null_not_a_partial_sum(scripted_server):
    def respond(request):
        if "child" in first_user_message(request):
            return repl("FINAL(1)")  # no cost reported
        return ScriptedReply(content=repl("FINAL(await llm_query(1, 'child'))"), cost=0.5)

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["usage"]["cost"] is None
