"""MCP servers end to end: real servers (tests/mcp_servers, built on MCPServer) over stdio and
streamable HTTP, driven by scripted agents through the REPL functions.

Each test's scripted agent FINALs what it saw, so the assertions are on exact values.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fast_rlm
from fast_rlm.errors import ConfigError
from fast_rlm.host.deno_setup import deno_binary
from fast_rlm.host.engine_process import engine_command
from fast_rlm.inputs.mcp_config import plan_mcp_servers
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log
from tests.mcp_servers import SERVERS_DIR, is_alive, started_pids, stdio_server
from tests.scripted_server import is_root

SERVER_READY_TIMEOUT_S = 20.0
NOTES_TOOLS = ["add", "lookup", "environment", "process_id", "refuse"]


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "started"
    directory.mkdir()
    return directory


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the HTTP MCP server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the HTTP MCP server did not listen on port {port} within {SERVER_READY_TIMEOUT_S}s")


@pytest.fixture(scope="module")
def http_server_url() -> Iterator[str]:
    """notes_server.py over streamable HTTP on 127.0.0.1, for the module."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVERS_DIR / "notes_server.py"), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _run(server, mcp_servers: dict[str, Any], **config: Any) -> dict[str, Any]:
    return fast_rlm.run(
        "notes", config=config_for(server, workers=2, **config), mcp_servers=mcp_servers, verbosity=0
    )


STDIO_TOUR = """
print(mcp_list_resources()[0]["uri"], os.environ.get("NOTES_TOKEN"))
env = await mcp_call("notes", "environment")
print(env["NOTES_TOKEN"])
FINAL({
    "tools": mcp_list_tools(),
    "schema": mcp_tool_schema("notes.add"),
    "sum": await mcp_call("notes", "add", a=2, b=3),
    "note": await mcp_call("notes", "lookup", word="alpha"),
    "resources": mcp_list_resources(),
    "readme": await mcp_read_resource("notes://readme"),
    "env_names": sorted(name for name in env if name != "LC_CTYPE"),
    "env_path": env["PATH"],
    "token_seen": env["NOTES_TOKEN"] == "notes-token-" + "0123456789",
})
"""


def test_stdio_server_tools_and_resource_started_on_first_use(scripted_server, marker_dir):
    seen_before_first_step: list[list[int]] = []
    first_messages: list[str] = []

    def respond(request):
        if call_number(request) == 1:
            seen_before_first_step.append(started_pids(marker_dir))
            first_messages.append(first_user_message(request))
            return repl("import os\nprint(sorted(n for n in globals() if n.startswith('mcp_')))")
        return repl(STDIO_TOUR)

    server = scripted_server(respond)
    notes = stdio_server(
        "notes_server.py", "stdio", marker_dir=marker_dir, env={"NOTES_TOKEN": "notes-token-0123456789"}
    )
    result = _run(server, {"notes": notes})

    assert seen_before_first_step == [[]]  # nothing spawned before an agent used the server
    assert "MCP servers available: notes (not started yet)." in first_messages[0]
    assert "await mcp_call(server, tool, **arguments)" in first_messages[0]
    answer = result["results"]
    assert [tool["qualified_name"] for tool in answer["tools"]] == [f"notes.{name}" for name in NOTES_TOOLS]
    assert answer["tools"][0] == {
        "server": "notes",
        "name": "add",
        "qualified_name": "notes.add",
        "description": "Add two integers.",
    }
    assert answer["schema"]["properties"] == {
        "a": {"title": "A", "type": "integer"},
        "b": {"title": "B", "type": "integer"},
    }
    assert answer["schema"]["required"] == ["a", "b"]
    assert answer["sum"] == 5  # MCPServer's {"result": 5} arrives as the value itself
    assert answer["note"] == "first letter"
    assert answer["resources"] == [
        {
            "server": "notes",
            "uri": "notes://readme",
            "name": "readme",
            "description": "",
            "mimeType": "text/plain",
            "mime_type": "text/plain",
        }
    ]
    assert answer["readme"] == "Notes server: ask lookup(word)."
    # The server's environment is exactly its `env` plus a PATH made of the command's directory and
    # the system's: nothing of the engine's or the user's environment.
    assert answer["env_names"] == ["MCP_TEST_MARKER_DIR", "NOTES_TOKEN", "PATH"]
    path_dirs = [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    assert answer["env_path"] == ":".join(dict.fromkeys(path_dirs))
    assert answer["token_seen"] is True

    pids = started_pids(marker_dir)
    assert len(pids) == 1 and not is_alive(pids[0])
    log_text = Path(result["log_file"]).read_text()
    assert "notes-token-0123456789" not in log_text  # an MCP server's env values are secrets: redacted
    steps = events_of(read_log(result["log_file"]), "code_step")
    mcp_names = [
        "mcp_call",
        "mcp_list_resource_templates",
        "mcp_list_resources",
        "mcp_list_tools",
        "mcp_read_resource",
        "mcp_tool_schema",
    ]
    assert steps[0]["stdout"] == f"{mcp_names}\n"
    assert steps[1]["stdout"] == "notes://readme None\n[redacted]\n"
    calls = [(event["name"], event["ok"]) for event in events_of(read_log(result["log_file"]), "host_call")]
    assert calls == [
        ("mcp:notes.environment", True),
        ("mcp:notes.add", True),
        ("mcp:notes.lookup", True),
        ("mcp:notes.read_resource", True),
    ]


HTTP_TOUR = """
FINAL({
    "tools": [tool["name"] for tool in mcp_list_tools("web")],
    "sum": await mcp_call("web", "add", a=20, b=22),
    "note": await mcp_call("web", "lookup", word="omega"),
    "resources": [resource["uri"] for resource in mcp_list_resources()],
    "readme": await mcp_read_resource("notes://readme", server="web"),
})
"""


def test_streamable_http_server_tools_and_resource(scripted_server, http_server_url):
    server = scripted_server(lambda request: repl(HTTP_TOUR))
    result = _run(server, {"web": {"url": http_server_url, "headers": {"X-Notes-Key": "header-secret-42"}}})

    assert result["results"] == {
        "tools": NOTES_TOOLS,
        "sum": 42,
        "note": "last letter",
        "resources": ["notes://readme"],
        "readme": "Notes server: ask lookup(word).",
    }
    assert "header-secret-42" not in Path(result["log_file"]).read_text()


SHARING_ROOT = """
parent_pid = await mcp_call("notes", "process_id")
child_pid = await llm_query("use notes", "child with notes", mcp_servers=["notes"])
without = await llm_query("no notes", "child without notes")
try:
    await llm_query("x", "child with a server I do not have", mcp_servers=["elsewhere"])
except LLMQueryError as error:
    unknown = str(error)
FINAL({"parent": parent_pid, "child": child_pid, "without": without, "unknown": unknown})
"""

CHILD_WITHOUT = """
try:
    mcp_list_tools()
except NameError as error:
    name_error = str(error)
import _rlm_runtime
# This agent's own line to the engine, taken from its llm_query: the engine checks the servers it has.
cells = [cell.cell_contents for cell in llm_query.__closure__]
channel = next(value for value in cells if "JsProxy" in type(value).__name__)
try:
    await _rlm_runtime.engine_request(channel, "mcp", {"op": "call", "server": "notes", "tool": "add",
                                                       "arguments": {"a": 1, "b": 2}})
except Exception as error:
    forged = str(error)
FINAL({"name_error": name_error, "forged": forged})
"""


def test_one_connection_serves_the_run_and_children_get_servers_only_when_passed(
    scripted_server, marker_dir, isolated_workdir
):
    child_first_messages: dict[str, str] = {}

    def respond(request):
        message = first_user_message(request)
        if is_root(request):
            return repl(SHARING_ROOT)
        child_first_messages[message.split("\n")[0]] = message
        if "child with notes" in message:
            return repl('FINAL(await mcp_call("notes", "process_id"))')
        return repl(CHILD_WITHOUT)

    server = scripted_server(respond)
    # A relative script path means what it means here, though the engine runs in its own directory.
    shutil.copy(SERVERS_DIR / "notes_server.py", isolated_workdir / "notes_server.py")
    notes = {**stdio_server("notes_server.py", marker_dir=marker_dir), "args": ["notes_server.py", "stdio"]}
    result = _run(server, {"notes": notes})

    answer = result["results"]
    pids = started_pids(marker_dir)
    assert pids == [answer["parent"]] and answer["child"] == answer["parent"]
    assert not is_alive(pids[0])
    # Counts appear once the server is connected (the parent had used it).
    with_notes = child_first_messages["Task: child with notes"]
    assert "MCP servers available: notes (5 tools, 1 resource)." in with_notes
    assert "MCP servers" not in child_first_messages["Task: child without notes"]
    assert answer["without"] == {
        "name_error": "name 'mcp_list_tools' is not defined",
        "forged": 'MCPUnavailableError: no MCP server named "notes" is available here; available: none',
    }
    assert answer["unknown"] == "AgentError: MCP servers not available to root: elsewhere"


def test_the_example_connects_its_mcp_server(isolated_workdir):
    example = Path(__file__).resolve().parent.parent / "examples" / "mcp_server.py"
    completed = subprocess.run(
        [sys.executable, str(example), "--demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=isolated_workdir,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        "recursion: solving a problem by solving smaller instances of the same problem",
        "sandbox: an environment where code runs without access to the host's files, network or secrets",
        "token: the unit of text a language model reads and writes",
        "webassembly: a portable binary format that runs in browsers and runtimes such as Deno",
    ]


def test_engine_permissions_grow_by_exactly_the_named_commands_and_hosts(tmp_path):
    plan = plan_mcp_servers(
        {
            "local": {"command": "python3", "args": ["server.py"], "env": {"TOKEN": "t"}},
            "web": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer x"}},
            "lan": {"url": "http://127.0.0.1:8123/mcp"},
        }
    )
    model_host = "api.example.com:443"
    command = engine_command(tmp_path / "run.jsonl", [model_host, *plan.net_hosts], plan.run_commands)

    python3 = str(Path(shutil.which("python3") or "").absolute())
    assert "--allow-net=api.example.com:443,mcp.example.com:443,127.0.0.1:8123" in command
    assert f"--allow-run={deno_binary()},{python3}" in command  # the REPL processes, then the server
    assert not [flag for flag in command if flag.startswith(("--allow-env", "--allow-all", "-A"))]
    assert plan.servers["local"] == {
        "command": python3,
        "args": ["server.py"],
        "env": {"TOKEN": "t"},
        "cwd": str(tmp_path),  # the user's directory (the autouse fixture's), not the engine's
    }


@pytest.mark.parametrize(
    ("servers", "problem"),
    [
        ({"a b": {"command": "python3"}}, "must be an identifier"),
        ({"both": {"command": "python3", "url": "http://127.0.0.1:1/mcp"}}, "give either `command`"),
        ({"neither": {}}, "give either `command`"),
        ({"gone": {"command": "no-such-program-anywhere"}}, "is not found on PATH"),
        ({"ftp": {"url": "ftp://127.0.0.1/mcp"}}, "is not an http(s) URL"),
        ({"mixed": {"url": "http://127.0.0.1:1/mcp", "env": {"A": "1"}}}, "are for stdio servers"),
    ],
)
def test_bad_mcp_servers_fail_before_the_engine_starts(servers, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        plan_mcp_servers(servers)
