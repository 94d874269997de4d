"""Agent code cannot reach the network: not the model server on loopback, not the outside world, and
not the module loaders (npm, remote URLs), which would fetch code.

`js` has no Deno or WebSocket, and no JavaScript can be made from strings to import() with; Python's
sockets have no route out of the interpreter. `js.fetch` hands requests to the supervisor, which
performs them within the run's allow_net grant: here none, so every request is refused naming
allow_net (grants themselves are probed in test_net_grant.py). That the REPL process's permissions
would refuse the network anyway is tested in test_repl_process_permissions.py.

Both servers on 127.0.0.1 count what they receive: the scripted model must see only the engine's
own three calls, the sentinel (also the engine's proxy for any outside host) nothing at all.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
)

PROBES = """
import socket
import urllib.request

llm_url = context["llm_url"] + "/chat/completions"
llm_port = context["llm_port"]
sentinel_url = context["sentinel_url"]
forged_request = json.dumps({"model": "probe", "messages": [{"role": "user", "content": "probe request"}]})


def python_socket():
    connection = socket.socket()
    connection.connect(("127.0.0.1", llm_port))
    connection.sendall(b"POST /v1/chat/completions HTTP/1.1\\r\\n\\r\\n")
    return "connected"


async def python_pyfetch():
    from pyodide.http import pyfetch

    response = await pyfetch(llm_url, method="POST", body=forged_request)
    return await response.string()


# import() from JavaScript made from a string: the only way left to write JavaScript from Python.
def import_from_code(specifier):
    return js.Object.constructor("return import(%s)" % json.dumps(specifier))()


await probe("fetch(scripted model server)", lambda: js.fetch(llm_url))
await probe("fetch(loopback sentinel)", lambda: js.fetch(sentinel_url))
await probe("fetch(https://example.com/)", lambda: js.fetch("https://example.com/"))
await probe("Deno.connect(scripted model server)", lambda: js.Deno.connect(js.Object.new()))
await probe("WebSocket(loopback sentinel)", lambda: js.WebSocket.new(sentinel_url.replace("http", "ws")))
await probe("socket.connect(scripted model server)", python_socket)
await probe("pyfetch(scripted model server)", python_pyfetch)
await probe("urllib.request.urlopen(loopback sentinel)", lambda: urllib.request.urlopen(sentinel_url).read())
await probe("import('npm:left-pad')", lambda: import_from_code("npm:left-pad"))
await probe("import('https://example.com/x.js')", lambda: import_from_code("https://example.com/x.js"))
await probe("import(loopback sentinel)", lambda: import_from_code(sentinel_url + "/x.js"))
"""

CODE_GENERATION_REFUSED = "JsException: EvalError: Code generation from strings disallowed for this context"
# Pyodide's sockets have no route out of the interpreter at all.
HOST_UNREACHABLE = "[Errno 23] Host is unreachable"


def not_granted(host_port: str, via: str = "JsException: TypeError:") -> re.Pattern[str]:
    """The relay's refusal of a host outside the (empty) grant; loopback ports vary."""
    return re.compile(
        re.escape(f"{via} network access to ") + host_port + r" is not granted \(.*\): add it to allow_net"
    )


LOOPBACK = r"127\.0\.0\.1:\d+"
EXPECTED: dict[str, str | re.Pattern[str]] = {
    "fetch(scripted model server)": not_granted(LOOPBACK),
    "fetch(loopback sentinel)": not_granted(LOOPBACK),
    "fetch(https://example.com/)": not_granted(r"example\.com:443"),
    "Deno.connect(scripted model server)": "AttributeError: Deno",
    "WebSocket(loopback sentinel)": "AttributeError: WebSocket",
    "socket.connect(scripted model server)": f"OSError: {HOST_UNREACHABLE}",
    "pyfetch(scripted model server)": not_granted(LOOPBACK, via="AbortError:"),
    "urllib.request.urlopen(loopback sentinel)": not_granted(LOOPBACK, via="URLError: <urlopen error"),
    "import('npm:left-pad')": CODE_GENERATION_REFUSED,
    "import('https://example.com/x.js')": CODE_GENERATION_REFUSED,
    "import(loopback sentinel)": CODE_GENERATION_REFUSED,
}


@pytest.fixture(scope="module")
def network_run(probe_runner):
    base_url = probe_runner.server.base_url
    query = {
        "llm_url": base_url,
        "llm_port": int(base_url.split(":")[2].split("/")[0]),
        "sentinel_url": probe_runner.sentinel.url,
    }
    return probe_runner.run(PROBES, query=query)


@pytest.mark.parametrize("probe", EXPECTED)
def test_probe_is_refused_exactly(network_run, probe):
    expected = EXPECTED[probe]
    if isinstance(expected, re.Pattern):
        assert expected.match(network_run.outcomes[probe]), network_run.outcomes[probe]
    else:
        assert network_run.outcomes[probe] == expected


def test_probe_names_cover_every_expectation(network_run):
    assert sorted(EXPECTED) == sorted(network_run.outcomes)


def test_the_model_server_saw_only_the_engines_calls(network_run):
    requests = network_run.requests
    assert len(requests) == 3
    assert all(request["messages"][0]["role"] == "system" for request in requests)
    assert "probe request" not in json.dumps([request["messages"][0] for request in requests])


def test_nothing_reached_the_sentinel_or_the_outside(network_run):
    assert_nothing_left_loopback(network_run)


def test_the_agent_keeps_working(network_run):
    assert_no_secret_exposed(network_run)
    assert_run_completed_with_legit_steps(network_run)
