"""A session's root namespace as data: saved after every step, restored into the next query's root.

Setup key "session" (see runtime.register_setup_installer): {"state": the last saved state or None,
"history": the earlier queries}. The state keeps, per name: a pickled value, the source of a function
or class the agent defined, or the name of an imported module. What cannot be kept is named in
"dropped" with the reason. Values are pickled one by one, so one that fails costs only itself.

Pickles are made and opened only here, in the sandbox: the host stores them as opaque text.
"""

import ast
import base64
import contextvars
import importlib
import io
import pickle
import reprlib
import types

from _rlm_runtime import register_session_keeper, register_setup_installer

STATE_VERSION = 1
# Names the runtime puts into every namespace: rebuilt by each query, never saved.
_RUNTIME_NAMES = frozenset(
    {
        "__name__",
        "__builtins__",
        "context",
        "llm_query",
        "batch_llm_query",
        "FINAL",
        "FINAL_VAR",
        "LLMQueryError",
    }
)
_PREVIEW_CHARS = 120

# The namespace being pickled or unpickled: REPL-defined functions and classes inside values travel
# by name and are looked up in it.
_active_namespace: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "rlm_session_ns", default=None
)


def namespace_member(name: str):
    """Unpickling: a function or class the agent defined, by name (restored from source first)."""
    namespace = _active_namespace.get()
    if namespace is None or name not in namespace:
        raise pickle.UnpicklingError(f"{name} is not defined in the session")
    return namespace[name]


class _SessionPickler(pickle.Pickler):
    def __init__(self, file, defined: dict) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._defined = defined  # id(object) -> its name, for REPL-defined functions and classes

    def reducer_override(self, obj):
        name = self._defined.get(id(obj))
        if name is not None:
            return namespace_member, (name,)
        return NotImplemented


class SessionKeeper:
    """One session root's record of the code it ran (for the source of what it defines) and its saver."""

    def __init__(self, max_bytes: int, setup_names: set) -> None:
        self._max_bytes = max_bytes
        self._setup_names = setup_names  # tools, host functions...: installed by each query again
        self._definitions: dict[str, str] = {}  # top-level def/class name -> its source, last one wins
        self._carried: dict = {}  # entries of the earlier state not restored: kept until replaced
        # Each name's pickle as the host last got it: an unchanged value is sent as a mark, not again.
        self.sent: dict[str, bytes] = {}

    def note_code(self, code: str) -> None:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                source = ast.get_source_segment(code, node)
                if source is None:
                    continue
                decorators = [ast.get_source_segment(code, d) for d in node.decorator_list]
                prefix = "".join(f"@{d}\n" for d in decorators if d is not None)
                self._definitions[node.name] = prefix + source

    def carry(self, entries: dict) -> None:
        self._carried = dict(entries)

    def save(self, namespace: dict) -> dict:
        """The namespace as a state: {"version", "variables", "functions", "modules", "dropped"}."""
        variables: dict[str, dict] = {}
        functions: dict[str, str] = {}
        modules: dict[str, str] = {}
        dropped: dict[str, str] = {}
        defined: dict[int, str] = {}
        for name, value in namespace.items():
            if name in _RUNTIME_NAMES or name in self._setup_names or name.startswith("__"):
                continue
            if isinstance(value, types.ModuleType):
                modules[name] = value.__name__
            elif self._is_agent_defined(value):
                source = self._definitions.get(name)
                if source is None or getattr(value, "__name__", None) != name:
                    dropped[name] = (
                        "defined in a way whose source is not known (e.g. made by exec or under another name)"
                    )
                else:
                    functions[name] = source
                    defined[id(value)] = name
        size = 0
        token = _active_namespace.set(namespace)
        try:
            for name, value in namespace.items():
                if name in _RUNTIME_NAMES or name in self._setup_names or name.startswith("__"):
                    continue
                if name in modules or name in functions or name in dropped or id(value) in defined:
                    continue
                buffer = io.BytesIO()
                try:
                    _SessionPickler(buffer, defined).dump(value)
                except Exception as error:  # anything a __reduce__ raises: that value is dropped
                    dropped[name] = (
                        f"{type(value).__name__} cannot be pickled ({type(error).__name__}: {error})"[:300]
                    )
                    continue
                data = buffer.getvalue()
                size += len(data)
                if size > self._max_bytes:
                    size -= len(data)
                    dropped[name] = f"{type(value).__name__} of {len(data)} bytes pickled: over max_value_mb"
                    continue
                entry = {"type": type(value).__name__, "preview": _preview(value)}
                if self.sent.get(name) == data:
                    entry["unchanged"] = True
                else:
                    entry["pickle"] = base64.b64encode(data).decode("ascii")
                    self.sent[name] = data
                variables[name] = entry
        finally:
            _active_namespace.reset(token)
        for name in [name for name in self.sent if name not in variables]:
            del self.sent[name]  # gone (or dropped): if it comes back, it is sent in full
        for name, entry in self._carried.items():  # not restored this time, not replaced: kept as it was
            if name not in namespace:
                variables.setdefault(name, entry)
        return {
            "version": STATE_VERSION,
            "variables": variables,
            "functions": functions,
            "modules": modules,
            "dropped": dropped,
        }

    @staticmethod
    def _is_agent_defined(value) -> bool:
        if isinstance(value, types.FunctionType):
            return value.__code__.co_filename.startswith("<agent ")
        if isinstance(value, type):
            return value.__module__ == "__main__"
        return False


_short_repr = reprlib.Repr(maxstring=_PREVIEW_CHARS, maxother=_PREVIEW_CHARS)


def _preview(value) -> str:
    """A bounded repr: a full one of a large value would cost more than its pickle."""
    try:
        text = _short_repr.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "..."


def restore(namespace: dict, state: dict, sent: dict) -> tuple[list[str], dict]:
    """Puts the state into the namespace, noting each restored pickle in `sent`. Returns the names not
    restored, each with why, and the state's entries for variables that failed to unpickle (kept for
    later saves)."""
    problems: list[str] = []
    unrestored: dict = {}
    for name, module_name in state.get("modules", {}).items():
        try:
            namespace[name] = importlib.import_module(module_name)
        except Exception as error:
            problems.append(f"{name} (import {module_name} failed: {type(error).__name__}: {error})")
    for name, source in state.get("functions", {}).items():
        try:
            exec(compile(source, f"<agent session {name}>", "exec"), namespace)
        except Exception as error:
            problems.append(f"{name} (its definition failed: {type(error).__name__}: {error})")
    token = _active_namespace.set(namespace)
    try:
        for name, entry in state.get("variables", {}).items():
            try:
                data = base64.b64decode(entry["pickle"])
                namespace[name] = pickle.loads(data)
                sent[name] = data
            except Exception as error:
                problems.append(f"{name} (could not be unpickled: {type(error).__name__}: {error})")
                unrestored[name] = entry
    finally:
        _active_namespace.reset(token)
    for name, reason in state.get("dropped", {}).items():
        problems.append(f"{name} (not saved: {reason})")
    return problems, unrestored


def _install_session(channel, namespace: dict, setup: dict) -> None:
    setup_names = {name for name in namespace if name not in _RUNTIME_NAMES}
    keeper = SessionKeeper(setup["max_bytes"], setup_names)
    state = setup.get("state")
    problems: list[str] = []
    if state is not None:
        for name, source in state.get("functions", {}).items():
            keeper.note_code(source)
        problems, unrestored = restore(namespace, state, keeper.sent)
        keeper.carry(unrestored)
    namespace["session_history"] = setup.get("history", [])
    namespace["session_unrestored"] = problems
    setup_names.update({"session_history", "session_unrestored"})
    register_session_keeper(namespace, keeper)


register_setup_installer("session", _install_session)
