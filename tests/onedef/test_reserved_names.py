"""The names a tool or host function may not take (fast_rlm/inputs/tools.py RESERVED_NAMES) are the
names the REPL itself puts in an agent's namespace: compared with a real one, in a session's root
with a tool, a host function and an MCP server, where every installer has run."""

import pytest

import fast_rlm
from fast_rlm.errors import ToolError
from fast_rlm.inputs.tools import RESERVED_NAMES
from fast_rlm.scripted.server import repl
from tests.conftest import config_for
from tests.mcp_servers import stdio_server

LIST_NAMES = "FINAL(sorted(name for name in globals() if not name.startswith('__')))"


def shout(text: str) -> str:
    return text.upper()


def lookup(key: str) -> str:
    return key


def test_reserved_names_are_the_names_the_repl_installs(scripted_server, tmp_path):
    server = scripted_server(lambda request: repl(LIST_NAMES))
    notes = stdio_server("notes_server.py", "stdio", marker_dir=tmp_path)
    with fast_rlm.Session(config=config_for(server), verbosity=0) as session:
        result = session.query("q", tools=[shout], host_functions=[lookup], mcp_servers={"notes": notes})
    installed = set(result["results"]) - {"shout", "lookup"}
    assert installed == RESERVED_NAMES


@pytest.mark.parametrize("name", ["mcp_call", "MCPError", "FINAL_VAR", "session_history"])
def test_a_function_named_like_a_repl_name_is_refused(name):
    def function() -> None:
        return None

    function.__name__ = name
    with pytest.raises(ToolError, match="taken by the REPL"):
        fast_rlm.run("q", config={"api_key": "k"}, host_functions=[function])
