"""MCP servers: agents use a server's tools and resources from the REPL.

    pip install "mcp>=2,<3"                  # for the example's own server
    python examples/mcp_server.py --demo

`mcp_servers` names each server: a stdio one is a command the engine starts the first time an
agent uses it (and always stops at the end of the run); a streamable-HTTP one is a URL, e.g.
{"docs": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ..."}}}.
In the REPL the agent lists tools with mcp_list_tools(), reads a tool's argument schema with
mcp_tool_schema("glossary.define"), calls `await mcp_call("glossary", "define", term=...)` and
reads resources with `await mcp_read_resource(uri)`; a failure raises MCPError.
"""

import sys
from pathlib import Path

import fast_rlm
from fast_rlm.cli.demo import scripted_model_config
from fast_rlm.scripted.server import call_number, repl

TEXT = (
    "Each agent runs its code in a sandbox built on WebAssembly, and may start helpers by recursion. "
    "The model pays for every token it reads."
)

GLOSSARY_SERVER = {
    "command": sys.executable,
    "args": [str(Path(__file__).with_name("mcp_glossary_server.py"))],
    "env": {},  # the server gets this environment (and a PATH), nothing of yours
}


def scripted_model(request):
    if call_number(request) == 1:
        return repl("""
print(mcp_list_tools())
terms = (await mcp_read_resource("glossary://terms")).split()
print(terms)
""")
    return repl("""
found = [term for term in terms if term in context.lower()]
FINAL({term: await mcp_call("glossary", "define", term=term) for term in found})
""")


def main() -> None:
    with scripted_model_config(scripted_model, "--demo" in sys.argv) as model:
        result = fast_rlm.run(
            TEXT,
            instruction="Define every term of the glossary that the text uses.",
            mcp_servers={"glossary": GLOSSARY_SERVER},
            config=model,
            verbosity=0,
        )
    for term, definition in result["results"].items():
        print(f"{term}: {definition}")


if __name__ == "__main__":
    main()
