"""The MCP functions as fast-rlm 0.5.0 offered them: llm_query(..., mcp=[...]), tool entries with
`server` and the bare `name`, mcp_tool_schema by bare name, resource templates, `mimeType`, and
MCPError a RuntimeError. Real servers (tests/mcp_servers/notes_server.py) over stdio."""

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


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "started"
    directory.mkdir()
    return directory


def _notes(marker_dir: Path) -> dict:
    return stdio_server("notes_server.py", "stdio", marker_dir=marker_dir)


ROOT_TOUR = """
def caught(function, *args):
    try:
        function(*args)
    except (KeyError, ValueError) as error:
        return [type(error).__name__, str(error)]

template = mcp_list_resource_templates()[0]
uri = template["uriTemplate"].replace("{word}", "alpha")
try:
    await mcp_call("notes", "refuse", reason="no")
except RuntimeError as error:
    refused = [type(error).__name__, error.kind]
FINAL({
    "first_tool": mcp_list_tools("notes")[0],
    "lookup_schema": mcp_tool_schema("lookup")["required"],
    "qualified_schema": mcp_tool_schema("notes.lookup")["required"],
    "unknown": caught(mcp_tool_schema, "subtract"),
    "templates": mcp_list_resource_templates("notes"),
    "templated_read": await mcp_read_resource(uri, server="notes"),
    "resource": mcp_list_resources(server="notes")[0]["mimeType"],
    "refused": refused,
    "helper": await llm_query("report", mcp=["notes"]),
})
"""

HELPER = 'FINAL(await mcp_call("notes", "lookup", word="omega"))'


def test_mcp_functions_with_bare_names_templates_and_mcp_alias(scripted_server, marker_dir):
    server = scripted_server(lambda request: repl(ROOT_TOUR if is_root(request) else HELPER))
    result = fast_rlm.run(
        ROOT_QUERY,
        config=config_for(server, workers=2),
        mcp_servers={"notes": _notes(marker_dir)},
        verbosity=0,
    )

    answer = result["results"]
    assert answer["first_tool"] == {
        "server": "notes",
        "name": "add",
        "qualified_name": "notes.add",
        "description": "Add two integers.",
    }
    assert answer["lookup_schema"] == answer["qualified_schema"] == ["word"]
    assert answer["unknown"][0] == "KeyError" and "subtract" in answer["unknown"][1]
    assert answer["templates"] == [
        {
            "server": "notes",
            "uriTemplate": "notes://note/{word}",
            "name": "note",
            "description": "The note kept for one word.",
            "mimeType": "text/plain",
        }
    ]
    assert answer["templated_read"] == "first letter"
    assert answer["resource"] == "text/plain"
    assert answer["refused"] == ["MCPError", "MCPToolError"]
    assert answer["helper"] == "last letter"  # mcp= granted the helper the server
    helpers = [
        event for event in events_of(read_log(result["log_file"]), "agent_start") if event["depth"] == 1
    ]
    assert len(helpers) == 1


AMBIGUOUS_ROOT = """
try:
    mcp_tool_schema("lookup")
except ValueError as error:
    FINAL(str(error))
"""


def test_a_bare_name_two_servers_share_is_ambiguous(scripted_server, marker_dir):
    server = scripted_server(lambda request: repl(AMBIGUOUS_ROOT))
    result = fast_rlm.run(
        ROOT_QUERY,
        config=config_for(server, workers=2),
        mcp_servers={"notes": _notes(marker_dir), "copy": _notes(marker_dir)},
        verbosity=0,
    )

    message = result["results"]
    assert "Ambiguous MCP tool name 'lookup'" in message
    assert "notes.lookup" in message and "copy.lookup" in message
