"""Real MCP servers for the tests (built on the `mcp` package's MCPServer), and helpers to point
`mcp_servers=` at them and to see which server processes ran."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psutil

SERVERS_DIR = Path(__file__).parent
MARKER_VARIABLE = "MCP_TEST_MARKER_DIR"


def stdio_server(
    script: str, *args: str, marker_dir: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """An `mcp_servers` entry that runs tests/mcp_servers/<script> with this Python over stdio."""
    return {
        "command": sys.executable,
        "args": [str(SERVERS_DIR / script), *args],
        "env": {MARKER_VARIABLE: str(marker_dir), **(env or {})},
    }


def started_pids(marker_dir: Path) -> list[int]:
    """PIDs of the server processes that started (each writes <pid>.started when it does)."""
    return sorted(int(marker.stem) for marker in marker_dir.glob("*.started"))


def is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
