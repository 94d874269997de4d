"""`fast-rlm-log SESSION_DIR`: a session's queries, each with its FINAL, tokens, cost and log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fast_rlm.sessions.store import LEDGER_FILE, _read_ledger
from fast_rlm.watch.terminal_text import printable
from fast_rlm.watch.usage_text import counted

PREVIEW_CHARS = 100


def is_session_dir(path: Path) -> bool:
    return path.is_dir() and (path / LEDGER_FILE).exists()


def session_queries(directory: Path) -> list[dict[str, Any]]:
    """The ledger's queries, oldest first, with a query left pending shown as running or interrupted."""
    ledger = _read_ledger(directory / LEDGER_FILE)
    queries = list(ledger["queries"])
    if ledger.get("pending"):
        queries.append({**ledger["pending"], "status": "running or interrupted", "final": None})
    return queries


def _short(text: Any) -> str:
    text = "" if text is None else str(text).replace("\n", " ")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."


def format_session(directory: Path) -> str:
    queries = session_queries(directory)
    lines = [f"Session {directory}: {len(queries)} quer{'y' if len(queries) == 1 else 'ies'}", ""]
    total_tokens, total_cost = 0, 0.0
    for number, query in enumerate(queries, 1):
        usage = query.get("usage") or {}
        tokens, cost = usage.get("total_tokens"), usage.get("cost")
        total_tokens += tokens or 0
        total_cost += cost or 0.0
        figures = f"{tokens:,} tokens" if tokens is not None else "tokens unknown"
        figures += f", ${cost:.6f}" if cost is not None else ""
        lines.append(f"[{number}] {_short(query['query'])}")
        outcome = f"FINAL: {_short(query.get('final'))}" if query["status"] == "done" else query["status"]
        lines.append(f"    {outcome}  ({counted(query.get('steps', 0), 'root step')}, {figures})")
        lines.append(f"    log: {query.get('log_file', '?')}")
    lines += ["", f"Total: {total_tokens:,} tokens, ${total_cost:.6f}"]
    return printable("\n".join(lines))
