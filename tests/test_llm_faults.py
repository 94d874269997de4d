"""The model endpoint misbehaving: timeouts, rate limits, dropped connections, refused keys."""

from __future__ import annotations

import itertools
import threading

import pytest

import fast_rlm
from fast_rlm.errors import LLMAuthError, LLMError, LLMRateLimitError
from fast_rlm.scripted.server import ScriptedReply, repl
from tests import scripted_server as scenarios
from tests.conftest import config_for, events_of, read_log


class Sequence:
    """Answers the n-th request with the n-th reply, then FINALs."""

    def __init__(self, *replies: ScriptedReply) -> None:
        self.replies = list(replies)
        self._lock = threading.Lock()

    def __call__(self, request):
        with self._lock:
            return self.replies.pop(0) if self.replies else repl("FINAL('answered')")


def test_a_slow_request_is_abandoned_before_the_retry_is_sent(scripted_server):
    server = scripted_server(Sequence(ScriptedReply(content=repl("FINAL('late')"), delay_s=30)))
    result = fast_rlm.run("q", config=config_for(server, llm_timeout_s=0.5), verbosity=0)

    assert result["results"] == "answered"
    assert server.request_count == 2
    first, second = server.timings
    # No duplicate paid request: the first request's connection was closed before the retry arrived.
    assert first["client_left"] is not None and first["client_left"] <= second["arrived"]
    retry = events_of(read_log(result["log_file"]), "llm_retry")
    assert [event["reason"] for event in retry] == ["timeout"]


def test_rate_limit_honours_retry_after(scripted_server):
    limited = ScriptedReply(status=429, body='{"error": "slow down"}', headers={"retry-after": "1"})
    server = scripted_server(Sequence(limited))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "answered"
    retry = events_of(read_log(result["log_file"]), "llm_retry")
    assert [(event["reason"], event["wait_s"]) for event in retry] == [("HTTP 429", 1)]
    first, second = server.timings
    assert second["arrived"] - first["arrived"] >= 1.0


def test_rate_limit_that_never_ends_is_a_rate_limit_error(scripted_server):
    limited = ScriptedReply(status=429, body='{"error": "slow down"}', headers={"retry-after": "0"})
    server = scripted_server(lambda request: limited)
    with pytest.raises(LLMRateLimitError, match="max_concurrency"):
        fast_rlm.run("q", config=config_for(server, llm_max_retries=2), verbosity=0)
    assert server.request_count == 3


def test_dropped_connection_is_retried(scripted_server):
    server = scripted_server(Sequence(ScriptedReply(drop_connection=True)))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "answered"
    assert server.request_count == 2
    retry = events_of(read_log(result["log_file"]), "llm_retry")
    assert len(retry) == 1 and retry[0]["reason"] in ("connection failed", "connection reset")


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_never_retried(scripted_server, status):
    server = scripted_server(lambda request: ScriptedReply(status=status, body='{"error": "no"}'))
    with pytest.raises(LLMAuthError, match=f"HTTP {status}"):
        fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert server.request_count == 1


def test_a_failing_child_model_call_reaches_the_parent_as_llm_query_error(scripted_server):
    def respond(request):
        if "child" in scenarios.first_user_message(request):
            return ScriptedReply(status=400, body='{"error": "bad request for the child"}')
        return repl(
            "try:\n    await llm_query('x', 'child')\nexcept LLMQueryError as error:\n    FINAL(str(error))"
        )

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"].startswith("LLMError: HTTP 400")
    assert "bad request for the child" in result["results"]


def test_reply_with_undecodable_bytes_is_read_with_replacements(scripted_server):
    body = (
        b'{"choices": [{"message": {"role": "assistant", '
        b'"content": "```repl\\nFINAL(\'ok \xff\xfe\')\\n```"}}],'
        b' "usage": {"prompt_tokens": 3, "completion_tokens": 4}}'
    )
    server = scripted_server(lambda request: ScriptedReply(body=body))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == "ok \ufffd\ufffd"


def test_an_unreadable_200_is_retried_once_only(scripted_server):
    server = scripted_server(lambda request: ScriptedReply(body="<html>gateway ate it</html>"))
    with pytest.raises(LLMError, match="non-JSON"):
        fast_rlm.run("q", config=config_for(server, llm_max_retries=4), verbosity=0)
    assert server.request_count == 2  # each one was most likely billed: not llm_max_retries of them


class RateLimitFirstChild:
    """Three children; the first child request to arrive gets 429 with Retry-After, once."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        self.limited_child: str | None = None
        self._lock = threading.Lock()

    def __call__(self, request):
        task = scenarios.first_user_message(request)
        if "child " not in task:
            return repl("FINAL(await batch_llm_query(*[llm_query(n, f'child {n}') for n in range(3)]))")
        with self._lock:
            limit_this = self.limited_child is None
            if limit_this:
                self.limited_child = task
        if limit_this:
            headers = {"retry-after": str(self.retry_after_s)}
            return ScriptedReply(status=429, body='{"error": "slow down"}', headers=headers)
        return repl("FINAL(context + 1)")


def test_other_agents_proceed_while_one_waits_out_a_retry_after(scripted_server):
    responder = RateLimitFirstChild(retry_after_s=1)
    server = scripted_server(responder)
    result = fast_rlm.run("q", config=config_for(server, max_concurrency=1), verbosity=0)

    assert result["results"] == [1, 2, 3]
    tasks = [scenarios.first_user_message(request) for request in server.requests]
    first, retry = [index for index, task in enumerate(tasks) if task == responder.limited_child]
    # With one slot, the other two children could be served only if the backoff gave the slot up.
    assert retry - first == 3
    assert server.peak_in_flight == 1


def test_requests_in_flight_never_pass_max_concurrency(scripted_server):
    limited = ScriptedReply(status=429, body='{"error": "slow down"}', headers={"retry-after": "0"})
    every_fifth = itertools.count()

    def respond(request):
        if scenarios.is_root(request):
            return scenarios.fan_out(100)(request)
        return limited if next(every_fifth) % 5 == 0 else repl("FINAL(context * context)")

    server = scripted_server(respond, latency_s=0.05)
    result = fast_rlm.run("q", config=config_for(server, max_concurrency=6), verbosity=0)

    assert result["results"] == [n * n for n in range(100)]
    assert server.peak_in_flight == 6  # every slot was used, and never one more
