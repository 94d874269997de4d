"""A small MCP server for examples/mcp_server.py: a glossary, over stdio.

    pip install "mcp>=2,<3"
    python examples/mcp_glossary_server.py        # speaks MCP on stdin/stdout

Built with the `mcp` package's high-level MCPServer: one decorator per tool or resource.
"""

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

GLOSSARY = {
    "recursion": "solving a problem by solving smaller instances of the same problem",
    "sandbox": "an environment where code runs without access to the host's files, network or secrets",
    "token": "the unit of text a language model reads and writes",
    "webassembly": "a portable binary format that runs in browsers and runtimes such as Deno",
}

server = MCPServer("glossary", log_level="WARNING")


@server.tool()
def define(term: str) -> str:
    """The glossary's definition of `term` (lower case)."""
    if term not in GLOSSARY:
        raise ToolError(f"the glossary has no entry for {term!r}")
    return GLOSSARY[term]


@server.resource("glossary://terms", mime_type="text/plain")
def terms() -> str:
    """Every term the glossary defines, one a line."""
    return "\n".join(sorted(GLOSSARY))


if __name__ == "__main__":
    server.run("stdio")
