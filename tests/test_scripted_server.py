"""The scripted model server's HTTP layer (fast_rlm/scripted/loopback_http.py), spoken to with plain
sockets and http.client: requests split across packets, kept-alive connections, responders that
raise or wait for one another."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fast_rlm.scripted.server import ScriptedModelServer, last_user_message

WAIT_S = 30


def _chat_body(text: str) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()


def _echo(request: dict[str, Any]) -> str:
    return f"echo: {last_user_message(request)}"


def _post(connection: http.client.HTTPConnection, text: str) -> dict[str, Any]:
    connection.request("POST", "/v1/chat/completions", body=_chat_body(text))
    response = connection.getresponse()
    assert response.status == 200
    return json.loads(response.read())


def _content(completion: dict[str, Any]) -> str:
    return completion["choices"][0]["message"]["content"]


def _raw_request(body: bytes) -> tuple[bytes, bytes]:
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode(), body


def _read_reply(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return body


def test_a_kept_alive_connection_carries_one_request_after_another():
    with ScriptedModelServer(_echo) as server:
        host, port = server.address
        connection = http.client.HTTPConnection(host, port, timeout=WAIT_S)
        answers = [_content(_post(connection, f"n{index}")) for index in range(3)]
        connection.close()
    assert answers == ["echo: n0", "echo: n1", "echo: n2"]
    assert server.request_count == 3


def test_a_request_whose_head_and_body_arrive_in_pieces_is_read_whole():
    # 2 MB: more than one read of the socket's buffer, however the pieces are sent.
    text = "in pieces " + "x" * (2 << 20)
    head, body = _raw_request(_chat_body(text))
    with ScriptedModelServer(_echo) as server:
        host, port = server.address
        with socket.create_connection((host, port), timeout=WAIT_S) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in (head[:7], head[7:], body[:10], body[10:]):
                sock.sendall(piece)
            reply = json.loads(_read_reply(sock))
    assert _content(reply) == f"echo: {text}"


def test_a_responder_that_raises_loses_its_connection_and_the_server_serves_on():
    def responder(request: dict[str, Any]) -> str:
        if last_user_message(request) == "fail":
            raise RuntimeError("a scripted failure")
        return _echo(request)

    with ScriptedModelServer(responder) as server:
        host, port = server.address
        failing = http.client.HTTPConnection(host, port, timeout=WAIT_S)
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _post(failing, "fail")
        working = http.client.HTTPConnection(host, port, timeout=WAIT_S)
        assert _content(_post(working, "after")) == "echo: after"


def test_responders_that_may_block_wait_for_one_another_on_threads_of_their_own():
    # Each call returns only once both have arrived: served one after the other, neither could.
    both_arrived = threading.Barrier(2, timeout=WAIT_S)

    def responder(request: dict[str, Any]) -> str:
        both_arrived.wait()
        return _echo(request)

    with ScriptedModelServer(responder, responder_may_block=True) as server:
        host, port = server.address

        def ask(text: str) -> str:
            return _content(_post(http.client.HTTPConnection(host, port, timeout=WAIT_S), text))

        with ThreadPoolExecutor(2) as pool:
            answers = sorted(pool.map(ask, ["a", "b"]))
    assert answers == ["echo: a", "echo: b"]
    assert server.peak_in_flight == 2
