"""One query of a session, seen from the host: what the engine is told of the session, the root's
saved namespace after each step, and the query's record in the ledger when it ends."""

from __future__ import annotations

from typing import Any

from fast_rlm.events import CodeStep, LogEvent
from fast_rlm.sessions.store import SessionStore, final_preview


class SessionQuery:
    def __init__(self, store: SessionStore, query: Any, include_code: bool) -> None:
        self._store = store
        self._query = query
        self.engine_session = store.engine_session(include_code)
        self._history: list[dict[str, Any]] = []  # the root's steps, for the ledger and session_history
        self._run_id = ""

    def begin(self, run_id: str, log_file: str) -> None:
        self._run_id = run_id
        self._store.begin_query(self._query, run_id, log_file)

    def save_state(self, message: dict[str, Any]) -> None:
        """The engine's session_state message: the root's namespace after one of its steps."""
        self._store.save_namespace(self._run_id, message["step"], message["state"])

    def observe(self, event: LogEvent) -> None:
        if isinstance(event, CodeStep) and event.agent_id == "root":
            self._history.append(
                {"step": event.step, "code": event.code, "stdout": event.stdout, "error": event.error}
            )

    def end(self, outcome: dict[str, Any] | None, error: Exception | None) -> None:
        """Records the query (done with its FINAL, or failed) and lets go of the directory."""
        try:
            if outcome is not None:
                record = {
                    "status": "done",
                    "final": final_preview(outcome["results"]),
                    "usage": outcome["usage"],
                }
            else:
                record = {"status": "failed", "final": None, "error": f"{type(error).__name__}: {error}"}
            self._store.end_query({**record, "steps": len(self._history), "history": self._history})
        finally:
            self._store.close()
