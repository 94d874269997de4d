"""Routing: which model each agent runs on (llm_query(model=) > a named agent's model >
models_by_depth > sub_agent), named agents (run(agents=...)), and usage costed per model."""

from __future__ import annotations

from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import AgentsError, ConfigError
from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.render import render_mermaid
from fast_rlm.scripted.server import first_user_message, repl
from tests.conftest import config_for, events_of, read_log

ROOT_CODE = """
results = await batch_llm_query(
    llm_query("a", "plain child"),
    llm_query("b", "explicit child", model="explicit"),
    llm_query("c", "look things up", agent="researcher"),
    llm_query("d", "look things up", agent="researcher", model="explicit2"),
)
FINAL(results)
"""


def count_words(text: str) -> int:
    """How many words `text` has."""
    return len(text.split())


AGENTS = {
    "researcher": {
        "model": "agent-model",
        "instruction": "Finds facts and counts words.",
        "tools": [count_words],
    }
}


def routing_responder(seen: dict[str, list[dict]]):
    def respond(request):
        model = request["model"]
        seen.setdefault(model, []).append(request)
        if model == "root-model":
            return repl(ROOT_CODE)
        if model == "depth-one":
            return repl('FINAL("depth-one:" + await llm_query("x", "go deeper"))')
        if model == "agent-model":
            return repl("FINAL(f\"agent-model:{count_words(context + ' two three')}\")")
        return repl(f"FINAL({model!r})")

    return respond


def test_each_child_runs_on_the_model_the_precedence_picks(scripted_server, isolated_workdir: Path):
    # A YAML file's keys are strings; they mean the same depths as ints.
    (isolated_workdir / "rlm_config.yaml").write_text('models_by_depth:\n  "1": depth-one\n')
    seen: dict[str, list[dict]] = {}
    server = scripted_server(routing_responder(seen))
    config = config_for(
        server,
        primary_agent="root-model",
        sub_agent="sub-model",
        max_depth=3,
        max_money_spent=None,
        model_prices={
            "root-model": {"prompt_per_million": 1_000_000, "completion_per_million": 0},
            "agent-model": {"prompt_per_million": 0, "completion_per_million": 1_000_000},
        },
    )
    result = fast_rlm.run("q", config=config, agents=AGENTS, verbosity=0)

    assert result["results"] == ["depth-one:sub-model", "explicit", "agent-model:3", "explicit2"]
    log = read_log(result["log_file"])
    models = {event["agent_id"]: event["model"] for event in events_of(log, "agent_start")}
    assert models == {
        "root": "root-model",
        "root.0": "depth-one",  # models_by_depth[1]
        "root.0.0": "sub-model",  # depth 2: not in models_by_depth
        "root.1": "explicit",  # model= wins over models_by_depth
        "root.2": "agent-model",  # the named agent's model wins over models_by_depth
        "root.3": "explicit2",  # model= wins over the named agent's
    }
    names = {event["agent_id"]: event.get("agent") for event in events_of(log, "agent_start")}
    assert names["root.2"] == names["root.3"] == "researcher" and names["root.1"] is None
    assert {call["agent_id"]: call["model"] for call in events_of(log, "llm_call")} == models

    # The root's prompt lists the named agent and what it is for; the agent is told its role.
    root_system = seen["root-model"][0]["messages"][0]["content"]
    assert 'agent="name"' in root_system and '"researcher": Finds facts and counts words.' in root_system
    assert 'You are the "researcher" agent: Finds facts' in first_user_message(seen["agent-model"][0])

    by_model = result["usage"]["by_model"]
    assert set(by_model) == set(models.values())
    assert all(share["llm_calls"] == 1 for share in by_model.values())
    root_share, agent_share = by_model["root-model"], by_model["agent-model"]
    assert root_share["cost"] == pytest.approx(root_share["prompt_tokens"])
    assert agent_share["cost"] == pytest.approx(agent_share["completion_tokens"])
    assert by_model["sub-model"]["cost"] is None  # no price, and the server reported none


def test_an_unknown_agent_name_is_a_type_error_in_the_repl(scripted_server):
    code = """
try:
    await llm_query("x", "do it", agent="nobody")
except TypeError as error:
    FINAL(str(error))
"""
    server = scripted_server(lambda request: repl(code))
    result = fast_rlm.run("q", config=config_for(server), agents=AGENTS, verbosity=0)
    assert "no agent named 'nobody'" in result["results"]
    assert "'researcher'" in result["results"]
    assert server.request_count == 1  # nothing was started


def test_a_named_agents_tools_are_its_own(scripted_server):
    code = """
try:
    count_words("a b")
except NameError:
    FINAL("the root has no count_words")
"""
    server = scripted_server(lambda request: repl(code))
    result = fast_rlm.run("q", config=config_for(server), agents=AGENTS, verbosity=0)
    assert result["results"] == "the root has no count_words"


def test_models_by_depth_keys_may_be_ints_or_strings():
    assert fast_rlm.RLMConfig(models_by_depth={1: "a", "2": "b"}).models_by_depth == {1: "a", 2: "b"}


@pytest.mark.parametrize(
    ("models_by_depth", "message"),
    [({0: "m"}, "the root's model is primary_agent"), ({"one": "m"}, "models_by_depth")],
)
def test_bad_models_by_depth_names_the_fix(models_by_depth, message):
    with pytest.raises(ConfigError, match=message):
        fast_rlm.run("q", config={"models_by_depth": models_by_depth, "api_key": "k"}, verbosity=0)


@pytest.mark.parametrize(
    ("agents", "message"),
    [
        ({"researcher": {"model": "m"}}, 'needs an "instruction"'),
        ({"researcher": {"instruction": "x", "modle": "m"}}, "Did you mean 'model'"),
        ({"researcher": {"instruction": "x", "model": len}}, "run\\(models="),
        (["researcher"], "agents must be a dict"),
    ],
)
def test_bad_agents_fail_before_the_engine_starts(agents, message):
    with pytest.raises(AgentsError, match=message):
        fast_rlm.run("q", config={"api_key": "k"}, agents=agents, verbosity=0)


def test_the_log_tools_show_each_agents_name_and_model(scripted_server):
    code = 'FINAL(await llm_query("c", "look", agent="researcher"))'
    server = scripted_server(
        lambda request: repl(code) if request["model"] == "root-model" else repl("FINAL(1)")
    )
    result = fast_rlm.run(
        "q", config=config_for(server, primary_agent="root-model"), agents=AGENTS, verbosity=0
    )
    index = LogIndex.open(result["log_file"])
    assert [index.agents[agent_id].model_label for agent_id in ("root", "root.0")] == [
        "root-model",
        "researcher · agent-model",
    ]
    assert "researcher · agent-model" in render_mermaid(index)
