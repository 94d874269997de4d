"""Planner mode, run(mode="decompose"): plans validated against the plan schema, concurrent sub-tasks
and a synthesis, its limits (max_depth, max_steps) and errors, named agents, and the log and viewer."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import fast_rlm
from fast_rlm.errors import BudgetExceededError, ConfigError, MaxStepsError, RecursionDepthError, SchemaError
from fast_rlm.events import EVENT_MODELS, Plan, parse_event
from fast_rlm.logs.cli import main as log_cli_main
from fast_rlm.logs.reader import LogIndex
from fast_rlm.scripted.server import agent_task, first_user_message, last_user_message, planned_task, repl
from tests.conftest import config_for, events_of, read_log

TASK = "Compare apples, pears and plums"
PARTS = ["apples", "pears", "plums"]


def recurse(*tasks: str, **extra: Any) -> str:
    return json.dumps({"action": "recurse", "reason": "independent parts", "subtasks": list(tasks), **extra})


EXECUTE = '{"action": "execute", "reason": "small enough"}'


def worker_reply(request: dict[str, Any]) -> str:
    """Executors FINAL their task's text; a synthesis FINALs the answers in order."""
    if "Combine the answers of the sub-tasks" in first_user_message(request):
        return repl("FINAL([part['answer'] for part in context['subtasks']])")
    return repl(f"FINAL({agent_task(request)!r})")


def roles(log: list[dict[str, Any]]) -> dict[str, str]:
    return {event["agent_id"]: event.get("role") for event in events_of(log, "agent_start")}


def test_a_task_small_enough_is_executed_by_a_repl_agent(scripted_server):
    def model(request):
        if planned_task(request) is not None:
            return "```json\n" + EXECUTE + "\n```"  # a fenced object is accepted too
        return repl("FINAL(context.upper())")

    server = scripted_server(model)
    result = fast_rlm.run("shout this", mode="decompose", config=config_for(server), verbosity=0)
    assert result["results"] == "SHOUT THIS"
    log = read_log(result["log_file"])
    assert roles(log) == {"root": "plan", "root.0": "execute"}
    [plan] = events_of(log, "plan")
    assert plan["action"] == "execute" and plan["subtasks"] == []
    assert planned_task(server.requests[0]) == "shout this"


def test_three_subtasks_run_at_once_then_a_synthesis_combines_them(scripted_server):
    # The sub-tasks' planners wait for one another: only concurrent requests get past the barrier.
    all_three_planning = threading.Barrier(3, timeout=60)

    def model(request):
        task = planned_task(request)
        if task == TASK:
            return recurse(*({"task": f"describe {part}"} for part in PARTS))
        if task is not None:
            all_three_planning.wait()
            return EXECUTE
        if "Combine the answers" in first_user_message(request):
            return repl("FINAL(' / '.join(part['answer'] for part in context['subtasks']))")
        return repl(f"FINAL({'did: ' + agent_task(request)!r})")

    server = scripted_server(model, responder_may_block=True)
    result = fast_rlm.run(TASK, mode="decompose", config=config_for(server), verbosity=0)
    assert server.peak_in_flight >= 3
    assert result["results"] == "did: describe apples / did: describe pears / did: describe plums"
    log = read_log(result["log_file"])
    assert roles(log) == {
        "root": "plan",
        **{f"root.{i}": "subtask" for i in range(3)},
        **{f"root.{i}.0": "execute" for i in range(3)},
        "root.3": "synthesis",
    }
    [root_plan] = [plan for plan in events_of(log, "plan") if plan["agent_id"] == "root"]
    assert [subtask["task"] for subtask in root_plan["subtasks"]] == [f"describe {part}" for part in PARTS]
    ends = {event["agent_id"]: event for event in events_of(log, "agent_end")}
    assert ends["root"]["result"] == result["results"]
    parsed = [parse_event(line) for line in log]
    assert all(isinstance(event, EVENT_MODELS[raw["event"]]) for event, raw in zip(parsed, log, strict=True))
    assert [event.action for event in parsed if isinstance(event, Plan)] == ["recurse", *["execute"] * 3]
    # What the viewer needs: the tree with each agent's role, and every line parsed.
    index = LogIndex.open(result["log_file"])
    assert index.agents["root.3"].role == "synthesis"
    assert index.agents["root.1"].parent_id == "root" and index.agents["root.1.0"].parent_id == "root.1"
    assert "subtask" in index.agents["root.1"].model_label
    assert log_cli_main([result["log_file"]]) == 0
    assert log_cli_main([result["log_file"], "--render", "mermaid", "-o", "tree.mmd"]) == 0


def test_a_planner_at_max_depth_is_told_to_execute_and_fails_if_it_keeps_splitting(scripted_server):
    def model(request):
        task = planned_task(request)
        if task == TASK:
            return recurse({"task": "go deeper"})
        if task is not None:
            return recurse({"task": "deeper still"})  # at max_depth=1: not allowed
        return repl("FINAL('x')")

    server = scripted_server(model)
    with pytest.raises(RecursionDepthError) as raised:
        config = config_for(server, max_depth=1, max_calls_per_subagent=2)
        fast_rlm.run(TASK, mode="decompose", config=config, verbosity=0)
    assert isinstance(raised.value, BudgetExceededError)
    assert "max_depth=1" in str(raised.value) and "root.0" in str(raised.value)
    deep_requests = [request for request in server.requests if planned_task(request) == "go deeper"]
    assert len(deep_requests) == 2
    assert "cannot be split" in last_user_message(deep_requests[1])
    assert "must execute it" in deep_requests[0]["messages"][0]["content"]


def test_a_planner_at_max_depth_that_then_executes_finishes(scripted_server):
    def model(request):
        task = planned_task(request)
        if task == TASK:
            return recurse({"task": "go deeper"})
        if task is not None:
            return EXECUTE if "cannot be split" in last_user_message(request) else recurse({"task": "more"})
        return worker_reply(request)

    server = scripted_server(model)
    result = fast_rlm.run(TASK, mode="decompose", config=config_for(server, max_depth=1), verbosity=0)
    assert result["results"] == ["go deeper"]


def test_max_steps_ends_the_run_with_the_finished_agents_answers(scripted_server):
    def model(request):
        task = planned_task(request)
        if task == TASK:
            return recurse({"task": "first"}, {"task": "second"})
        if task is not None:
            return EXECUTE
        return worker_reply(request)

    server = scripted_server(model)
    # root, root.0, root.1, root.0.0, root.1.0: the synthesis would be the sixth agent.
    with pytest.raises(MaxStepsError) as raised:
        fast_rlm.run(TASK, mode="decompose", config=config_for(server, max_steps=5), verbosity=0)
    assert "max_steps=5" in str(raised.value) and "root.2" in str(raised.value)
    assert raised.value.partial_results == {
        "root.0.0": "first",
        "root.0": "first",
        "root.1.0": "second",
        "root.1": "second",
    }
    log = read_log(raised.value.log_file)
    assert len(events_of(log, "agent_start")) == 5
    assert "At most 4 more agents" in server.requests[0]["messages"][0]["content"]


def test_a_plan_that_never_validates_ends_with_the_schema_error_quoted(scripted_server):
    def model(request):
        if len(server.requests) == 1:
            return "I think we should split it."
        return '{"action": "split", "subtasks": []}'

    server = scripted_server(model)
    with pytest.raises(SchemaError) as raised:
        fast_rlm.run(TASK, mode="decompose", config=config_for(server, max_calls_per_subagent=2), verbosity=0)
    message = str(raised.value)
    assert "never replied with a plan matching the plan schema" in message
    assert "/action: must be equal to one of the allowed values" in message and "split" in message
    assert "holds no JSON object" in last_user_message(server.requests[1])
    assert len(server.requests) == 2


def test_a_subtask_given_to_a_named_agent_runs_on_its_model(scripted_server):
    def model(request):
        task = planned_task(request)
        if task == TASK:
            return recurse({"task": "count the plums", "agent": "counter"}, {"task": "name the pears"})
        if task is not None:
            return EXECUTE
        return worker_reply(request)

    server = scripted_server(model)
    result = fast_rlm.run(
        TASK,
        mode="decompose",
        config=config_for(server, primary_agent="main-model"),
        agents={"counter": {"model": "counter-model", "instruction": "Counts things"}},
        verbosity=0,
    )
    starts = {event["agent_id"]: event for event in events_of(read_log(result["log_file"]), "agent_start")}
    assert starts["root.0"]["agent"] == "counter" and starts["root.0"]["model"] == "counter-model"
    assert starts["root.0.0"]["model"] == "counter-model"
    assert starts["root.1"]["model"] == "main-model"
    models = {planned_task(request) or agent_task(request): request["model"] for request in server.requests}
    assert models["count the plums"] == "counter-model" and models["name the pears"] == "main-model"
    assert '"counter": Counts things' in server.requests[0]["messages"][0]["content"]


def test_an_unknown_mode_is_refused_before_the_engine_starts(scripted_server):
    server = scripted_server(lambda request: EXECUTE)
    with pytest.raises(ConfigError, match="mode='plan' is not a run mode.*mode='decompose'"):
        fast_rlm.run(TASK, mode="plan", config=config_for(server), verbosity=0)
    assert server.requests == []
