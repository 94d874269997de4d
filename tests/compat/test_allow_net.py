"""Network for tools, by grant: run(..., allow_net=[...]) (or the allow_net config key) lets REPL code
reach exactly those hosts, through requests, httpx, urllib.request and pyodide.http.pyfetch, sync and
async; without a grant every request fails naming allow_net. The original README's pattern, a search
tool reading its key from os.environ (env_variables), runs against a loopback search API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import fast_rlm
from fast_rlm.errors import ConfigError
from fast_rlm.scripted.server import call_number, repl
from tests.compat.loopback_api import LoopbackAPI
from tests.conftest import config_for

API_KEY = "search-key-" + "not-a-real-one"


# The user's tools, as the original README writes them: the key comes from os.environ.
def search_with_requests(query: str) -> dict:
    """Search the web (requests)."""
    import os

    import requests

    response = requests.get(
        os.environ["SEARCH_URL"] + "/search",
        params={"q": query},
        headers={"X-API-Key": os.environ["SEARCH_KEY"]},
    )
    response.raise_for_status()
    return response.json()


def search_with_httpx(query: str) -> dict:
    """Search the web (httpx)."""
    import os

    import httpx

    with httpx.Client(headers={"X-API-Key": os.environ["SEARCH_KEY"]}) as client:
        response = client.get(os.environ["SEARCH_URL"] + "/search", params={"q": query})
    response.raise_for_status()
    return response.json()


def search_with_urllib(query: str) -> dict:
    """Search the web (urllib.request)."""
    import json
    import os
    import urllib.request

    url = os.environ["SEARCH_URL"] + "/search?q=" + query
    request = urllib.request.Request(url, headers={"X-API-Key": os.environ["SEARCH_KEY"]})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


async def search_with_httpx_async(query: str) -> dict:
    """Search the web (httpx.AsyncClient)."""
    import os

    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(
            os.environ["SEARCH_URL"] + "/search",
            params={"q": query},
            headers={"X-API-Key": os.environ["SEARCH_KEY"]},
        )
    response.raise_for_status()
    return response.json()


async def search_with_pyfetch(query: str) -> dict:
    """Search the web (pyodide.http.pyfetch)."""
    import os

    from pyodide.http import pyfetch

    url = os.environ["SEARCH_URL"] + "/search?q=" + query
    response = await pyfetch(url, headers={"X-API-Key": os.environ["SEARCH_KEY"]})
    return await response.json()


TOOLS = [
    search_with_requests,
    search_with_httpx,
    search_with_urllib,
    search_with_httpx_async,
    search_with_pyfetch,
]
CALL_EVERY_CLIENT = """
results = {}
for name, call in [
    ("requests", lambda: search_with_requests("alpha")),
    ("httpx", lambda: search_with_httpx("beta")),
    ("urllib", lambda: search_with_urllib("gamma")),
    ("httpx_async", lambda: search_with_httpx_async("delta")),
    ("pyfetch", lambda: search_with_pyfetch("epsilon")),
]:
    try:
        value = call()
        results[name] = (await value) if hasattr(value, "__await__") else value
    except Exception as error:
        results[name] = f"{type(error).__name__}: {error}"
FINAL(results)
"""
EXPECTED_QUERIES = {
    "requests": "alpha",
    "httpx": "beta",
    "urllib": "gamma",
    "httpx_async": "delta",
    "pyfetch": "epsilon",
}


@pytest.fixture
def search_api() -> Iterator[LoopbackAPI]:
    api = LoopbackAPI(api_key=API_KEY)
    yield api
    api.stop()


def _run_every_client(server, api: LoopbackAPI, **options) -> dict:
    result = fast_rlm.run(
        "search",
        config=options.pop("config", config_for(server)),
        tools=TOOLS,
        env_variables={"SEARCH_KEY": API_KEY, "SEARCH_URL": api.url},
        verbosity=0,
        **options,
    )
    return result["results"]


def test_every_client_reaches_a_granted_host_sync_and_async(scripted_server, search_api):
    server = scripted_server(lambda request: repl(CALL_EVERY_CLIENT))
    results = _run_every_client(server, search_api, allow_net=[f"127.0.0.1:{search_api.port}"])

    assert results == {
        name: {"query": query, "results": [f"result for {query}"]} for name, query in EXPECTED_QUERIES.items()
    }
    assert [request.headers.get("x-api-key") for request in search_api.seen] == [API_KEY] * 5


def test_without_a_grant_every_client_fails_naming_allow_net(scripted_server, search_api):
    server = scripted_server(lambda request: repl(CALL_EVERY_CLIENT))
    results = _run_every_client(server, search_api)

    assert set(results) == set(EXPECTED_QUERIES)
    for name, outcome in results.items():
        assert f"network access to 127.0.0.1:{search_api.port} is not granted" in outcome, name
        assert "add it to allow_net" in outcome, name
    assert search_api.seen == []


def test_the_config_key_grants_and_run_adds_to_it(scripted_server, search_api):
    other_api = LoopbackAPI()
    try:
        code = (
            "import requests\n"
            f"FINAL([requests.get('{search_api.url}/a').json(), requests.get('{other_api.url}/b').json()])"
        )
        server = scripted_server(lambda request: repl(code))
        config = config_for(server, allow_net=[f"127.0.0.1:{search_api.port}"])
        result = fast_rlm.run("q", config=config, allow_net=[f"127.0.0.1:{other_api.port}"], verbosity=0)
    finally:
        other_api.stop()
    assert result["results"] == [{"path": "/a"}, {"path": "/b"}]


def test_a_wrong_key_reaches_the_tool_as_the_servers_answer(scripted_server, search_api):
    code = "import requests\nFINAL(requests.get(context + '/search').status_code)"
    server = scripted_server(lambda request: repl(code) if call_number(request) == 1 else repl("FINAL(0)"))
    result = fast_rlm.run(
        search_api.url, config=config_for(server), allow_net=[f"127.0.0.1:{search_api.port}"], verbosity=0
    )
    assert result["results"] == 401


@pytest.mark.parametrize(
    ("grant", "match"),
    [
        (["https://api.tavily.com/search"], "is a URL; give the bare host instead: 'api.tavily.com'"),
        (["::1"], r"put it in brackets: \[::1\]"),
        (["127.0.0.1:99999"], "the port must be a number from 1 to 65535"),
        (["api.example.com/v1"], "is not a host or host:port"),
        ("api.example.com", "must be a list of hosts"),
    ],
)
def test_bad_grants_fail_before_the_engine_starts(isolated_workdir, grant, match):
    with pytest.raises(ConfigError, match=match):
        fast_rlm.run("q", config={"api_key": "k"}, allow_net=grant)
    with pytest.raises(ConfigError, match="allow_net"):
        fast_rlm.run("q", config={"api_key": "k", "allow_net": grant if isinstance(grant, list) else 7})


def test_grants_are_normalised(isolated_workdir):
    config = fast_rlm.RLMConfig(
        allow_net=["API.Example.com", "[::1]:8080", "127.0.0.1:80", "api.example.com"]
    )
    assert config.allow_net == ["api.example.com", "[::1]:8080", "127.0.0.1:80"]
