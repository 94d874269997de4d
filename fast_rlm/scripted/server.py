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
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


def _missing_anthropic_header(request: ChatRequest, headers: Any) -> ScriptedReply | None:
    """The Anthropic API's refusal of a request without its key or version header."""
    if request.wire != "anthropic":
        return None
    if not headers.get("x-api-key"):
        return ScriptedReply(status=401, body='{"type":"error","error":{"type":"authentication_error"}}')
    if not headers.get("anthropic-version"):
        return ScriptedReply(status=400, body='{"type":"error","error":{"type":"invalid_request_error"}}')
    return None


class _LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a fan-out opens a hundred connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, cancelled runs) are part of the script, not errors.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedModelServer:
    def __init__(self, responder: Responder, latency_s: float = 0.0) -> None:
        self.responder = responder
        self.latency_s = latency_s
        # Every request as the responder saw it (its messages' contents as strings, the system
        # prompt first), and as it came over the wire, with its path and headers.
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
        self._server = _LoopbackHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> ScriptedModelServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm a kept-alive
            # connection would wait ~40 ms for the client's delayed ACK between them.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                request = read_request(self.path, body)
                wire = {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                timing = server._record(request, wire, self.headers.get("authorization", ""))
                try:
                    answer = self._answer(request, timing)
                finally:
                    # Counted out before the response goes: once the client has it, it may send its
                    # next request at once, which must not find this one still counted.
                    server._settled()
                if answer is None:
                    return
                reply, body = answer
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _answer(
                self, request: ChatRequest, timing: dict[str, float | None]
            ) -> tuple[ScriptedReply, bytes] | None:
                """The reply and its body, or None when the connection is closed instead."""
                reply = _missing_anthropic_header(request, self.headers) or server.responder(request.view)
                if isinstance(reply, str):
                    reply = ScriptedReply(content=reply)
                if server.latency_s or reply.delay_s:
                    if self._client_left_during(server.latency_s + reply.delay_s):
                        timing["client_left"] = time.monotonic()
                        self.close_connection = True
                        return None
                if reply.drop_connection:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                body = reply.body if reply.body is not None else json.dumps(self._completion(request, reply))
                return reply, body if isinstance(body, bytes) else body.encode()

            def _client_left_during(self, seconds: float) -> bool:
                """Waits out the simulated latency; True if the client hung up meanwhile."""
                readable, _, _ = select.select([self.connection], [], [], seconds)
                return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""

            def _completion(self, request: ChatRequest, reply: ScriptedReply) -> dict[str, Any]:
                account = server.prompt_cache.account(request.view.get("model", ""), request.blocks)
                body, usage = reply_body(request, reply, account)
                with server._lock:
                    server.reported_usage.append(usage)
                return body

        return Handler
