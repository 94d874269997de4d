"""tools= (run in the sandbox), host_functions= (run on the host) and env_variables=."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import ConfigError, ToolError
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log


def circle_area(radius: float) -> float:
    """Area of a circle of the given radius."""
    return round(math.pi * radius**2, 3)


def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper() + "!"


HOST_CALLS: list[tuple[str, int]] = []


def lookup_population(city: str) -> dict:
    """Population of a city, from the host's database."""
    HOST_CALLS.append((city, threading.get_ident()))
    if city == "Atlantis":
        raise KeyError(f"no city named {city}")
    return {"city": city, "population": {"Oslo": 709_000, "Lima": 10_000_000}[city]}


async def async_double(value: int) -> int:
    """Doubles a number, asynchronously."""
    return value * 2


def _script(*replies: str):
    def respond(request):
        return replies[min(call_number(request), len(replies)) - 1]

    return respond


def test_tools_run_in_the_repl_and_are_described_to_the_agent(scripted_server):
    server = scripted_server(_script(repl("FINAL([circle_area(2), shout('hi')])")))
    result = fast_rlm.run("q", config=config_for(server), tools=[circle_area, shout], verbosity=0)

    assert result["results"] == [12.566, "HI!"]
    prompt = server.requests[0]["messages"][1]["content"]
    assert "- circle_area(radius: float) -> float\n    Area of a circle of the given radius." in prompt
    assert "- shout(text: str) -> str" in prompt


def test_children_get_tools_only_when_the_parent_passes_them(scripted_server):
    def respond(request):
        task = first_user_message(request)
        if "with tools" in task or "without tools" in task:
            return repl(
                "try:\n    FINAL(shout(context))\n"
                "except NameError as error:\n    FINAL('NameError: ' + str(error))"
            )
        return repl(
            "with_tools = await llm_query('a', 'with tools', tools=[shout])\n"
            "FINAL([with_tools, await llm_query('b', 'without tools')])"
        )

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), tools=[shout], verbosity=0)
    assert result["results"] == ["A!", "NameError: name 'shout' is not defined"]


def test_a_child_cannot_be_given_a_tool_its_parent_lacks(scripted_server):
    def respond(request):
        if "child" in first_user_message(request):
            return repl("FINAL(1)")
        return repl(
            "try:\n    await llm_query('a', 'child', tools=['circle_area'])\n"
            "except LLMQueryError as error:\n    FINAL(str(error))"
        )

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), tools=[shout], verbosity=0)
    assert result["results"] == "AgentError: tools not available to root: circle_area"


def _closure_tool():
    offset = 3

    def add_offset(value: int) -> int:
        return value + offset

    return add_offset


GLOBAL_TABLE = {"a": 1}


def uses_global_table(key: str) -> int:
    return GLOBAL_TABLE[key]


@pytest.mark.parametrize(
    ("tool", "match"),
    [
        (lambda x: x, "cannot be lambdas"),
        (_closure_tool(), "is a closure over offset"),
        (uses_global_table, "uses the global 'GLOBAL_TABLE'"),
        (len, "not a plain Python function"),
        ("shout", "must be functions"),
    ],
)
def test_unusable_tools_fail_early_naming_the_fix(isolated_workdir, tool, match):
    with pytest.raises(ToolError, match=match):
        fast_rlm.run("q", config={"api_key": "k"}, tools=[tool])


def test_a_function_without_source_is_refused(isolated_workdir):
    script = (
        "import fast_rlm\n"
        "def typed_in_c(x):\n    return x\n"
        "try:\n    fast_rlm.run('q', config={'api_key': 'k'}, tools=[typed_in_c])\n"
        "except fast_rlm.errors.ToolError as error:\n    print(error)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "cannot read the source of tool 'typed_in_c'" in completed.stdout
    assert "Define it in a .py file" in completed.stdout


def test_reserved_and_duplicate_names_are_refused(isolated_workdir):
    def context():
        return 1

    with pytest.raises(ToolError, match="taken by the REPL"):
        fast_rlm.run("q", config={"api_key": "k"}, host_functions=[context])
    with pytest.raises(ToolError, match="named 'shout'"):
        fast_rlm.run("q", config={"api_key": "k"}, tools=[shout], host_functions=[shout])


def test_host_functions_run_on_the_host_and_errors_come_back(scripted_server):
    HOST_CALLS.clear()
    code = (
        "oslo = await lookup_population('Oslo')\n"
        "both = await asyncio.gather(lookup_population('Lima'), async_double(21))\n"
        "try:\n    await lookup_population('Atlantis')\n"
        "except HostFunctionError as error:\n    problem = str(error)\n"
        "FINAL({'oslo': oslo, 'both': both, 'problem': problem})"
    )
    server = scripted_server(_script(repl("import asyncio\n" + code)))
    result = fast_rlm.run(
        "q", config=config_for(server), host_functions=[lookup_population, async_double], verbosity=0
    )

    assert result["results"] == {
        "oslo": {"city": "Oslo", "population": 709_000},
        "both": [{"city": "Lima", "population": 10_000_000}, 42],
        "problem": "KeyError: 'no city named Atlantis'",
    }
    assert sorted(city for city, _ in HOST_CALLS) == ["Atlantis", "Lima", "Oslo"]
    assert threading.get_ident() not in {thread for _, thread in HOST_CALLS}  # run off the caller's thread
    calls = events_of(read_log(result["log_file"]), "host_call")
    assert sorted((call["name"], call["ok"]) for call in calls) == [
        ("async_double", True),
        ("lookup_population", False),
        ("lookup_population", True),
        ("lookup_population", True),
    ]
    assert all(call["duration_s"] >= 0 for call in calls)
    assert "- await lookup_population(city: str) -> dict" in server.requests[0]["messages"][1]["content"]


def not_json() -> object:
    return object()


def test_a_host_function_returning_non_json_is_an_error_for_the_agent(scripted_server):
    code = "try:\n    await not_json()\nexcept HostFunctionError as error:\n    FINAL(str(error))"
    server = scripted_server(_script(repl(code)))
    result = fast_rlm.run("q", config=config_for(server), host_functions=[not_json], verbosity=0)
    assert result["results"].startswith("TypeError: host function not_json returned a value that is not JSON")


def test_env_variables_reach_every_repl_and_nothing_else(scripted_server):
    secret = "s3cr3t-token-value"

    def respond(request):
        if "child" in first_user_message(request):
            return repl("import os\nFINAL(os.environ['SERVICE_TOKEN'] == 's3cr3t-' + 'token-value')")
        if call_number(request) == 1:
            return repl("import os\nprint('token is', os.environ['SERVICE_TOKEN'])")
        return repl("FINAL(await llm_query('x', 'child'))")

    server = scripted_server(respond)
    result = fast_rlm.run(
        "q", config=config_for(server), env_variables={"SERVICE_TOKEN": secret}, verbosity=0
    )

    assert result["results"] is True  # the child's REPL sees it too
    assert "SERVICE_TOKEN" not in os.environ
    assert secret not in Path(result["log_file"]).read_text()
    prompts = str(server.requests)
    assert secret not in prompts and "token is [redacted]" in prompts
    assert "os.environ holds these variables for you: SERVICE_TOKEN" in prompts


@pytest.mark.parametrize(
    ("variables", "match"),
    [({"PORT": 8080}, "values must be str"), ({"A=B": "x"}, "not a usable variable name"), (["A"], "dict")],
)
def test_bad_env_variables_fail_early(isolated_workdir, variables, match):
    with pytest.raises(ConfigError, match=match):
        fast_rlm.run("q", config={"api_key": "k"}, env_variables=variables)
