"""A small real MCP server for the tests: tools, a resource and a resource template, over stdio or
streamable HTTP.

    python notes_server.py stdio
    python notes_server.py http PORT

With MCP_TEST_MARKER_DIR set, it writes `<pid>.started` there as soon as it starts, so a test can
tell whether (and when) the engine spawned it, and check by PID that it is gone afterwards.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("notes", log_level="WARNING")

NOTES = {"alpha": "first letter", "omega": "last letter"}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def lookup(word: str) -> str:
    """The note kept for `word`."""
    return NOTES.get(word, "no note")


@server.tool()
def environment() -> dict[str, str]:
    """The server process's environment variables (the tests check what the engine passes on)."""
    return dict(os.environ)


@server.tool()
def process_id() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def refuse(reason: str) -> str:
    """Always fails: the error result carries `reason`."""
    raise ToolError(f"refused: {reason}")


@server.resource("notes://readme", mime_type="text/plain")
def readme() -> str:
    return "Notes server: ask lookup(word)."


@server.resource("notes://note/{word}", mime_type="text/plain")
def note(word: str) -> str:
    """The note kept for one word."""
    return NOTES.get(word, "no note")


def _announce_start() -> None:
    marker_dir = os.environ.get("MCP_TEST_MARKER_DIR")
    if marker_dir:
        (Path(marker_dir) / f"{os.getpid()}.started").write_text(" ".join(sys.argv[1:]))


if __name__ == "__main__":
    _announce_start()
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
