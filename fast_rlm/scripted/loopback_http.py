"""The scripted model server's HTTP/1.1 layer: one asyncio event loop, in a daemon thread, serves
every connection on 127.0.0.1.

A thread a connection (http.server's way) made a fan-out of a thousand children start a thousand
threads that contend for the GIL with the loop that answers them; one loop, with a listen backlog
that holds the whole burst, took fan-out 1,000 at 500 ms from 1.88 to 1.70 s (benchmarks/README.md).
A handler that must call blocking Python (a test's responder waiting on a barrier) hands it to
`DaemonWorkers`, off the loop.

Clients speak plain HTTP/1.1 with content-length bodies and wait for each reply before they send
the next request on a connection (no pipelining, no chunked uploads), which is all the engine and
the Python clients do.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

# A fan-out opens a thousand connections at once. A connection the listen queue has no room for is
# dropped and retried by the client's kernel half a second or more later.
_LISTEN_BACKLOG = 2048


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased: HTTP header names are case-insensitive
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Connection(asyncio.Protocol):
    """One client connection: reads its requests, hands each to the handler, writes the replies.

    A protocol rather than streams: no task for a connection's reads and none for each wait.
    """

    def __init__(self, handler: Handler, connections: set[Connection]) -> None:
        self._handler = handler
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._answering: asyncio.Task[None] | None = None  # the request in hand; the next waits
        self._lost = False
        self._hangup: asyncio.Future[bool] | None = None  # resolved True if the client leaves

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._lost = True
        if self._hangup is not None:
            _resolve(self._hangup, True)

    def data_received(self, data: bytes) -> None:
        self._received += data
        self._next_request()

    async def client_left_within(self, seconds: float) -> bool:
        """Waits `seconds`; True as soon as the client hangs up meanwhile."""
        if self._lost:
            return True
        loop = asyncio.get_running_loop()
        self._hangup = loop.create_future()
        timer = loop.call_later(seconds, _resolve, self._hangup, False)
        try:
            return await self._hangup
        finally:
            timer.cancel()
            self._hangup = None

    def drop(self) -> None:
        """Closes the connection without an answer, as a server that resets it does."""
        assert self._transport is not None
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        self._transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _next_request(self) -> None:
        if self._answering is not None:
            return
        request = _parsed_request(self._received)
        if request is not None:
            self._answering = asyncio.get_running_loop().create_task(self._answer(request))

    async def _answer(self, request: HttpRequest) -> None:
        assert self._transport is not None
        try:
            response = await self._handler(request, self)
        except Exception:
            # A responder that raises (a test's assertion) closes the connection unanswered; its
            # traceback goes where a thread's uncaught error would.
            traceback.print_exc(file=sys.stderr)
            response = None
        if response is None or self._transport.is_closing():
            self._transport.close()
            return
        self._transport.write(_response_bytes(response))
        if request.headers.get("connection", "").lower() == "close":
            self._transport.close()
            return
        self._answering = None
        self._next_request()


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


Handler = Callable[[HttpRequest, Connection], Awaitable["HttpResponse | None"]]


class DaemonWorkers:
    """Runs blocking calls off the loop on daemon threads, reused while idle and added when none is.

    Daemon threads because a test's responder may still be blocked when the interpreter exits, and
    must not hold it; concurrent.futures' workers would be joined at exit.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def run(self, call: Callable[[], Any]) -> asyncio.Future[Any]:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            start_worker = self._idle == 0
            if not start_worker:
                self._idle -= 1
        self._jobs.put((call, outcome))
        if start_worker:
            threading.Thread(target=self._work, daemon=True, name="scripted-responder").start()
        return outcome

    def _work(self) -> None:
        while True:
            call, outcome = self._jobs.get()
            try:
                result = call()
            except BaseException as error:  # handed to the awaiting handler, raised there
                outcome.get_loop().call_soon_threadsafe(_settle, outcome, None, error)
            else:
                outcome.get_loop().call_soon_threadsafe(_settle, outcome, result, None)
            with self._lock:
                self._idle += 1


def _settle(outcome: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if outcome.done():  # its connection was closed meanwhile
        return
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(result)


class LoopbackHttpServer:
    """Listens on 127.0.0.1 from construction (so its port is known at once) and serves from
    `start()` to `stop()`."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=_LISTEN_BACKLOG)
        self._loop = asyncio.new_event_loop()
        self._connections: set[Connection] = set()
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, daemon=True, name="scripted-model-server")
        self._thread.start()
        self._serving.wait()

    def stop(self) -> None:
        if self._thread is None:
            self._socket.close()
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            # The backlog again: asyncio listens anew on the socket it is given, by default with 100.
            self._loop.create_server(
                lambda: Connection(self._handler, self._connections),
                sock=self._socket,
                backlog=_LISTEN_BACKLOG,
            )
        )
        self._loop.call_soon(self._serving.set)
        self._loop.run_forever()
        server.close()
        for connection in list(self._connections):
            connection.close()  # unanswered: the server stops
        self._loop.run_until_complete(server.wait_closed())
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()


def _parsed_request(received: bytearray) -> HttpRequest | None:
    """The first whole request in `received`, taken out of it; None until one has arrived."""
    head_end = received.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = received[:head_end].decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, path, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body_start = head_end + 4
    body_end = body_start + int(headers.get("content-length", 0))
    if len(received) < body_end:
        return None
    body = bytes(received[body_start:body_end])
    del received[:body_end]
    return HttpRequest(method, path, headers, body)


def _response_bytes(response: HttpResponse) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {response.status} {reason}", f"content-length: {len(response.body)}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body
