"""The model endpoint misbehaving: timeouts, rate limits, dropped connections, refused keys."""

from __future__ import annotations

import threading

import pytest

import fast_rlm
from fast_rlm.errors import LLMAuthError, LLMRateLimitError
from fast_rlm.scripted_model import ScriptedReply, repl
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
