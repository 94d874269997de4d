"""A scripted model server on 127.0.0.1: OpenAI-compatible chat completions at `base_url`, and the
Anthropic Messages API at `anthropic_base_url` (scripted_wire.py), with Anthropic-style prompt
caching for prompts marked with cache_control (scripted_prompt_cache.py).

It stands in for the model in the demo, the tests, the examples and the benchmarks: a `responder`
function reads each request (in the chat-completions view, whichever wire it came on) and says what
the "model" replies (or which HTTP failure to return). Every request is recorded, with the usage
each reply reported and the peak of requests in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fast_rlm.scripted.loopback_http import (
    Connection,
    DaemonWorkers,
    HttpRequest,
    HttpResponse,
    LoopbackHttpServer,
)
from fast_rlm.scripted.prompt_cache import PrefixCache
from fast_rlm.scripted.wire import ChatRequest, read_request, reply_body


@dataclass
class ScriptedReply:
    """One scripted answer: assistant text, or an HTTP failure (status and raw body).

    `content` may be a list of parts ([{"type": "text", "text": ...}, ...]), sent as is, as some
    providers do; `null_content` sends content null (a reply of reasoning only). `reasoning_content`
    and `reasoning` are the reasoning fields of DeepSeek/vLLM and OpenRouter-style providers. On the
    Messages API they go out as thinking blocks, a list `content` as its blocks, and `finish_reason`
    as stop_reason ("length" as "max_tokens").
    """

    content: str | list[dict[str, Any]] | None = None
    null_content: bool = False
    reasoning_content: str | None = None
    reasoning: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    body: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    cost: float | None = None
    # Reported as usage.prompt_tokens_details.cached_tokens and
    # usage.completion_tokens_details.reasoning_tokens when set.
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    drop_connection: bool = False  # close the socket without answering (a connection reset)


Responder = Callable[[dict[str, Any]], "str | ScriptedReply"]


def message_text(message: dict[str, Any]) -> str:
    """A message's text; one with images has a list of parts, whose text parts are joined."""
    content = message["content"]
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content if part.get("type") == "text")
    return content


def first_user_message(request: dict[str, Any]) -> str:
    return next(message_text(message) for message in request["messages"] if message["role"] == "user")


def last_user_message(request: dict[str, Any]) -> str:
    return [message_text(message) for message in request["messages"] if message["role"] == "user"][-1]


def call_number(request: dict[str, Any]) -> int:
    """1 for an agent's first model call, 2 for its second, ..."""
    return 1 + sum(1 for message in request["messages"] if message["role"] == "assistant")


def planned_task(request: dict[str, Any]) -> str | None:
    """In planner mode (run(mode="decompose")): the task a planner's request asks a plan for, or None
    when the request is not a planner's (engine/planner_prompts.ts writes both markers)."""
    if not message_text(request["messages"][0]).startswith("You plan how a task gets done."):
        return None
    task = first_user_message(request).split("The task:\n", 1)[1]
    return task.rsplit("\n\nIts input (`context`): ", 1)[0]


def agent_task(request: dict[str, Any]) -> str:
    """A REPL agent's task, as its first message states it."""
    return first_user_message(request).split("Task: ", 1)[1].split("\n`context` holds: ", 1)[0].strip()


def repl(code: str) -> str:
    """A model reply holding one repl block."""
    return f"```repl\n{code.strip()}\n```"


def _missing_anthropic_header(request: ChatRequest, headers: dict[str, str]) -> ScriptedReply | None:
    """The Anthropic API's refusal of a request without its key or version header."""
    if request.wire != "anthropic":
        return None
    if not headers.get("x-api-key"):
        return ScriptedReply(status=401, body='{"type":"error","error":{"type":"authentication_error"}}')
    if not headers.get("anthropic-version"):
        return ScriptedReply(status=400, body='{"type":"error","error":{"type":"invalid_request_error"}}')
    return None


class ScriptedModelServer:
    """`responder_may_block`: the responder waits for something (a barrier other requests must reach,
    a gate a test opens), so each call runs on a thread of its own. Otherwise it is called on the
    server's event loop, which is the faster way for a thousand requests at once, and a blocked
    responder would hold every other request up."""

    def __init__(
        self, responder: Responder, latency_s: float = 0.0, responder_may_block: bool = False
    ) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.responder_may_block = responder_may_block
        # Every request as the responder saw it (its messages' contents as strings, the system
        # prompt first), and as it came over the wire, with its path and (lower-cased) headers.
        self.requests: list[dict[str, Any]] = []
        self.wire_requests: list[dict[str, Any]] = []
        self.authorization_headers: list[str] = []
        # Per request, in arrival order: when it arrived and when the client hung up before the reply
        # (None if it did not), both from time.monotonic().
        self.timings: list[dict[str, float | None]] = []
        # The usage block of every completion sent, in the order sent.
        self.reported_usage: list[dict[str, Any]] = []
        # Requests received and not yet answered (or hung up on); the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self.prompt_cache = PrefixCache()
        self._lock = threading.Lock()
        self._responders = DaemonWorkers()
        self._http = LoopbackHttpServer(self._answer)

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it listens on."""
        return self._http.address

    @property
    def base_url(self) -> str:
        return self.anthropic_base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> ScriptedModelServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _answer(self, http_request: HttpRequest, connection: Connection) -> HttpResponse | None:
        """The reply to one request, or None when the script closes the connection instead."""
        if http_request.method != "POST":
            return HttpResponse(HTTPStatus.NOT_IMPLEMENTED, b"")
        body = json.loads(http_request.body)
        request = read_request(http_request.path, body)
        wire = {"path": http_request.path, "headers": http_request.headers, "body": body}
        timing = self._record(request, wire, http_request.headers.get("authorization", ""))
        try:
            if self.responder_may_block:
                reply = await self._responders.run(
                    lambda: self._scripted_reply(request, http_request.headers)
                )
            else:
                reply = self._scripted_reply(request, http_request.headers)
            if self.latency_s or reply.delay_s:
                if await connection.client_left_within(self.latency_s + reply.delay_s):
                    timing["client_left"] = time.monotonic()
                    return None
            if reply.drop_connection:
                connection.drop()
                return None
        finally:
            # Counted out before the response goes: once the client has it, it may send its next
            # request at once, which must not find this one still counted.
            self._settled()
        reply_bytes = reply.body if reply.body is not None else json.dumps(self._completion(request, reply))
        if isinstance(reply_bytes, str):
            reply_bytes = reply_bytes.encode()
        return HttpResponse(reply.status, reply_bytes, {"content-type": "application/json", **reply.headers})

    def _scripted_reply(self, request: ChatRequest, headers: dict[str, str]) -> ScriptedReply:
        reply = _missing_anthropic_header(request, headers) or self.responder(request.view)
        return ScriptedReply(content=reply) if isinstance(reply, str) else reply

    def _record(
        self, request: ChatRequest, wire: dict[str, Any], authorization: str
    ) -> dict[str, float | None]:
        timing: dict[str, float | None] = {"arrived": time.monotonic(), "client_left": None}
        with self._lock:
            self.requests.append(request.view)
            self.wire_requests.append(wire)
            self.authorization_headers.append(authorization)
            self.timings.append(timing)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return timing

    def _settled(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _completion(self, request: ChatRequest, reply: ScriptedReply) -> dict[str, Any]:
        account = self.prompt_cache.account(request.view.get("model", ""), request.blocks)
        body, usage = reply_body(request, reply, account)
        with self._lock:
            self.reported_usage.append(usage)
        return body
