"""Session: queries that share one root REPL. Variables, imports and functions the agent made in one
query are there in the next; the agent is told the earlier queries and their answers.

    with fast_rlm.Session(config=config) as session:
        session.query("Load the CSV in context into rows")
        session.query("Now the mean of column 3")

With session_dir (and optionally session_id, a name within it) the state is kept on disk after every
step: a new process, even after a kill, carries on from the last completed step. Without, it lives in
a temporary directory removed by close(), the end of a `with`, garbage collection or exit.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from fast_rlm.config import RLMConfig
from fast_rlm.run import arun, run
from fast_rlm.sessions.store import LEDGER_FILE, NAMESPACE_FILE, SessionStore, resolve_session_dir
from fast_rlm.stream import RunStream, stream


class Session:
    """run()'s keyword arguments given here are the defaults of every query; a query's own win."""

    def __init__(
        self,
        session_id: str | None = None,
        session_dir: str | Path | None = None,
        config: RLMConfig | dict[str, Any] | None = None,
        add_session_code_to_context: bool = True,
        **run_defaults: Any,
    ) -> None:
        directory = resolve_session_dir(session_id, session_dir)
        self.session_id = session_id
        self.ephemeral = directory is None
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="fast-rlm-session-"))
            self._remove_temporary = weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)
        # Held for the session's life: another process cannot use the directory meanwhile.
        self._store = SessionStore.open(directory)
        self._release = weakref.finalize(self, self._store.close)
        self.directory = directory
        self.run_defaults = {
            "config": config,
            "add_session_code_to_context": add_session_code_to_context,
            **run_defaults,
        }

    def query(self, query: Any = None, **overrides: Any) -> dict[str, Any]:
        """One query (run()'s arguments and result) in this session's REPL."""
        return run(query, **self._arguments(overrides))

    run = query

    async def arun(self, query: Any = None, **overrides: Any) -> dict[str, Any]:
        return await arun(query, **self._arguments(overrides))

    def stream(self, query: Any = None, **overrides: Any) -> RunStream:
        return stream(query, **self._arguments(overrides))

    def queries(self) -> list[dict[str, Any]]:
        """The session's queries so far, oldest first: query and FINAL previews, status, log_file,
        usage and the root's steps (code, stdout, error)."""
        return self._ledger().get("queries", [])

    def variables(self) -> dict[str, dict[str, str]]:
        """What the REPL holds after its last step, by name: {"type", "preview"} (values stay pickled)."""
        state = self._state()
        return {
            name: {"type": v["type"], "preview": v["preview"]}
            for name, v in state.get("variables", {}).items()
        }

    def functions(self) -> dict[str, str]:
        """The functions and classes the agent defined, by name: their source."""
        return dict(self._state().get("functions", {}))

    def dropped(self) -> dict[str, str]:
        """What the last save could not keep, by name: why."""
        return dict(self._state().get("dropped", {}))

    def close(self) -> None:
        """Lets go of the directory; an ephemeral session's is removed. Later queries are refused."""
        self._release()
        if self.ephemeral:
            self._remove_temporary()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _arguments(self, overrides: dict[str, Any]) -> dict[str, Any]:
        if not self._release.alive:
            raise RuntimeError(
                "This Session is closed; open a new one (with the same session_dir to carry on)."
            )
        for name in ("session_dir", "session_id"):
            if name in overrides:
                raise TypeError(f"{name} is the Session's own; open another Session for another directory.")
        return {**self.run_defaults, **overrides, "session_dir": self.directory}

    def _ledger(self) -> dict[str, Any]:
        path = self.directory / LEDGER_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _state(self) -> dict[str, Any]:
        path = self.directory / NAMESPACE_FILE
        return json.loads(path.read_text(encoding="utf-8"))["state"] if path.exists() else {}
