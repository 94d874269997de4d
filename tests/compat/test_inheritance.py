"""inherit_tools / inherit_mcp (0.5.0's semantics: a helper started without tools= or mcp= gets its
parent's, and passes them on; an explicit list, [] included, wins) and the ablation switches
enable_tools / enable_structured_io, end to end through run() with real REPLs and a real MCP server."""

from __future__ import annotations

from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.scripted.server import first_user_message, repl
from tests.conftest import config_for, events_of, read_log
from tests.mcp_servers import stdio_server

ROOT_QUERY = "the root's query"


def is_root(request) -> bool:
    return f'Start: "{ROOT_QUERY}"' in first_user_message(request)


def double(value: int) -> int:
    """Twice the value."""
    return value * 2


async def host_triple(value: int) -> int:
    """Three times the value (runs on the host)."""
    return value * 3


# Every helper reports what it has, and the one told "go deeper" asks its own helper too.
HELPER = """
seen = {"double": "double" in globals(), "host_triple": "host_triple" in globals(),
        "mcp": "mcp_list_tools" in globals()}
if "go deeper" in context:
    seen["grandchild"] = await llm_query("report")
FINAL(seen)
"""

ROOT = """
FINAL({
    "omitted": await llm_query("go deeper"),
    "empty": await llm_query("report", tools=[], mcp=[]),
    "named": await llm_query("report", tools=[double], mcp_servers=["notes"]),
})
"""


def _run(server, marker_dir: Path, **config) -> dict:
    return fast_rlm.run(
        ROOT_QUERY,
        config=config_for(server, workers=2, **config),
        tools=[double],
        host_functions=[host_triple],
        mcp_servers={"notes": stdio_server("notes_server.py", "stdio", marker_dir=marker_dir)},
        verbosity=0,
    )


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "started"
    directory.mkdir()
    return directory


def test_helpers_inherit_nothing_by_default(scripted_server, marker_dir):
    server = scripted_server(lambda request: repl(ROOT if is_root(request) else HELPER))
    result = _run(server, marker_dir)

    nothing = {"double": False, "host_triple": False, "mcp": False}
    assert result["results"] == {
        "omitted": {**nothing, "grandchild": nothing},
        "empty": nothing,
        "named": {"double": True, "host_triple": False, "mcp": True},
    }


def test_inherit_tools_and_mcp_pass_everything_down_unless_a_list_is_given(scripted_server, marker_dir):
    server = scripted_server(lambda request: repl(ROOT if is_root(request) else HELPER))
    result = _run(server, marker_dir, inherit_tools=True, inherit_mcp=True)

    everything = {"double": True, "host_triple": True, "mcp": True}
    assert result["results"] == {
        "omitted": {**everything, "grandchild": everything},
        "empty": {"double": False, "host_triple": False, "mcp": False},
        "named": {"double": True, "host_triple": False, "mcp": True},
    }
    helper_prompts = [first_user_message(request) for request in server.requests if not is_root(request)]
    system_prompt = server.requests[0]["messages"][0]["content"]
    assert "A helper gets all your functions unless you pass `tools`" in system_prompt
    assert any(
        "A helper gets all your servers unless you pass mcp_servers=" in text for text in helper_prompts
    )


def test_enable_tools_false_removes_tools_and_host_functions(scripted_server):
    code = (
        'FINAL(["double" in globals(), "host_triple" in globals(), await llm_query("x", tools=["double"])])'
    )
    server = scripted_server(lambda request: repl(code if is_root(request) else "FINAL('helper')"))
    result = fast_rlm.run(
        ROOT_QUERY,
        config=config_for(server, enable_tools=False),
        tools=[double],
        host_functions=[host_triple],
        verbosity=0,
    )

    assert result["results"] == [False, False, "helper"]
    system_prompt, first_message = (message["content"] for message in server.requests[0]["messages"][:2])
    assert "tools=None" not in system_prompt and "`tools`" not in system_prompt
    assert "double" not in first_message and "Functions you can call" not in first_message


STRUCTURED_ROOT = """
schema = {"type": "array", "items": {"type": "integer"}}
FINAL({"root_context": type(context).__name__, "helper": await llm_query({"numbers": [1, 2]}, schema)})
"""


def test_enable_structured_io_false_ignores_schemas_and_shows_data_as_text(scripted_server):
    helper = "FINAL(type(context).__name__ + ': ' + context)"  # a str, which the schema would refuse
    server = scripted_server(lambda request: repl(STRUCTURED_ROOT if is_root(request) else helper))
    result = fast_rlm.run(
        {"question": ROOT_QUERY},
        instruction=f'Start: "{ROOT_QUERY}"',
        config=config_for(server, enable_structured_io=False),
        output_schema=int,  # ignored: the root's dict FINAL is accepted
        verbosity=0,
    )

    assert result["results"] == {"root_context": "str", "helper": 'str: {"numbers":[1,2]}'}
    for request in server.requests:
        assert "JSON Schema" not in first_user_message(request)
        assert "schema=None" not in request["messages"][0]["content"]
    helper_start = [
        event for event in events_of(read_log(result["log_file"]), "agent_start") if event["depth"] == 1
    ]
    assert helper_start[0]["context_type"] == "str"
