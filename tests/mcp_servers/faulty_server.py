"""A real MCP server that misbehaves on purpose, over stdio.

    python faulty_server.py broken    exits at start-up with a message on stderr
    python faulty_server.py serve     serves `echo`, `crash` (the process dies mid-call) and `hang`
                                      (the process blocks and never answers)

Like notes_server.py, it writes `<pid>.started` into $MCP_TEST_MARKER_DIR when that is set.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    marker_dir = os.environ.get("MCP_TEST_MARKER_DIR")
    if marker_dir:
        (Path(marker_dir) / f"{os.getpid()}.started").write_text(" ".join(sys.argv[1:]))
    if sys.argv[1] == "broken":  # before importing `mcp`, as a server whose set-up fails would
        print("faulty server: cannot open its database /nonexistent/notes.db", file=sys.stderr, flush=True)
        sys.exit(2)

from mcp.server.mcpserver import MCPServer  # noqa: E402

server = MCPServer("faulty", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Returns `text`."""
    return text


@server.tool()
def crash() -> str:
    """The server process dies while handling the call."""
    print("faulty server: simulated fatal error in crash()", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
def hang() -> str:
    """Blocks the whole server (a synchronous sleep): the call never gets an answer."""
    time.sleep(3600)
    return "unreachable"


if __name__ == "__main__":
    server.run("stdio")
