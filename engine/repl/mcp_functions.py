"""Installs the MCP functions into an agent's namespace (setup key "mcp_servers": the names of the
servers the agent may use; see runtime.register_setup_installer).

Every function is a request of kind "mcp" to the engine's MCP manager (engine/mcp/manager.ts),
which connects a server on first use and shares that connection with the whole run. Failures raise
MCPError carrying the server's own message.
"""

from base64 import b64decode as _b64decode

from _rlm_runtime import engine_request, engine_request_sync, register_setup_installer


class MCPError(RuntimeError):
    """An MCP server failed to start, crashed, timed out, refused the arguments or returned an error.
    A RuntimeError, as the failures of fast-rlm 0.5.0's MCP functions were.

    `kind` says which: MCPServerError, MCPTimeoutError, MCPToolError, MCPArgumentError or
    MCPUnavailableError (no such server or tool, or not yours to use).
    """

    def __init__(self, message: str, kind: str = "MCPError") -> None:
        super().__init__(message)
        self.kind = kind


MCPError.__module__ = "builtins"  # tracebacks shown to the model name it plainly


class _EngineFailure(Exception):
    """What engine_request raises: "<type>: <message>"."""


def _mcp_error(failure: _EngineFailure) -> MCPError:
    kind, _, message = str(failure).partition(": ")
    return MCPError(message, kind)


def _install_mcp_functions(channel, namespace: dict, servers: list) -> None:
    def ask_sync(payload: dict):
        try:
            return engine_request_sync(channel, "mcp", payload, _EngineFailure)
        except _EngineFailure as failure:
            raise _mcp_error(failure) from None

    async def ask(payload: dict):
        try:
            return await engine_request(channel, "mcp", payload, _EngineFailure)
        except _EngineFailure as failure:
            raise _mcp_error(failure) from None

    def mcp_list_tools(server=None):
        """The MCP tools you can call, as [{"server", "name", "qualified_name": "server.tool",
        "description"}]: those of `server`, or of all your servers. The first use of a server starts it."""
        return ask_sync({"op": "list_tools", "server": server})

    def mcp_tool_schema(name):
        """The JSON Schema of the arguments of the tool `name`: "server.tool", or the bare tool name
        when only one of your servers has it (ValueError when several do, KeyError when none does)."""
        server, dot, tool = name.partition(".")
        if dot and server in servers:
            try:
                return ask_sync({"op": "tool_schema", "tool": name})
            except MCPError as error:
                if error.kind != "MCPUnavailableError":
                    raise
        matches = [entry["qualified_name"] for entry in mcp_list_tools() if entry["name"] == name]
        if len(matches) > 1:
            raise ValueError(f"Ambiguous MCP tool name {name!r}; name it as 'server.tool'. Matches: {matches}")
        if not matches:
            raise KeyError(f"No MCP tool {name!r}; mcp_list_tools() lists yours.")
        return ask_sync({"op": "tool_schema", "tool": matches[0]})

    async def mcp_call(server, tool, /, **arguments):
        """Call `tool` of MCP `server` with keyword arguments (checked against the tool's schema first).

        Returns the tool's structured result when it has one, else its text, else its list of
        content blocks. Raises MCPError when the call fails, in the server's words.
        """
        return await ask({"op": "call", "server": server, "tool": tool, "arguments": arguments})

    def mcp_list_resources(server=None):
        """The resources of `server`, or of all your MCP servers: [{"server", "uri", "name",
        "description", "mimeType"}] (also under the key "mime_type")."""
        return ask_sync({"op": "list_resources", "server": server})

    def mcp_list_resource_templates(server=None):
        """The resource templates of `server`, or of all your MCP servers: [{"server", "uriTemplate",
        "name", "description", "mimeType"}]. Fill in a template's {placeholders} and read the URI with
        mcp_read_resource(uri, server=...)."""
        return ask_sync({"op": "list_resource_templates", "server": server})

    async def mcp_read_resource(uri, server=None):
        """The contents of the resource `uri`: str for text, bytes for binary, a list when it has
        several parts. `server` is needed only when none of your servers lists the URI."""
        contents = await ask({"op": "read_resource", "uri": uri, "server": server})
        values = [part["text"] if "text" in part else _b64decode(part["blob"]) for part in contents]
        return values[0] if len(values) == 1 else values

    for function in (
        mcp_list_tools,
        mcp_tool_schema,
        mcp_call,
        mcp_list_resources,
        mcp_list_resource_templates,
        mcp_read_resource,
    ):
        namespace[function.__name__] = function
    namespace["MCPError"] = MCPError


register_setup_installer("mcp_servers", _install_mcp_functions)
