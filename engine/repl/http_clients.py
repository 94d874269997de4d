"""HTTP clients for agent code, over the relayed fetch (worker.ts: `js.fetch` hands every request to
the supervisor, which performs it within the run's allow_net grant).

requests (through urllib3's Pyodide backend) and pyodide.http.pyfetch call `js.fetch` themselves.
urllib.request and httpx would open sockets, which have no route out of the interpreter: they get a
handler and transports that fetch instead, installed when agent code first imports them, so a REPL
that never uses them pays nothing (http_hooks.py installs them; this module itself loads only then,
as http.client and email take close to a second to import in a REPL process). Synchronous calls suspend only the calling step (JSPI), like
time.sleep: other agents' steps keep running meanwhile.
"""

import email.parser
import http.client
import io
import sys

from js import Object
from js import fetch as _relayed_fetch
from pyodide.ffi import JsException, can_run_sync, run_sync, to_js


class FetchReply:
    """A response, read whole (the supervisor caps it at max_value_mb)."""

    __slots__ = ("status", "reason", "headers", "url", "content")

    def __init__(self, status: int, reason: str, headers: list, url: str, content: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.url = url
        self.content = content


class FetchFailed(OSError):
    """The request did not get a response: not granted (allow_net), refused, too large, timed out."""


async def fetch(
    method: str, url: str, headers: list, body: bytes | None, follow_redirects: bool
) -> FetchReply:
    options = {"method": method, "headers": to_js([list(pair) for pair in headers])}
    options["redirect"] = "follow" if follow_redirects else "manual"
    if body:
        options["body"] = to_js(body)
    try:
        response = await _relayed_fetch(url, to_js(options, dict_converter=Object.fromEntries))
        content = (await response.arrayBuffer()).to_bytes()
    except JsException as error:
        raise FetchFailed(error.message) from None
    headers = [(str(pair[0]), str(pair[1])) for pair in response.headers.entries()]
    return FetchReply(response.status, response.statusText, headers, response.url or url, content)


def fetch_sync(
    method: str, url: str, headers: list, body: bytes | None, follow_redirects: bool
) -> FetchReply:
    if not can_run_sync():
        raise FetchFailed(
            "synchronous HTTP works only in a code step (not in a callback); use httpx.AsyncClient or "
            "pyodide.http.pyfetch with await"
        )
    return run_sync(fetch(method, url, headers, body, follow_redirects))


# ---- urllib.request ------------------------------------------------------------------------------


def _install_into_urllib_request(module) -> None:
    import urllib.error
    import urllib.response

    # build_opener leaves out its default HTTPHandler and HTTPSHandler for a subclass of them.
    defaults = tuple(
        getattr(module, name) for name in ("HTTPHandler", "HTTPSHandler") if hasattr(module, name)
    )

    class RelayedHandler(*defaults):
        """http_open / https_open for urlopen(): the opener's other handlers (redirects, errors,
        cookies) work as usual on what this returns."""

        def _open(self, request):
            headers = {**request.unredirected_hdrs, **request.headers}
            body = request.data
            if body is not None and not isinstance(body, bytes):
                body = body.read() if hasattr(body, "read") else b"".join(body)
            try:
                reply = fetch_sync(request.get_method(), request.full_url, list(headers.items()), body, False)
            except FetchFailed as error:
                raise urllib.error.URLError(str(error)) from None
            message = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
                "".join(f"{name}: {value}\r\n" for name, value in reply.headers) + "\r\n"
            )
            response = urllib.response.addinfourl(
                io.BytesIO(reply.content), message, request.full_url, reply.status
            )
            response.msg = reply.reason
            return response

        http_open = https_open = _open
        http_request = https_request = module.AbstractHTTPHandler.do_request_

    module.install_opener(module.build_opener(RelayedHandler))


# ---- httpx ---------------------------------------------------------------------------------------


def _install_into_httpx(httpx) -> None:
    client_module = sys.modules["httpx._client"]  # where Client and AsyncClient look their transports up

    def to_response(reply: FetchReply) -> httpx.Response:
        extensions = {"reason_phrase": reply.reason.encode("latin-1", "replace")}
        return httpx.Response(
            reply.status, headers=reply.headers, content=reply.content, extensions=extensions
        )

    def failed(error: FetchFailed, request: httpx.Request) -> httpx.ConnectError:
        return httpx.ConnectError(str(error), request=request)

    class RelayedTransport(httpx.BaseTransport):
        """Client's default transport. Its options (verify, http2, limits, ...) concern sockets and
        TLS, which the supervisor's fetch handles, so they are accepted and not used."""

        def __init__(self, *args, **options) -> None:
            pass

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                reply = fetch_sync(
                    request.method, str(request.url), request.headers.multi_items(), request.read(), False
                )
            except FetchFailed as error:
                raise failed(error, request) from None
            return to_response(reply)

    class RelayedAsyncTransport(httpx.AsyncBaseTransport):
        """AsyncClient's default transport; see RelayedTransport."""

        def __init__(self, *args, **options) -> None:
            pass

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            try:
                reply = await fetch(
                    request.method, str(request.url), request.headers.multi_items(), body, False
                )
            except FetchFailed as error:
                raise failed(error, request) from None
            return to_response(reply)

    client_module.HTTPTransport = httpx.HTTPTransport = RelayedTransport
    client_module.AsyncHTTPTransport = httpx.AsyncHTTPTransport = RelayedAsyncTransport


# What http_hooks.py runs when agent code first imports each module.
INSTALLERS = {"urllib.request": _install_into_urllib_request, "httpx": _install_into_httpx}
