"""A Python model: run(model=fn) or models={"name": fn}, sync or async, called on the host with
(messages, **llm_kwargs); no endpoint or key when every model is one; budgets, usage and logs as for
an HTTP model; a wrong signature refused before the engine starts."""

from __future__ import annotations

import threading

import pytest

import fast_rlm
from fast_rlm.errors import BudgetExceededError, MissingAPIKeyError, ModelCallableError
from fast_rlm.scripted.server import first_user_message, repl
from tests.conftest import config_for, events_of, read_log

ROOT_CODE = 'FINAL("root saw " + await llm_query("x", "helper task"))'


def test_a_sync_callable_drives_every_agent_without_endpoint_or_key():
    calls: list[tuple[list, dict]] = []
    lock = threading.Lock()

    def my_model(messages, **llm_kwargs):
        with lock:
            calls.append((messages, llm_kwargs))
        is_root = "helper task" not in first_user_message({"messages": messages})
        code = ROOT_CODE if is_root else 'FINAL("child")'
        return {"content": repl(code), "usage": {"prompt_tokens": 100, "completion_tokens": 10, "cost": 0.5}}

    # No key in the environment (conftest clears it) and no base_url that answers.
    result = fast_rlm.run(
        "q", model=my_model, config={"max_depth": 1}, llm_kwargs={"temperature": 0}, verbosity=0
    )

    assert result["results"] == "root saw child"
    assert len(calls) == 2
    assert all(kwargs == {"temperature": 0} for _, kwargs in calls)
    assert calls[0][0][0]["role"] == "system" and isinstance(calls[0][0][0]["content"], str)
    usage = result["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["cost"]) == (200, 20, 1.0)
    assert usage["by_model"] == {
        "python:my_model": {
            "llm_calls": 2,
            "prompt_tokens": 200,
            "completion_tokens": 20,
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "cost": 1.0,
        }
    }
    log = read_log(result["log_file"])
    assert [call["model"] for call in events_of(log, "llm_call")] == ["python:my_model"] * 2


def test_an_async_callable_named_in_models_serves_the_children(scripted_server):
    seen_by_callable: list[str] = []

    async def local(messages, **llm_kwargs):
        seen_by_callable.append(first_user_message({"messages": messages}))
        return repl('FINAL("from local")')  # text alone: usage unreported

    server = scripted_server(lambda request: repl(ROOT_CODE))
    result = fast_rlm.run(
        "q", config=config_for(server, sub_agent="local"), models={"local": local}, verbosity=0
    )

    assert result["results"] == "root saw from local"
    assert server.request_count == 1  # only the root went over HTTP
    assert len(seen_by_callable) == 1 and "helper task" in seen_by_callable[0]
    assert result["usage"]["by_model"]["local"]["llm_calls"] == 1
    assert result["usage"]["by_model"]["local"]["cost"] is None


def test_a_model_that_raises_fails_that_call_and_the_parent_sees_why():
    def flaky(messages, **llm_kwargs):
        if "helper task" in first_user_message({"messages": messages}):
            raise ValueError("quota gone")
        code = """
try:
    await llm_query("x", "helper task")
except LLMQueryError as error:
    FINAL(str(error))
"""
        return repl(code)

    result = fast_rlm.run("q", model=flaky, verbosity=0)
    assert "the Python model python:flaky raised ValueError: quota gone" in result["results"]


def test_budgets_count_python_model_calls():
    def chatty(messages, **llm_kwargs):
        return repl("print('still thinking')")

    with pytest.raises(BudgetExceededError, match="max_llm_calls=2"):
        fast_rlm.run("q", model=chatty, config={"max_llm_calls": 2}, verbosity=0)


def test_a_model_returning_the_wrong_shape_fails_with_the_fix():
    def wrong(messages, **llm_kwargs):
        return 42

    with pytest.raises(fast_rlm.errors.LLMError, match=r'return the reply\'s text \(str\) or \{"content"'):
        fast_rlm.run("q", model=wrong, verbosity=0)


def two_positional(messages, options):
    return ""


def no_keywords(messages):
    return ""


@pytest.mark.parametrize("model", [two_positional, no_keywords, "not callable"])
def test_a_wrong_signature_is_refused_before_the_engine_starts(model):
    with pytest.raises(ModelCallableError, match=r"messages, \*\*llm_kwargs"):
        fast_rlm.run("q", models={"bad": model}, config={"sub_agent": "bad", "api_key": "k"}, verbosity=0)


def test_an_http_model_beside_a_python_one_still_needs_a_key():
    def local(messages, **llm_kwargs):
        return ""

    with pytest.raises(MissingAPIKeyError):
        fast_rlm.run("q", models={"local": local}, config={"sub_agent": "local"}, verbosity=0)
