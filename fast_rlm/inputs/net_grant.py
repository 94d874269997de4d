"""The network grant (allow_net): which hosts code in the REPL may reach.

An entry is a host ("api.example.com", any port) or a host and port ("127.0.0.1:8080"); an IPv6
address goes in brackets ("[::1]:8080"). The entries become the REPL processes' `--allow-net`, so
Deno's own permission check decides, per request and per redirect, what is reachable.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
_EXAMPLES = 'e.g. "api.example.com" (any port), "127.0.0.1:8080" or "[::1]:8080"'


def check_net_grant(hosts: Any) -> list[str]:
    """The entries, lower-cased and without duplicates; ValueError naming the bad entry otherwise."""
    if not isinstance(hosts, (list, tuple)):
        raise ValueError(f"allow_net must be a list of hosts ({_EXAMPLES}), not {type(hosts).__name__}")
    checked: list[str] = []
    for entry in hosts:
        host = _check_entry(entry)
        if host not in checked:
            checked.append(host)
    return checked


def merge_net_grants(configured: list[str], extra: Any) -> list[str]:
    """run(allow_net=...) adds to the config's allow_net; it never narrows it."""
    if extra is None:
        return configured
    return check_net_grant([*configured, *check_net_grant(extra)])


def _check_entry(entry: Any) -> str:
    if not isinstance(entry, str):
        raise ValueError(
            f"allow_net entry {entry!r} is a {type(entry).__name__}; entries are strings ({_EXAMPLES})"
        )
    text = entry.strip().lower()
    if "://" in text:
        parts = urlsplit(text)
        bare = parts.netloc.rsplit("@", 1)[-1] or "<host>"
        raise ValueError(f"allow_net entry {entry!r} is a URL; give the bare host instead: {bare!r}")
    if not text or any(mark in text for mark in "/?#@, \t"):
        raise ValueError(f"allow_net entry {entry!r} is not a host or host:port ({_EXAMPLES})")
    host, port = _split_port(entry, text)
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"allow_net entry {entry!r}: the port must be a number from 1 to 65535")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"allow_net entry {entry!r}: {host} is not an IPv6 address") from None
    elif not _HOST_NAME.match(host):
        raise ValueError(
            f"allow_net entry {entry!r}: {host!r} is not a host name or IP address ({_EXAMPLES})"
        )
    return host if port is None else f"{host}:{int(port)}"


def _split_port(entry: str, text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        closing = text.find("]")
        if closing < 0 or (len(text) > closing + 1 and text[closing + 1] != ":"):
            raise ValueError(
                f"allow_net entry {entry!r}: write an IPv6 address as [address] or [address]:port"
            )
        port = text[closing + 2 :] if len(text) > closing + 1 else None
        return text[: closing + 1], port
    if text.count(":") > 1:
        raise ValueError(
            f"allow_net entry {entry!r} looks like an IPv6 address; put it in brackets: [{text}]"
        )
    host, _, port = text.partition(":")
    return host, (port if ":" in text else None)
