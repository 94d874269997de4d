"""A network grant (allow_net) opens exactly the granted hosts to REPL code, and nothing else.

Two loopback servers: A is granted by host:port, B (same address, another port) is not. Agent code
attacks the grant through every client: another port, another name for the same address, redirects
out of the grant, non-HTTP URLs, a response larger than max_value_mb, a response that never comes
(step_timeout_s must still end the step, and other agents on the same REPL process must keep
running). The worker, where agent code runs, keeps no network permission of its own: only the
supervisor's process gets --allow-net, and the engine's own permission does not widen.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import fast_rlm
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.compat.loopback_api import LoopbackAPI
from tests.conftest import config_for, events_of, read_log
from tests.repl_processes import engine_processes, repl_processes

NOT_GRANTED = "is not granted"
ONLY_HTTP = "only http and https URLs can be fetched"

ATTACKS = """
import requests, urllib.request, httpx, js
from pyodide.http import pyfetch
granted, other = context["granted"], context["other"]
outcomes = {}

async def attempt(name, action):
    try:
        value = action()
        if hasattr(value, "__await__"):
            value = await value
        outcomes[name] = "ALLOWED: " + repr(value)[:300]
    except Exception as error:
        outcomes[name] = f"{type(error).__name__}: {error}"[:600]

async def fetch_text(url):
    return await (await pyfetch(url)).string()

await attempt("granted host:port", lambda: requests.get(f"http://127.0.0.1:{granted}/ok").json())
await attempt("same address, other port", lambda: requests.get(f"http://127.0.0.1:{other}/x").json())
await attempt("localhost for 127.0.0.1", lambda: httpx.get(f"http://localhost:{granted}/x").json())
await attempt("IPv6 loopback literal", lambda: urllib.request.urlopen(f"http://[::1]:{granted}/x").read())
await attempt("redirect out of the grant (requests)",
              lambda: requests.get(f"http://127.0.0.1:{granted}/redirect?to=http://127.0.0.1:{other}/stolen").text)
await attempt("redirect out of the grant (urllib)",
              lambda: urllib.request.urlopen(f"http://127.0.0.1:{granted}/redirect?to=http://127.0.0.1:{other}/stolen").read())
await attempt("redirect out of the grant (pyfetch)",
              lambda: fetch_text(f"http://127.0.0.1:{granted}/redirect?to=http://localhost:{granted}/stolen"))
await attempt("redirect within the grant",
              lambda: requests.get(f"http://127.0.0.1:{granted}/redirect?to=/landed").json())
await attempt("file URL", lambda: js.fetch("file:///etc/passwd"))
await attempt("data URL", lambda: js.fetch("data:text/plain,hello"))
await attempt("blob URL", lambda: js.fetch("blob:null/0b6a3a3e-0000-4000-8000-000000000000"))
await attempt("response over max_value_mb", lambda: len(requests.get(f"http://127.0.0.1:{granted}/big?bytes=3000000").content))
FINAL(outcomes)
"""


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackAPI, LoopbackAPI]]:
    granted, other = LoopbackAPI(), LoopbackAPI()
    yield granted, other
    granted.stop()
    other.stop()


def test_only_the_granted_host_and_port_is_reachable(scripted_server, servers):
    granted, other = servers
    server = scripted_server(lambda request: repl(ATTACKS))
    result = fast_rlm.run(
        {"granted": granted.port, "other": other.port},
        config=config_for(server, max_value_mb=1),
        allow_net=[f"127.0.0.1:{granted.port}"],
        verbosity=0,
    )
    outcomes = result["results"]

    assert outcomes["granted host:port"] == "ALLOWED: {'path': '/ok'}"
    assert outcomes["redirect within the grant"] == "ALLOWED: {'path': '/landed'}"
    refused_hosts = {
        "same address, other port": f"127.0.0.1:{other.port}",
        "localhost for 127.0.0.1": f"localhost:{granted.port}",
        "IPv6 loopback literal": f"[::1]:{granted.port}",
        "redirect out of the grant (requests)": f"127.0.0.1:{other.port}",
        "redirect out of the grant (urllib)": f"127.0.0.1:{other.port}",
        "redirect out of the grant (pyfetch)": f"localhost:{granted.port}",
    }
    for attack, host in refused_hosts.items():
        assert f"network access to {host} {NOT_GRANTED}" in outcomes[attack], attack
    for attack in ("file URL", "data URL", "blob URL"):
        assert ONLY_HTTP in outcomes[attack], attack
    assert "over max_value_mb" in outcomes["response over max_value_mb"]
    assert other.seen == []  # not a single request reached the other port
    assert "/stolen" not in [request.path for request in granted.seen]


def test_an_unanswered_request_still_ends_with_its_step(scripted_server, servers):
    granted, _ = servers

    def respond(request):
        if call_number(request) == 1:
            return repl("import urllib.request")  # importing takes its own time, apart from the request's
        if call_number(request) == 2:
            return repl(f"urllib.request.urlopen('http://127.0.0.1:{granted.port}/hold')")
        return repl("FINAL('went on')")

    server = scripted_server(respond)
    result = fast_rlm.run(
        "q", config=config_for(server, step_timeout_s=3), allow_net=[f"127.0.0.1:{granted.port}"], verbosity=0
    )

    assert result["results"] == "went on"
    steps = events_of(read_log(result["log_file"]), "code_step")
    assert "step_timeout_s" in str(steps[1]), steps[1]
    assert [request.path for request in granted.seen] == ["/hold"]


def test_a_request_in_flight_holds_no_other_agent(scripted_server, servers):
    # One REPL process: the child that waits on /hold is released only by its sibling's request,
    # which must run while the first is still waiting.
    granted, _ = servers
    url = f"http://127.0.0.1:{granted.port}"

    def respond(request):
        message = first_user_message(request)
        if "CHILD-HOLD" in message:
            return repl(f"import requests\nFINAL(requests.get('{url}/hold').json())")
        if "CHILD-RELEASE" in message:
            return repl(f"import httpx\nFINAL(httpx.get('{url}/release').json())")
        return repl(
            "FINAL(await batch_llm_query(llm_query('a', 'CHILD-HOLD'), llm_query('b', 'CHILD-RELEASE')))"
        )

    server = scripted_server(respond)
    result = fast_rlm.run(
        "q", config=config_for(server, workers=1), allow_net=[f"127.0.0.1:{granted.port}"], verbosity=0
    )
    assert result["results"] == [{"held": True}, {"released": True}]


def network_flags() -> dict[str, list[str]]:
    """Host function: the --allow-net flags of this run's engine and REPL processes."""

    def flags(command: list[str]) -> list[str]:
        return [part for part in command if part.startswith("--allow-net")]

    return {
        "engine": [flag for engine in engine_processes() for flag in flags(engine.cmdline())],
        "repl": [flag for process in repl_processes() for flag in flags(process.cmdline())],
    }


def test_only_the_repl_processes_get_the_grant(scripted_server, servers):
    granted, _ = servers
    server = scripted_server(lambda request: repl("FINAL(await network_flags())"))
    result = fast_rlm.run(
        "q",
        config=config_for(server, workers=2),
        allow_net=[f"127.0.0.1:{granted.port}"],
        host_functions=[network_flags],
        verbosity=0,
    )
    flags = result["results"]
    assert flags["repl"] == [f"--allow-net=127.0.0.1:{granted.port}"] * 2
    assert len(flags["engine"]) == 1 and str(granted.port) not in flags["engine"][0]
