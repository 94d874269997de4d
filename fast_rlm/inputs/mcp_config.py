"""Validating `mcp_servers=` and working out what the engine may reach for them.

Each entry is a stdio server ({"command", "args", "env", "cwd"}) or a streamable-HTTP server
({"url", "headers"}). The engine's Deno permissions grow by exactly the named commands and hosts.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fast_rlm.errors import ConfigError, ConfigTypeError


class McpServer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` (a stdio server) or `url` (a streamable-HTTP server)")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("`args`, `env` and `cwd` are for stdio servers, not `url` ones")
        if self.command is not None and self.headers:
            raise ValueError("`headers` are for `url` servers, not stdio ones")
        return self


@dataclass(frozen=True)
class McpPlan:
    servers: dict[str, dict[str, Any]]  # what the engine receives
    net_hosts: list[str]  # host:port of each HTTP server
    run_commands: list[str]  # absolute path of each stdio server's program


def plan_mcp_servers(mcp_servers: dict[str, Any] | None) -> McpPlan:
    if not mcp_servers:
        return McpPlan({}, [], [])
    if not isinstance(mcp_servers, dict):
        raise ConfigTypeError("mcp_servers must be a dict of name -> server settings.")
    servers: dict[str, dict[str, Any]] = {}
    net_hosts: list[str] = []
    run_commands: list[str] = []
    for name, settings in mcp_servers.items():
        if not isinstance(name, str) or not isinstance(settings, dict):
            raise ConfigTypeError(
                f"mcp_servers[{name!r}]: mcp_servers must map str names to dicts of server settings."
            )
        if not name.isidentifier():
            raise ConfigError(f"MCP server name {name!r} must be an identifier (letters, digits, _).")
        try:
            server = McpServer.model_validate(settings)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, issue['loc'])) or name}: {issue['msg']}" for issue in error.errors()
            )
            raise ConfigError(f"MCP server {name!r}: {problems}") from None
        if server.command is not None:
            # The engine runs elsewhere (its own directory): relative paths in `command`, `args` and
            # `cwd` must keep meaning what they mean here, so the server starts in this directory.
            cwd = os.path.abspath(server.cwd or os.curdir)
            command = os.path.join(cwd, server.command) if os.path.dirname(server.command) else server.command
            program = shutil.which(command)
            if program is None:
                raise ConfigError(f"MCP server {name!r}: command {server.command!r} is not found on PATH.")
            program = os.path.abspath(program)
            run_commands.append(program)
            servers[name] = {**server.model_dump(exclude={"url", "headers"}), "command": program, "cwd": cwd}
        else:
            net_hosts.append(_host_port(name, server.url or ""))
            servers[name] = server.model_dump(include={"url", "headers"})
    return McpPlan(servers, net_hosts, run_commands)


def _host_port(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"MCP server {name!r}: url {url!r} is not an http(s) URL.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"
