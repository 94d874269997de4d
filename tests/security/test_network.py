"""Agent code cannot reach the network: not the model server on loopback, not the outside world, and
not the module loaders (npm, remote URLs), which would fetch code.

Both servers on 127.0.0.1 count what they receive: the scripted model must see only the engine's
own three calls, the sentinel (also the engine's proxy for any outside host) nothing at all.
"""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import (
    assert_no_secret_exposed,
    assert_nothing_left_loopback,
    assert_run_completed_with_legit_steps,
)

PROBES = """
llm_url = context["llm_url"] + "/chat/completions"
llm_port = context["llm_port"]
sentinel_url = context["sentinel_url"]
forged_request = json.dumps({"model": "probe", "messages": [{"role": "user", "content": "probe request"}]})
fetch_options = js.JSON.parse(
    json.dumps({"method": "POST", "body": forged_request, "headers": {"content-type": "application/json"}})
)


async def read_fetch(url):
    response = await js.fetch(url, fetch_options)
    return await response.text()


def python_socket():
    import socket

    connection = socket.socket()
    connection.connect(("127.0.0.1", llm_port))
    connection.sendall(b"POST /v1/chat/completions HTTP/1.1\\r\\n\\r\\n")
    return "connected"


async def python_pyfetch():
    from pyodide.http import pyfetch

    response = await pyfetch(llm_url, method="POST", body=forged_request)
    return await response.string()


await probe("fetch(scripted model server)", lambda: read_fetch(llm_url))
await probe("fetch(loopback sentinel)", lambda: read_fetch(sentinel_url))
await probe("fetch(https://example.com/)", lambda: read_fetch("https://example.com/"))
await probe(
    "Deno.connect(scripted model server)",
    lambda: js.Deno.connect(js.JSON.parse(json.dumps({"hostname": "127.0.0.1", "port": llm_port}))),
)
await probe("WebSocket(loopback sentinel)", lambda: js.WebSocket.new(sentinel_url.replace("http", "ws")))
await probe("socket.connect(scripted model server)", python_socket)
await probe("pyfetch(scripted model server)", python_pyfetch)
await probe("js.eval import('npm:left-pad')", lambda: js.eval("import('npm:left-pad')"))
await probe("js.eval import('https://example.com/x.js')", lambda: js.eval("import('https://example.com/x.js')"))
await probe("module import('npm:left-pad')", lambda: import_from_module("npm:left-pad"))
await probe("module import('https://example.com/x.js')", lambda: import_from_module("https://example.com/x.js"))
await probe("module import(loopback sentinel)", lambda: import_from_module(sentinel_url + "/x.js"))
"""

UNSUPPORTED_SCHEME = "JsException: TypeError: [ERR_UNSUPPORTED_ESM_URL_SCHEME]"


@pytest.fixture(scope="module")
def network_run(probe_runner):
    base_url = probe_runner.server.base_url
    query = {
        "llm_url": base_url,
        "llm_port": int(base_url.split(":")[2].split("/")[0]),
        "sentinel_url": probe_runner.sentinel.url,
    }
    return probe_runner.run(PROBES, query=query)


def expected_outcomes(probe_runner) -> dict[str, str]:
    llm_host = probe_runner.server.base_url.split("/")[2]
    sentinel_host = f"127.0.0.1:{probe_runner.sentinel.port}"
    refused_net = "JsException: NotCapable: Requires net access to "
    return {
        "fetch(scripted model server)": f'{refused_net}"{llm_host}"',
        "fetch(loopback sentinel)": f'{refused_net}"{sentinel_host}"',
        "fetch(https://example.com/)": f'{refused_net}"example.com:443"',
        "Deno.connect(scripted model server)": f'{refused_net}"{llm_host}"',
        "WebSocket(loopback sentinel)": f'{refused_net}"{sentinel_host}"',
        # Pyodide's sockets have no route out of the worker at all.
        "socket.connect(scripted model server)": "OSError: [Errno 23] Host is unreachable",
        "pyfetch(scripted model server)": f'AbortError: Requires net access to "{llm_host}"',
        # import() evaluated from js.eval resolves through Pyodide's Node loader, which refuses the scheme ...
        "js.eval import('npm:left-pad')": UNSUPPORTED_SCHEME,
        "js.eval import('https://example.com/x.js')": UNSUPPORTED_SCHEME,
        # ... issued from an ES module it goes through Deno's resolver: --cached-only and --no-remote /
        # the worker's `import: false` stop it before any fetch.
        "module import('npm:left-pad')": (
            "JsException: TypeError: Failed loading https://registry.npmjs.org/left-pad for package "
            '"left-pad"\n    0: npm package not found in cache: "left-pad", --cached-only is specified.'
        ),
        "module import('https://example.com/x.js')": (
            'JsException: TypeError: Requires import access to "example.com:443"'
        ),
        "module import(loopback sentinel)": (
            f'JsException: TypeError: Requires import access to "{sentinel_host}"'
        ),
    }


PROBE_NAMES = [
    "fetch(scripted model server)",
    "fetch(loopback sentinel)",
    "fetch(https://example.com/)",
    "Deno.connect(scripted model server)",
    "WebSocket(loopback sentinel)",
    "socket.connect(scripted model server)",
    "pyfetch(scripted model server)",
    "js.eval import('npm:left-pad')",
    "js.eval import('https://example.com/x.js')",
    "module import('npm:left-pad')",
    "module import('https://example.com/x.js')",
    "module import(loopback sentinel)",
]


@pytest.mark.parametrize("probe", PROBE_NAMES)
def test_probe_is_refused_exactly(network_run, probe_runner, probe):
    expected = expected_outcomes(probe_runner)[probe]
    assert network_run.outcomes[probe].startswith(expected), network_run.outcomes[probe]


def test_probe_names_cover_every_expectation(network_run, probe_runner):
    assert sorted(PROBE_NAMES) == sorted(expected_outcomes(probe_runner)) == sorted(network_run.outcomes)


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
