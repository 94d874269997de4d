"""The agent runtime inside one Pyodide interpreter.

One interpreter (one Web Worker) hosts many agents. Each agent is a namespace of its own; each code
step runs as an asyncio task, so agents' steps interleave wherever one of them awaits (a child
agent, a sleep). worker.ts imports this module once after restoring the interpreter snapshot and
registers the JS module `_rlm_host` it calls back into.
"""

import asyncio
import builtins
import contextvars
import io
import sys
import traceback
from json import dumps as _json_dumps
from json import loads as _json_loads

import _rlm_host
from pyodide.code import eval_code_async

# Agents share this interpreter's modules and may monkeypatch them; the runtime holds its own
# references, taken at import, to everything it depends on.
_create_task = asyncio.ensure_future
_gather = asyncio.gather
_format_exception_only = traceback.format_exception_only
_extract_tb = traceback.extract_tb
_format_list = traceback.format_list

AGENT_FILENAME_PREFIX = "<agent "
OUTPUT_CAP_CHARS = 1_000_000


class LLMQueryError(Exception):
    """A child agent failed; the message says why (budget, depth, model error, ...)."""


class _FinalCalled(BaseException):
    """Ends the current step once FINAL has recorded its value."""


class _StepRecord:
    __slots__ = ("agent_id", "stdout", "stderr", "stdout_chars", "stderr_chars", "final_json", "final_error")

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.stdout_chars = 0
        self.stderr_chars = 0
        self.final_json: str | None = None
        self.final_error: str | None = None


_current_step: contextvars.ContextVar[_StepRecord | None] = contextvars.ContextVar("rlm_step", default=None)


class _StreamRouter(io.TextIOBase):
    """sys.stdout / sys.stderr for every agent: writes go to the step running in the current task.

    contextlib.redirect_stdout around an awaited step would send one agent's prints to another
    agent; a ContextVar follows the task instead.
    """

    def __init__(self, stream_name: str) -> None:
        self._stream_name = stream_name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        step = _current_step.get()
        if step is None:
            return len(text)  # output outside any step (e.g. a stray task) is dropped, never leaked
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        attribute = self._stream_name
        chars = getattr(step, attribute + "_chars")
        if chars < OUTPUT_CAP_CHARS:
            kept = text[: OUTPUT_CAP_CHARS - chars]
            getattr(step, attribute).append(kept)
            if len(kept) < len(text):
                getattr(step, attribute).append(f"\n[output beyond {OUTPUT_CAP_CHARS} characters dropped]\n")
        setattr(step, attribute + "_chars", chars + len(text))
        return len(text)

    def flush(self) -> None:
        pass


_stdout_router = _StreamRouter("stdout")
_stderr_router = _StreamRouter("stderr")


def _install_routers() -> None:
    sys.stdout = _stdout_router
    sys.stderr = _stderr_router


_pristine_builtins = dict(builtins.__dict__)
_namespaces: dict[str, dict] = {}


def _make_llm_query(agent_id: str):
    async def llm_query(data, instruction=None, schema=None, tools=None, model=None):
        """Start a child agent on `data` (its `context`) and return its FINAL value."""
        payload = _json_dumps(
            {"data": data, "instruction": instruction, "schema": schema, "tools": tools, "model": model},
            default=repr,
        )
        reply = _json_loads(await _rlm_host.llm_query(agent_id, payload))
        if reply["ok"]:
            return reply["value"]
        raise LLMQueryError(f"{reply['error']['type']}: {reply['error']['message']}")

    return llm_query


def _make_batch_llm_query(llm_query):
    async def batch_llm_query(*calls, return_exceptions=False):
        """Run several llm_query calls at once; results come back in order.

        Takes llm_query(...) calls, or plain data items (each becomes llm_query(item)), either as
        separate arguments or as one list.
        """
        if len(calls) == 1 and isinstance(calls[0], (list, tuple)):
            calls = tuple(calls[0])
        awaitables = [call if asyncio.iscoroutine(call) else llm_query(call) for call in calls]
        return list(await _gather(*awaitables, return_exceptions=return_exceptions))

    return batch_llm_query


def _final(value=None):
    """Finish this agent with `value` (any JSON value, None included)."""
    step = _current_step.get()
    if step is None:
        raise RuntimeError("FINAL can only be called from a code step")
    if step.final_json is not None:
        raise RuntimeError("FINAL was already called in this step; its first value stands")
    try:
        step.final_json = _json_dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"FINAL needs a JSON value (str, number, bool, None, list, dict); got {type(value).__name__}: {error}"
        ) from None
    raise _FinalCalled()


def create_agent(agent_id: str, context_bytes, context_is_text: bool) -> None:
    """Make the agent's namespace, with `context` decoded from the transferred bytes."""
    raw = context_bytes.to_bytes()
    text = raw.decode("utf-8")
    context = text if context_is_text else _json_loads(text)
    llm_query = _make_llm_query(agent_id)
    _namespaces[agent_id] = {
        "__name__": "__main__",
        "__builtins__": dict(_pristine_builtins),
        "context": context,
        "llm_query": llm_query,
        "batch_llm_query": _make_batch_llm_query(llm_query),
        "FINAL": _final,
        "LLMQueryError": LLMQueryError,
    }


def drop_agent(agent_id: str) -> None:
    _namespaces.pop(agent_id, None)


def _agent_traceback(error: BaseException) -> str:
    """The traceback limited to the agent's own frames: engine frames are noise to the model."""
    frames = [frame for frame in _extract_tb(error.__traceback__) if frame.filename.startswith(AGENT_FILENAME_PREFIX)]
    lines = ["Traceback (most recent call last):\n", *_format_list(frames)] if frames else []
    lines += _format_exception_only(type(error), error)
    return "".join(lines).rstrip()


async def _run_step(agent_id: str, step_number: int, code: str) -> dict:
    namespace = _namespaces[agent_id]
    step = _StepRecord(agent_id)
    _current_step.set(step)  # the task runs in a copy of the context, so this is task-local
    error_text = None
    try:
        value = await eval_code_async(code, namespace, filename=f"<agent {agent_id} step {step_number}>")
        if value is not None:
            print(repr(value))
    except _FinalCalled:
        pass
    except SyntaxError as error:
        error_text = "".join(_format_exception_only(type(error), error)).rstrip()
    except BaseException as error:  # KeyboardInterrupt and SystemExit must not escape into the event loop
        error_text = _agent_traceback(error)
    finally:
        if sys.stdout is not _stdout_router or sys.stderr is not _stderr_router:
            _install_routers()  # an agent replaced sys.stdout; repair it for every agent on this worker
    return {
        "stdout": "".join(step.stdout),
        "stderr": "".join(step.stderr),
        "error": error_text,
        "final_json": step.final_json,
    }


def start_step(step_id: str, agent_id: str, step_number: int, code: str) -> None:
    """Called by worker.ts: schedule the step and report its result through _rlm_host.step_done."""
    task = _create_task(_run_step(agent_id, step_number, code))

    def report(finished_task) -> None:
        try:
            result = finished_task.result()
        except BaseException as error:  # the task itself was cancelled or the runtime failed
            result = {"stdout": "", "stderr": "", "error": f"step aborted: {error!r}", "final_json": None}
        _rlm_host.step_done(step_id, _json_dumps(result))

    task.add_done_callback(report)


_install_routers()
