"""MCP failures reach the agent as MCPError, in the server's own words, and the run goes on: a server
that fails to start, crashes mid-call, hangs, returns an error result or is given bad arguments.
Every stdio server process is gone when the run returns, whichever way it ended."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import fast_rlm
from fast_rlm.errors import RunTimeoutError
from fast_rlm.scripted.server import repl
from tests.conftest import config_for, events_of, read_log
from tests.mcp_servers import is_alive, started_pids, stdio_server

HANG_TIMEOUT_S = 4  # mcp_timeout_s also bounds a server's start-up: Python plus `mcp` take about 1 s


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "started"
    directory.mkdir()
    return directory


def _run(server, mcp_servers: dict[str, Any], **config: Any) -> dict[str, Any]:
    return fast_rlm.run(
        "faults", config=config_for(server, workers=1, **config), mcp_servers=mcp_servers, verbosity=0
    )


def _assert_all_reaped(marker_dir: Path, expected_starts: int) -> None:
    pids = started_pids(marker_dir)
    assert len(pids) == expected_starts
    assert [pid for pid in pids if is_alive(pid)] == []


# Each block records (kind, message) of the MCPError it raised; the agent then goes on to FINAL.
CATCHING = """
async def outcome(call):
    try:
        return ("ok", await call)
    except MCPError as error:
        return (error.kind, str(error))

def sync_outcome(function, *args):
    try:
        return ("ok", function(*args))
    except MCPError as error:
        return (error.kind, str(error))
"""


def test_a_server_that_fails_to_start_is_an_error_the_agent_sees(scripted_server, marker_dir):
    code = (
        CATCHING
        + """
FINAL({
    "list": sync_outcome(mcp_list_tools, "broken"),
    "call": await outcome(mcp_call("broken", "echo", text="hi")),
    "no_cwd": sync_outcome(mcp_list_tools, "nowhere"),
    "still_fine": await mcp_call("notes", "add", a=1, b=1),
})
"""
    )
    server = scripted_server(lambda request: repl(code))
    broken = stdio_server("faulty_server.py", "broken", marker_dir=marker_dir)
    nowhere = {**stdio_server("notes_server.py", "stdio", marker_dir=marker_dir), "cwd": "/nonexistent/dir"}
    notes = stdio_server("notes_server.py", "stdio", marker_dir=marker_dir)
    result = _run(server, {"broken": broken, "nowhere": nowhere, "notes": notes})

    said = "; its stderr ends with:\nfaulty server: cannot open its database /nonexistent/notes.db"
    assert result["results"] == {
        "list": ["MCPServerError", f"MCP server broken exited with code 2 while starting{said}"],
        "call": ["MCPServerError", f"MCP server broken exited with code 2 while starting{said}"],
        "no_cwd": [
            "MCPServerError",
            f"could not start MCP server nowhere ({sys.executable}): Failed to spawn '{sys.executable}': "
            "No such cwd '/nonexistent/dir'",
        ],
        "still_fine": 2,
    }
    _assert_all_reaped(marker_dir, expected_starts=3)  # broken twice (each use retries), notes once
    calls = events_of(read_log(result["log_file"]), "host_call")
    assert [(call["name"], call["ok"], call.get("error", {}).get("type")) for call in calls] == [
        ("mcp:broken.echo", False, "MCPServerError"),
        ("mcp:notes.add", True, None),
    ]


def test_a_server_that_crashes_mid_call_is_an_error_and_the_next_use_restarts_it(scripted_server, marker_dir):
    code = (
        CATCHING
        + """
FINAL({
    "before": await mcp_call("faulty", "echo", text="one"),
    "crash": await outcome(mcp_call("faulty", "crash")),
    "after": await mcp_call("faulty", "echo", text="two"),
})
"""
    )
    server = scripted_server(lambda request: repl(code))
    result = _run(server, {"faulty": stdio_server("faulty_server.py", "serve", marker_dir=marker_dir)})

    assert result["results"] == {
        "before": "one",
        "crash": [
            "MCPServerError",
            "MCP server faulty exited with code 3 during faulty.crash; its stderr ends with:\n"
            "faulty server: simulated fatal error in crash()",
        ],
        "after": "two",
    }
    _assert_all_reaped(marker_dir, expected_starts=2)


def test_a_server_that_hangs_times_out_and_other_servers_go_on(scripted_server, marker_dir):
    code = (
        CATCHING
        + """
import time
started = time.monotonic()
hung = await outcome(mcp_call("faulty", "hang"))
waited = time.monotonic() - started
FINAL({"hang": hung, "waited": waited, "notes": await mcp_call("notes", "lookup", word="alpha")})
"""
    )
    server = scripted_server(lambda request: repl(code))
    faulty = stdio_server("faulty_server.py", "serve", marker_dir=marker_dir)
    notes = stdio_server("notes_server.py", "stdio", marker_dir=marker_dir)
    result = _run(server, {"faulty": faulty, "notes": notes}, mcp_timeout_s=HANG_TIMEOUT_S)

    answer = result["results"]
    assert answer["hang"] == [
        "MCPTimeoutError",
        f"faulty.hang: no answer within mcp_timeout_s={HANG_TIMEOUT_S}s; the request was cancelled",
    ]
    assert HANG_TIMEOUT_S <= answer["waited"] < 2 * HANG_TIMEOUT_S + 3  # includes the server's start-up
    assert answer["notes"] == "first letter"
    _assert_all_reaped(marker_dir, expected_starts=2)  # the hung server is killed when the run ends


def test_error_results_bad_arguments_and_unknown_names_are_errors(scripted_server, marker_dir):
    code = (
        CATCHING
        + """
FINAL({
    "refused": await outcome(mcp_call("notes", "refuse", reason="not today")),
    "wrong_type": await outcome(mcp_call("notes", "add", a="two", b=2)),
    "missing": await outcome(mcp_call("notes", "add", a=2)),
    "unknown_tool": await outcome(mcp_call("notes", "subtract", a=2, b=1)),
    "unknown_server": await outcome(mcp_call("elsewhere", "add", a=2, b=1)),
    "bare_name": sync_outcome(mcp_tool_schema, "lookup")[1]["required"],
    "unknown_resource": await outcome(mcp_read_resource("notes://missing")),
})
"""
    )
    server = scripted_server(lambda request: repl(code))
    result = _run(server, {"notes": stdio_server("notes_server.py", "stdio", marker_dir=marker_dir)})

    schema_hint = (
        'the arguments of notes.add do not match its input schema (see mcp_tool_schema("notes.add")): '
    )
    assert result["results"] == {
        "refused": [
            "MCPToolError",
            "notes.refuse returned an error: Error executing tool refuse: refused: not today",
        ],
        "wrong_type": ["MCPArgumentError", schema_hint + "/a: must be integer"],
        "missing": ["MCPArgumentError", schema_hint + "(the value itself): must have required property 'b'"],
        "unknown_tool": [
            "MCPUnavailableError",
            'MCP server notes has no tool "subtract"; '
            "its tools: add, lookup, environment, process_id, refuse",
        ],
        "unknown_server": [
            "MCPUnavailableError",
            'no MCP server named "elsewhere" is available here; available: notes',
        ],
        "bare_name": ["word"],
        "unknown_resource": [
            "MCPToolError",
            "reading notes://missing from notes: MCP error -32602: Unknown resource: notes://missing",
        ],
    }
    _assert_all_reaped(marker_dir, expected_starts=1)


def test_stdio_servers_are_reaped_when_the_run_ends_during_a_call(scripted_server, marker_dir):
    server = scripted_server(lambda request: repl('await mcp_call("faulty", "hang")'))
    faulty = stdio_server("faulty_server.py", "serve", marker_dir=marker_dir)
    with pytest.raises(RunTimeoutError) as raised:
        _run(server, {"faulty": faulty}, run_timeout_s=4, mcp_timeout_s=60)

    assert "run_timeout_s=4" in str(raised.value)
    _assert_all_reaped(marker_dir, expected_starts=1)
    log = read_log(raised.value.log_file)
    assert log[-1]["event"] == "run_end" and log[-1]["error"]["type"] == "RunTimeoutError"
