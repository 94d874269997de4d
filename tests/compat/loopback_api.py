"""A real HTTP server on 127.0.0.1 (ephemeral port) that plays the web services REPL code reaches
through allow_net: a search API that wants an API key, a large body, a redirect, and a request that
is held until another one releases it. It records every request it receives."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOLD_LIMIT_S = 30.0  # a held request nobody releases ends with the test instead of hanging it


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class LoopbackAPI:
    def __init__(self, api_key: str = "") -> None:
        self.api_key = api_key
        self.seen: list[SeenRequest] = []
        self.released = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._handle(self)

            def do_POST(self) -> None:
                api._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.seen.append(
            SeenRequest(
                handler.command,
                handler.path,
                {name.lower(): value for name, value in handler.headers.items()},
                body,
            )
        )
        parts = urlsplit(handler.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        if parts.path == "/search":
            if handler.headers.get("x-api-key") != self.api_key:
                return self._send(handler, 401, {"error": "bad or missing X-API-Key"})
            return self._send(
                handler, 200, {"query": query.get("q"), "results": [f"result for {query.get('q')}"]}
            )
        if parts.path == "/big":
            return self._send_bytes(handler, 200, b"x" * int(query["bytes"]), "application/octet-stream")
        if parts.path == "/redirect":
            handler.send_response(302)
            handler.send_header("location", query["to"])
            handler.send_header("content-length", "0")
            handler.end_headers()
            return None
        if parts.path == "/hold":
            self.released.wait(HOLD_LIMIT_S)
            return self._send(handler, 200, {"held": True})
        if parts.path == "/release":
            self.released.set()
            return self._send(handler, 200, {"released": True})
        return self._send(handler, 200, {"path": parts.path})

    def _send(self, handler: BaseHTTPRequestHandler, status: int, value: Any) -> None:
        self._send_bytes(handler, status, json.dumps(value).encode(), "application/json")

    def _send_bytes(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        try:
            handler.send_response(status)
            handler.send_header("content-type", kind)
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a capped or cancelled request)
