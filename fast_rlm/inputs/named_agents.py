"""run(agents={...}): named agents a parent starts with llm_query(data, instruction, agent="name").

    agents={"researcher": {"model": "openai/gpt-5", "instruction": "Finds sources", "tools": [search]}}

`instruction` (required) says what the agent is for: every parent's prompt lists it, and every agent
started under the name is told it. `model` (optional) is a model name, or a name of run(models=...)
for a Python model; `tools` (optional) are functions as in run(tools=...), run in the agent's sandbox.
Agents are a run() option, not a config key, because their tools are Python functions.
"""

from __future__ import annotations

import difflib
from typing import Any

from fast_rlm.errors import AgentsError
from fast_rlm.inputs.tools import tool_spec

AGENT_KEYS = ("model", "instruction", "tools")


def named_agent_specs(agents: Any) -> dict[str, dict[str, Any]]:
    """What the engine receives (engine/routing.ts, NamedAgent), by name."""
    if agents is None:
        return {}
    if not isinstance(agents, dict):
        raise AgentsError(
            'agents must be a dict of name -> {"model", "instruction", "tools"}, e.g. '
            f'agents={{"researcher": {{"instruction": "Finds sources"}}}}; got {type(agents).__name__}.'
        )
    return {_checked_name(name): _spec(name, definition) for name, definition in agents.items()}


def _checked_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise AgentsError(f"agents: the name {name!r} is not a non-empty str.")
    return name


def _spec(name: str, definition: Any) -> dict[str, Any]:
    if not isinstance(definition, dict):
        raise AgentsError(
            f'agents[{name!r}] must be a dict with "instruction" (and optionally "model", "tools"); '
            f"got {type(definition).__name__}."
        )
    for key in definition:
        if key not in AGENT_KEYS:
            close = difflib.get_close_matches(str(key), AGENT_KEYS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Keys: {', '.join(AGENT_KEYS)}."
            raise AgentsError(f"agents[{name!r}] has an unknown key {key!r}.{hint}")
    instruction = definition.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise AgentsError(
            f'agents[{name!r}] needs an "instruction": a str saying what the agent is for (its parent '
            "reads it to choose the agent)."
        )
    model = definition.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise AgentsError(
            f'agents[{name!r}]["model"] must be a model name (str); got {model!r}. For a Python model, '
            'register it as run(models={"my-model": fn}) and write "model": "my-model".'
        )
    tools = definition.get("tools") or []
    if not isinstance(tools, (list, tuple)):
        raise AgentsError(
            f'agents[{name!r}]["tools"] must be a list of functions; got {type(tools).__name__}.'
        )
    return {"model": model, "instruction": instruction, "tools": [tool_spec(function) for function in tools]}
