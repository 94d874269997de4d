"""A session's runs as a list (fast-rlm-log SESSION_DIR --tui): Enter opens the chosen run's log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Label, ListItem, ListView


class SessionListApp(App[str | None]):
    """Exits with the chosen run's log file, or None when left with q."""

    BINDINGS = [("q", "quit_list", "Quit")]

    def __init__(self, directory: Path, queries: list[dict[str, Any]]) -> None:
        super().__init__()
        self.title = f"Session {directory}"
        self._queries = queries

    def compose(self) -> ComposeResult:
        yield Header()
        items = []
        for number, query in enumerate(self._queries, 1):
            final = f"FINAL: {query.get('final')}" if query["status"] == "done" else query["status"]
            tokens = (query.get("usage") or {}).get("total_tokens")
            text = f"[{number}] {query['query'][:80]}\n    {str(final)[:100]}  ({tokens or '?'} tokens)"
            items.append(ListItem(Label(text, markup=False)))
        yield ListView(*items)
        yield Footer()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        self.exit(self._queries[event.list_view.index or 0].get("log_file"))

    def action_quit_list(self) -> None:
        self.exit(None)
