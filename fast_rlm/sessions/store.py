"""A session directory: its lock, its ledger of queries (state.json) and the root REPL's saved
namespace (namespace.json).

The namespace is made inside the sandbox (engine/repl/session_state.py): its values are pickles this
process never opens, only checks for shape (pickletools reads opcodes without running them). Each
value's pickle is a file of its own in values/, written once when it changes (the REPL marks an
unchanged value instead of sending it again); namespace.json names those files. The JSON files are
replaced whole (a temporary file, then os.replace), so a kill leaves the last complete one.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import pickletools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fast_rlm.errors import ConfigError, SessionLockedError, SessionStateError

LEDGER_FILE = "state.json"
NAMESPACE_FILE = "namespace.json"
LOCK_FILE = ".lock"
VALUES_DIR = "values"
FORMAT = "fast-rlm-session"
VERSION = 1
PREVIEW_CHARS = 300
FINAL_PREVIEW_CHARS = 500
_FIX = (
    "Move the file aside (the session then starts with an empty REPL) or restore it from a backup, "
    "or use another session_dir."
)


def resolve_session_dir(session_id: str | None, session_dir: str | Path | None) -> Path | None:
    """The directory that holds the session: session_dir, or session_dir/session_id; None for none."""
    if session_id is not None and session_dir is None:
        raise ConfigError(
            "session_id needs a session_dir to live in: pass session_dir=... too, or neither for an "
            "ephemeral session."
        )
    if session_dir is None:
        return None
    if session_id is not None and (not session_id or "/" in session_id or session_id in (".", "..")):
        raise ConfigError(f"session_id {session_id!r} must be a plain name (no '/'), such as 'podcasts'.")
    directory = Path(session_dir) / session_id if session_id is not None else Path(session_dir)
    return directory.resolve()


class _DirectoryLock:
    """An fcntl lock on the directory's lock file, shared by every user in this process."""

    _held: dict[Path, tuple[int, int]] = {}  # directory -> (descriptor, users)
    _guard = threading.Lock()

    @classmethod
    def acquire(cls, directory: Path) -> None:
        with cls._guard:
            if directory in cls._held:
                descriptor, users = cls._held[directory]
                cls._held[directory] = (descriptor, users + 1)
                return
            descriptor = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise SessionLockedError(
                    f"The session directory {str(directory)!r} is in use by another process. Close that "
                    "session first, or use another session_dir (or session_id)."
                ) from None
            cls._held[directory] = (descriptor, 1)

    @classmethod
    def release(cls, directory: Path) -> None:
        with cls._guard:
            descriptor, users = cls._held.pop(directory)
            if users > 1:
                cls._held[directory] = (descriptor, users - 1)
            else:
                os.close(descriptor)  # closing the descriptor releases the lock


@dataclass
class SessionStore:
    """An open session directory. Use as a context manager, or call close()."""

    directory: Path
    ledger: dict[str, Any] = field(default_factory=dict)
    # {"run_id", "step", "state"}: the REPL's last save, each variable naming its value file
    namespace: dict[str, Any] | None = None
    pickles: dict[str, str] = field(default_factory=dict)  # value file name -> its pickle (base64)
    _open: bool = False

    @classmethod
    def open(cls, directory: Path) -> SessionStore:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(
                f"Cannot create session_dir {str(directory)!r}: {error}. Pass a writable one."
            ) from None
        _DirectoryLock.acquire(directory)
        try:
            namespace, pickles = _read_namespace(directory / NAMESPACE_FILE)
            store = cls(directory, _read_ledger(directory / LEDGER_FILE), namespace, pickles)
        except BaseException:
            _DirectoryLock.release(directory)
            raise
        store._open = True
        return store

    def close(self) -> None:
        if self._open:
            self._open = False
            _DirectoryLock.release(self.directory)

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def queries(self) -> list[dict[str, Any]]:
        return self.ledger["queries"]

    def begin_query(self, query: Any, run_id: str, log_file: str) -> None:
        """Records the query as pending: if this process is killed, the next one sees it interrupted."""
        self._close_interrupted()
        self.ledger["pending"] = {
            "query": _preview(query, PREVIEW_CHARS),
            "run_id": run_id,
            "log_file": log_file,
        }
        self._write_ledger()

    def save_namespace(self, run_id: str, step: int, state: dict[str, Any]) -> None:
        """Writes the values that changed, then namespace.json, then removes the files it no longer names."""
        earlier = self.namespace["state"]["variables"] if self.namespace is not None else {}
        values = self.directory / VALUES_DIR
        values.mkdir(exist_ok=True)
        variables = {}
        for index, (name, entry) in enumerate(state["variables"].items()):
            if entry.get("unchanged") and name in earlier:
                variables[name] = {**earlier[name], "type": entry["type"], "preview": entry["preview"]}
                continue
            if "pickle" not in entry:
                continue  # marked unchanged, yet this host never had it: cannot be kept
            file_name = f"{run_id[:12]}-{step}-{index}.b64"
            (values / file_name).write_text(entry["pickle"], encoding="ascii")
            self.pickles[file_name] = entry["pickle"]
            variables[name] = {"type": entry["type"], "preview": entry["preview"], "file": file_name}
        self.namespace = {"run_id": run_id, "step": step, "state": {**state, "variables": variables}}
        _replace(self.directory / NAMESPACE_FILE, json.dumps(self.namespace, ensure_ascii=False))
        named = {entry["file"] for entry in variables.values()}
        for file_name in [file_name for file_name in self.pickles if file_name not in named]:
            del self.pickles[file_name]
            (values / file_name).unlink(missing_ok=True)

    def end_query(self, record: dict[str, Any]) -> None:
        """Moves the pending query to the ledger with its outcome (status, final, steps, usage...)."""
        pending = self.ledger.pop("pending", None) or {}
        self.queries.append({**pending, **record})
        self._write_ledger()

    def _close_interrupted(self) -> None:
        """A query left pending by a killed process goes to the ledger as interrupted."""
        pending = self.ledger.pop("pending", None)
        if pending is None:
            return
        saved = self.namespace if self.namespace and self.namespace["run_id"] == pending["run_id"] else None
        steps = saved["step"] if saved else 0
        self.queries.append(
            {**pending, "status": "interrupted", "final": None, "steps": steps, "history": []}
        )

    def engine_session(self, include_code: bool) -> dict[str, Any]:
        """The start message's `session` (engine/session_state.ts SessionStart)."""
        self._close_interrupted()
        earlier = [
            {
                "query": entry["query"],
                "final": entry.get("final"),
                "status": entry["status"],
                "steps": entry.get("steps", 0),
                "code": [step["code"] for step in entry.get("history", [])] if include_code else [],
            }
            for entry in self.queries
        ]
        history = [
            {
                "query": entry["query"],
                "final": entry.get("final"),
                "status": entry["status"],
                "steps": entry.get("history", []),
            }
            for entry in self.queries
        ]
        state = None
        if self.namespace is not None:
            saved = self.namespace["state"]
            variables = {
                name: {
                    "type": entry["type"],
                    "preview": entry["preview"],
                    "pickle": self.pickles[entry["file"]],
                }
                for name, entry in saved["variables"].items()
            }
            state = {**saved, "variables": variables}
        return {"state": state, "earlier": earlier, "history": history}

    def _write_ledger(self) -> None:
        _replace(self.directory / LEDGER_FILE, json.dumps(self.ledger, ensure_ascii=False, indent=1))


def final_preview(value: Any) -> str:
    return _preview(value, FINAL_PREVIEW_CHARS)


def _preview(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _read_ledger(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"format": FORMAT, "version": VERSION, "queries": []}
    ledger = _read_json(path)
    if not isinstance(ledger, dict) or ledger.get("format") != FORMAT:
        raise SessionStateError(f"{str(path)!r} is not a fast-rlm session's state file. {_FIX}")
    if ledger.get("version") != VERSION:
        raise SessionStateError(
            f"{str(path)!r} is a session of format version {ledger.get('version')!r}; this fast-rlm reads "
            f"version {VERSION}. Use the fast-rlm that wrote it, or start a new session_dir."
        )
    if not isinstance(ledger.get("queries"), list):
        raise SessionStateError(f"{str(path)!r} has no list of queries: it is damaged. {_FIX}")
    return ledger


def _read_namespace(path: Path) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The saved namespace and its values' pickles, by file name; (None, {}) when there is none."""
    if not path.exists():
        return None, {}
    saved = _read_json(path)
    pickles: dict[str, str] = {}
    try:
        state = saved["state"]
        if state["version"] != VERSION:
            raise SessionStateError(
                f"{str(path)!r} holds a REPL state of version {state['version']!r}; this fast-rlm reads "
                f"version {VERSION}. {_FIX}"
            )
        for name, entry in state["variables"].items():
            value_file = path.parent / VALUES_DIR / entry["file"]
            try:
                pickles[entry["file"]] = value_file.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as error:
                raise SessionStateError(
                    f"Cannot read {str(value_file)!r}, the value of {name!r}: {error}. {_FIX}"
                ) from None
            _check_pickle(value_file, name, pickles[entry["file"]])
        for key in ("functions", "modules", "dropped"):
            if not isinstance(state[key], dict):
                raise TypeError(key)
        if not isinstance(saved["run_id"], str) or not isinstance(saved["step"], int):
            raise TypeError("run_id/step")
    except (KeyError, TypeError, AttributeError) as error:
        raise SessionStateError(
            f"{str(path)!r} is not a saved REPL state ({error!r} is wrong). {_FIX}"
        ) from None
    return saved, pickles


def _check_pickle(path: Path, name: str, encoded: str) -> None:
    """Reads the pickle's opcodes without running any: a truncated or garbled value fails here."""
    try:
        for _ in pickletools.genops(base64.b64decode(encoded, validate=True)):
            pass
    except (binascii.Error, ValueError, TypeError) as error:
        raise SessionStateError(
            f"{str(path)!r}: the saved value of {name!r} cannot be unpickled ({error}). {_FIX}"
        ) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SessionStateError(f"Cannot read {str(path)!r}: {error}. {_FIX}") from None
