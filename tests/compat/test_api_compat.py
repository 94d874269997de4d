"""run() as the original fast-rlm's users call it (issue 12, items 2, 4 and 8): its positional order,
llm_kwargs, its options this version lacks, the builtin exceptions its callers catch, and events
read as dicts."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import FastRLMError, LLMAuthError, UnsupportedFeatureError
from fast_rlm.events import CodeStep, LogEvent
from fast_rlm.run_arguments import POSITIONAL_NAMES
from fast_rlm.scripted.server import repl
from tests import scripted_server as scenarios
from tests.conftest import config_for, events_of, read_log


def add_one(number: int) -> int:
    """Adds one."""
    return number + 1


def _use_tool_and_environment(request):
    return repl("import os\nFINAL(add_one(int(os.environ['BASE'])))")


def test_the_first_eight_parameters_take_the_originals_positions(scripted_server):
    server = scripted_server(_use_tool_and_environment)
    result = fast_rlm.run("q", "mine", config_for(server), False, int, [add_one], {"BASE": "41"}, None)
    assert result["results"] == 42
    assert Path(result["log_file"]).name.startswith("mine_")
    with pytest.raises(TypeError, match="mcp_servers"):  # the eighth position is mcp_servers
        fast_rlm.run("q", None, {"api_key": "k"}, False, None, None, None, "not a dict")


def test_run_arun_and_stream_share_the_positional_parameters():
    for function in (fast_rlm.run, fast_rlm.arun, fast_rlm.stream):
        parameters = list(inspect.signature(function).parameters.values())
        assert tuple(parameter.name for parameter in parameters[:8]) == POSITIONAL_NAMES
        assert all(parameter.kind is parameter.POSITIONAL_OR_KEYWORD for parameter in parameters[:8])
        assert parameters[8].kind is inspect.Parameter.VAR_KEYWORD  # newer arguments are keyword-only
    with pytest.raises(TypeError):
        fast_rlm.run("q", None, None, None, None, None, None, None, "an instruction")


def test_llm_kwargs_reach_every_request_of_the_tree(scripted_server):
    server = scripted_server(scenarios.fan_out(2))
    result = asyncio.run(
        fast_rlm.arun(
            "q",
            config=config_for(server, primary_agent="root-model", sub_agent="child-model"),
            llm_kwargs={"temperature": 0.1, "seed": 7, "extra_body": {"provider": {"sort": "price"}}},
            verbosity=0,
            # the original's defaults for options this version lacks change nothing
            vertex=False,
            session_dir=None,
            session_id=None,
            add_session_code_to_context=True,
        )
    )
    assert result["results"] == [0, 1]
    assert len(server.requests) == 3
    for request in server.requests:
        assert (request["temperature"], request["seed"]) == (0.1, 7)
        # extra_body as the OpenAI SDK sends it (the original passed llm_kwargs to
        # chat.completions.create): its entries in the body, no field named extra_body.
        assert request["provider"] == {"sort": "price"} and "extra_body" not in request
        assert request["messages"][0]["role"] == "system"
    assert sorted(request["model"] for request in server.requests) == [
        "child-model",
        "child-model",
        "root-model",
    ]


@pytest.mark.parametrize("key", ["model", "messages", "stream", "n"])
def test_llm_kwargs_cannot_override_what_the_engine_sets(isolated_workdir, key):
    with pytest.raises(ValueError, match=f"llm_kwargs cannot set '{key}'"):
        fast_rlm.run("q", config={"api_key": "k"}, llm_kwargs={key: True})
    with pytest.raises(TypeError, match="llm_kwargs must be a dict"):
        fast_rlm.run("q", config={"api_key": "k"}, llm_kwargs=[("temperature", 0)])
    assert list(isolated_workdir.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value", "advice"),
    [
        ("vertex", True, "base_url"),
    ],
)
def test_the_originals_options_this_version_lacks_fail_saying_what_to_use(
    isolated_workdir, option, value, advice
):
    with pytest.raises(UnsupportedFeatureError, match=f"{option}=.*{advice}"):
        fast_rlm.run("q", config={"api_key": "k"}, **{option: value})
    assert list(isolated_workdir.iterdir()) == []


def _no_tool(value):
    return value


@pytest.mark.parametrize(
    ("arguments", "builtin"),
    [
        ({"query": 42}, TypeError),
        ({"query": None}, ValueError),
        ({"tools": [lambda: 1]}, TypeError),
        ({"tools": [len]}, TypeError),
        ({"env_variables": {"A": 1}}, TypeError),
        ({"env_variables": ["A"]}, TypeError),
        ({"mcp_servers": {"s": "python server.py"}}, TypeError),
        ({"output_schema": object()}, TypeError),
        ({"config": {"api_key": "k", "primary_agent": ""}}, ValueError),
        ({"config": {"api_key": "k", "max_dept": 1}}, ValueError),
        ({"config": 42}, TypeError),
        ({"verbosity": 7}, ValueError),
        ({"verbosity": 1.5}, TypeError),
    ],
)
def test_bad_arguments_raise_the_builtin_the_original_raised(isolated_workdir, arguments, builtin):
    arguments = {"query": "q", "config": {"api_key": "k"}, **arguments}
    with pytest.raises(builtin) as raised:
        fast_rlm.run(**arguments)
    assert isinstance(raised.value, FastRLMError)
    assert list(isolated_workdir.iterdir()) == []


def test_a_failed_run_is_a_runtime_error(scripted_server):
    server = scripted_server(scenarios.unauthorized)
    with pytest.raises(RuntimeError) as raised:
        fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert isinstance(raised.value, LLMAuthError) and raised.value.log_file is not None


def test_events_read_as_dicts_of_their_log_lines(scripted_server):
    server = scripted_server(scenarios.fan_out(2))
    steps: list[CodeStep] = []
    events: list[LogEvent] = []
    result = fast_rlm.run(
        "q", config=config_for(server), verbosity=0, on_step=steps.append, on_event=events.append
    )
    logged_steps = events_of(read_log(result["log_file"]), "code_step")
    assert sorted(dict(step)["agent_id"] for step in steps) == sorted(
        line["agent_id"] for line in logged_steps
    )
    for step in steps:
        assert step["agent_id"] == step.agent_id and step["code"] == step.code
        assert "stdout" in step and "parent_run_id" not in step
        assert step.get("parent_run_id", "none") == "none"
        assert set(step.keys()) == set(logged_steps[0])
    run_end = events[-1]
    assert run_end["event"] == "run_end" and run_end["usage"]["llm_calls"] == 3
    assert run_end.get("results") == [0, 1]
