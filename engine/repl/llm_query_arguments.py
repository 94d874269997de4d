"""What an agent passed to llm_query, checked and turned into the request the engine receives.

Both spellings in use are accepted: ours, `llm_query(data, "instruction", schema=int)`, and fast-rlm
0.5.0's, `llm_query(data, schema, instruction="...")`. A positional argument after `data` is read by
its type: a str is the instruction, a JSON Schema dict or a type is the schema. Every mistake is a
TypeError raised in the agent's code before anything is sent, naming the argument and the fix.
"""

import types
import typing

from _rlm_image_values import image_from_bytes, image_from_data_url

_SIMPLE_TYPE_SCHEMAS = {
    int: {"type": "integer"},
    str: {"type": "string"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    list: {"type": "array"},
    dict: {"type": "object"},
    type(None): {"type": "null"},
}

SCHEMA_HELP = (
    "a JSON Schema dict, one of int/str/float/bool/list/dict, list[X], dict[str, X], or a class with "
    "model_json_schema() (a pydantic model)"
)

# Marks an argument the caller did not give: for tools and MCP servers "not given" (inherit, when the
# run allows it) differs from [] (grant nothing).
NOT_GIVEN = object()


class LlmQueryCall(typing.NamedTuple):
    """llm_query's arguments as the agent gave them: `positional` holds those after `data`;
    instruction, schema, tools, mcp_servers and mcp are NOT_GIVEN when left out."""

    data: object
    positional: tuple
    instruction: object
    schema: object
    tools: object
    mcp_servers: object
    mcp: object
    model: object
    agent: object
    images: object
    llm_kwargs: object


def schema_of(schema):
    """The JSON Schema for `schema` (see SCHEMA_HELP); TypeError when it is none of those."""
    if isinstance(schema, (dict, bool)):
        return schema
    if schema in _SIMPLE_TYPE_SCHEMAS:
        return _SIMPLE_TYPE_SCHEMAS[schema]
    origin, arguments = typing.get_origin(schema), typing.get_args(schema)
    if origin is list and len(arguments) == 1:
        return {"type": "array", "items": schema_of(arguments[0])}
    if origin is dict and len(arguments) == 2 and arguments[0] is str:
        return {"type": "object", "additionalProperties": schema_of(arguments[1])}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [schema_of(argument) for argument in arguments]}
    model_json_schema = getattr(schema, "model_json_schema", None)
    if isinstance(schema, type) and callable(model_json_schema):
        produced = model_json_schema()
        if isinstance(produced, dict):
            return produced
    raise TypeError(f"llm_query: schema must be {SCHEMA_HELP}; got {schema!r}.")


def _looks_like_schema(value) -> bool:
    return isinstance(value, (dict, bool, type)) or typing.get_origin(value) is not None


def _names_of_tools(tools) -> list:
    if not isinstance(tools, (list, tuple)):
        raise TypeError(
            f"llm_query: tools must be a list of your functions (or their names), e.g. tools=[my_tool]; "
            f"got {type(tools).__name__}."
        )
    names = []
    for tool in tools:
        if isinstance(tool, str):
            names.append(tool)
        elif callable(tool) and isinstance(getattr(tool, "__name__", None), str):
            names.append(tool.__name__)
        else:
            raise TypeError(
                f"llm_query: each entry of tools must be one of your functions or its name; got {tool!r}."
            )
    return names


def _server_names(servers, argument: str) -> list:
    if isinstance(servers, str) or not isinstance(servers, (list, tuple)):
        raise TypeError(
            f'llm_query: {argument} must be a list of MCP server names, e.g. {argument}=["notes"]; got {servers!r}.'
        )
    for name in servers:
        if not isinstance(name, str):
            raise TypeError(f"llm_query: each entry of {argument} must be a server name (str); got {name!r}.")
    return list(servers)


def _images(images) -> list:
    if images is None:
        return []
    if not isinstance(images, (list, tuple)):
        raise TypeError(f"llm_query: images must be a list of images (bytes or data URLs); got {images!r}.")
    checked = []
    for index, image in enumerate(images):
        where = f"llm_query: images[{index}]"
        if isinstance(image, (bytes, bytearray, memoryview)):
            checked.append(image_from_bytes(bytes(image), where, TypeError))
        elif isinstance(image, str) and image.startswith("data:"):
            checked.append(image_from_data_url(image, where, TypeError))
        else:
            raise TypeError(
                f"{where} must be the image's bytes or a data URL ('data:image/png;base64,...'); got "
                f"{type(image).__name__}. The REPL has no files: have the host pass files with "
                "run(images=[...]), or fetch the bytes with a tool."
            )
    return checked


def _agent(agent, agent_names) -> str | None:
    if agent is None:
        return None
    if not isinstance(agent, str):
        raise TypeError(f"llm_query: agent must be the name of a named agent (str); got {agent!r}.")
    if agent not in agent_names:
        known = ", ".join(map(repr, agent_names)) or "none (the run was given no agents=)"
        raise TypeError(f"llm_query: there is no agent named {agent!r}. Named agents: {known}.")
    return agent


def child_request(call: LlmQueryCall, agent_names) -> dict:
    """The llm_query request for the engine. `call.data` is checked when the request is serialised.
    `agent_names` are the run's named agents, which `call.agent` must be one of."""
    instruction, schema = _instruction_and_schema(call)
    if call.model is not None and not isinstance(call.model, str):
        raise TypeError(f"llm_query: model must be a model name (str) or None; got {call.model!r}.")
    if call.mcp is not NOT_GIVEN and call.mcp_servers is not NOT_GIVEN:
        raise TypeError(
            "llm_query: give the MCP servers once, as mcp_servers= or as mcp= (they are the same)."
        )
    given_as_mcp = call.mcp is not NOT_GIVEN
    servers = call.mcp if given_as_mcp else call.mcp_servers
    return {
        "data": call.data,
        "instruction": instruction,
        "schema": None if schema is None else schema_of(schema),
        "tools": None if call.tools is NOT_GIVEN or call.tools is None else _names_of_tools(call.tools),
        "mcp_servers": None
        if servers is NOT_GIVEN or servers is None
        else _server_names(servers, "mcp" if given_as_mcp else "mcp_servers"),
        "model": call.model,
        "agent": _agent(call.agent, agent_names),
        "images": _images(call.images),
        "llm_kwargs": _llm_kwargs(call.llm_kwargs),
    }


def _instruction_and_schema(call: LlmQueryCall) -> tuple:
    """The instruction (a str or None) and the schema (None when not given), wherever they were given."""
    if len(call.positional) > 2:
        raise TypeError(
            f"llm_query takes at most 3 positional arguments (data, instruction, schema); got {1 + len(call.positional)}. "
            "Pass tools=, mcp_servers= and model= by keyword."
        )
    instruction, schema = call.instruction, call.schema
    for value in call.positional:
        if value is None:
            continue
        if isinstance(value, str):
            if instruction is not NOT_GIVEN:
                raise TypeError(
                    "llm_query: the instruction was given twice (positionally and as instruction=)."
                )
            instruction = value
        elif _looks_like_schema(value):
            if schema is not NOT_GIVEN:
                raise TypeError("llm_query: the schema was given twice (positionally and as schema=).")
            schema = value
        else:
            raise TypeError(
                f"llm_query: after data, pass the instruction (a str) and/or the schema ({SCHEMA_HELP}); "
                f"got {value!r}."
            )
    if instruction is NOT_GIVEN:
        instruction = None
    if instruction is not None and not isinstance(instruction, str):
        raise TypeError(
            f"llm_query: instruction must be a str saying what the helper should do; got {instruction!r}."
        )
    return instruction, None if schema is NOT_GIVEN else schema


def _llm_kwargs(llm_kwargs):
    """The provider options of one llm_query; the engine checks their names for the child's model."""
    if llm_kwargs is None:
        return None
    if not isinstance(llm_kwargs, dict) or not all(isinstance(name, str) for name in llm_kwargs):
        raise TypeError(
            "llm_query: llm_kwargs must be a dict of provider options with str keys, e.g. "
            f"llm_kwargs={{'temperature': 0}}; got {llm_kwargs!r}."
        )
    return llm_kwargs
