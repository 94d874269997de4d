"""The agent runtime inside one Pyodide interpreter.

One interpreter (the Pyodide worker of a REPL process) hosts many agents. Each agent is a namespace
of its own; each code step runs as an asyncio task, so agents' steps interleave wherever one of them
awaits (a child agent, a sleep). worker.ts imports this module once after restoring the interpreter
snapshot. It hands each agent its own channel to the engine (create_agent) and each step its own
reporter (start_step); no module of the interpreter exposes them.
"""

import asyncio
import builtins
import contextvars
import io
import os
import signal
import sys
import time
import traceback
from json import dumps as _json_dumps
from json import loads as _json_loads

from pyodide.ffi import can_run_sync, run_sync

from _rlm_llm_query_arguments import NOT_GIVEN, LlmQueryCall, child_request
from _rlm_ready_queue import ReadyQueue
from _rlm_step_code import run_step_code

# Agents share this interpreter's modules and may monkeypatch them; the runtime holds its own
# references, taken at import, to everything it depends on.
_create_task = asyncio.ensure_future
_gather = asyncio.gather
_format_exception_only = traceback.format_exception_only
_extract_tb = traceback.extract_tb
_format_list = traceback.format_list

AGENT_FILENAME_PREFIX = "<agent "
OUTPUT_CAP_CHARS = 1_000_000
BYTES_PER_MB = 1024 * 1024


class LLMQueryError(Exception):
    """A child agent failed; the message says why (budget, depth, model error, ...)."""


LLMQueryError.__module__ = "builtins"  # tracebacks shown to the model name it plainly


class _FinalCalled(BaseException):
    """Ends the current step once FINAL has recorded its value."""


class StepTimedOut(BaseException):
    """Raised into a step that ran past step_timeout_s. A BaseException, so `except Exception` in agent
    code does not swallow it."""


StepTimedOut.__module__ = "builtins"


class _StepRecord:
    __slots__ = (
        "step_id",
        "agent_id",
        "stdout",
        "stderr",
        "stdout_chars",
        "stderr_chars",
        "final_json",
        "timed_out",
        "interrupts",
        "sleep_future",
        "finished",
        "spawned_tasks",
    )

    def __init__(self, step_id: int, agent_id: str) -> None:
        self.step_id = step_id
        self.agent_id = agent_id
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.stdout_chars = 0
        self.stderr_chars = 0
        self.final_json: str | None = None
        self.timed_out = False
        self.interrupts = 0
        self.sleep_future: asyncio.Future | None = None
        self.finished = False
        self.spawned_tasks: list[asyncio.Task] = []  # tasks its code started, cancelled when it ends


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


_pristine_builtins = dict(builtins.__dict__)
_namespaces: dict[str, dict] = {}


class EngineRequestError(Exception):
    """A request to the engine (host function, MCP call, ...) failed; the message says why."""


EngineRequestError.__module__ = "builtins"

# Set once by configure(): the largest FINAL value or request payload, as JSON, in bytes.
_max_value_bytes = [64 * BYTES_PER_MB]


def _within_value_cap(text: str, what: str, error_class: type[Exception]) -> str:
    """`text` (JSON) itself, or error_class when it is over max_value_mb: the engine would refuse it."""
    if len(text) > _max_value_bytes[0]:
        size_mb = len(text) / BYTES_PER_MB
        limit_mb = _max_value_bytes[0] / BYTES_PER_MB
        raise error_class(
            f"{what} is {size_mb:.1f} MB as JSON, over max_value_mb={limit_mb:g}. Pass or return something "
            "smaller (a summary, an index, a slice), or raise max_value_mb in the config."
        )
    return text


def _reply_value(reply_json: str, error_class: type[Exception]):
    reply = _json_loads(reply_json)
    if reply["ok"]:
        return reply["value"]
    raise error_class(f"{reply['error']['type']}: {reply['error']['message']}")


async def engine_request(channel, kind: str, payload, error_class: type[Exception] = EngineRequestError):
    """Ask the engine for something on behalf of the agent `channel` belongs to; returns the value."""
    return await _send_json(channel, kind, _json_dumps(payload, default=repr), error_class)


async def _send_json(channel, kind: str, payload_json: str, error_class: type[Exception]):
    payload_json = _within_value_cap(payload_json, f"the {kind} request", error_class)
    return _reply_value(await channel.request(kind, payload_json), error_class)


def engine_request_sync(channel, kind: str, payload, error_class: type[Exception] = EngineRequestError):
    """engine_request for plain (non-async) functions: suspends the step through JSPI."""
    if not can_run_sync():
        raise RuntimeError("this function must be called from a code step")
    payload_json = _within_value_cap(_json_dumps(payload, default=repr), f"the {kind} request", error_class)
    return _reply_value(run_sync(channel.request(kind, payload_json)), error_class)


def _make_llm_query(channel, known_agents: list):
    # llm_query's closure cells are its free variables ordered by name: `channel` comes first, and
    # tests/compat/test_llm_query_compat.py reaches it as llm_query.__closure__[0] to forge a request
    # past these checks. A new free variable must sort after "channel".
    def llm_query(
        data,
        *instruction_or_schema,
        instruction=NOT_GIVEN,
        schema=NOT_GIVEN,
        tools=NOT_GIVEN,
        mcp_servers=NOT_GIVEN,
        mcp=NOT_GIVEN,
        model=None,
        agent=None,
        images=None,
        llm_kwargs=None,
    ):
        """Start a helper agent on `data` (its `context`); await the result for its FINAL value.

        llm_query(data, "instruction"), llm_query(data, schema) and llm_query(data, "instruction",
        schema) all work. schema: the shape the helper must answer in (a JSON Schema dict, or
        int/str/float/bool/list/dict, list[X], ...); tools: your functions (or their names) it may use;
        mcp_servers (or mcp): names of your MCP servers it may use; model: another model for it;
        agent: the name of a named agent to start; images: bytes or data URLs shown to its model;
        llm_kwargs: provider options for its model calls (temperature, max_tokens, ..., extra_body).
        """
        # Checked here, at the call, so a mistake raises where it was made, before anything is sent.
        call = LlmQueryCall(
            data=data,
            positional=instruction_or_schema,
            instruction=instruction,
            schema=schema,
            tools=tools,
            mcp_servers=mcp_servers,
            mcp=mcp,
            model=model,
            agent=agent,
            images=images,
            llm_kwargs=llm_kwargs,
        )
        request = child_request(call, known_agents)
        try:
            request_json = _json_dumps(request, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(
                "llm_query: data must be JSON-like (str, int, float, bool, None, list, dict with str keys), "
                f"as the helper's `context` is: {error}. Convert it first (e.g. list(a_set), str(an_object))."
            ) from None
        return _send_json(channel, "llm_query", request_json, LLMQueryError)

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
        final_json = _json_dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"FINAL needs a JSON value (str, number, bool, None, list, dict); got {type(value).__name__}: {error}"
        ) from None
    step.final_json = _within_value_cap(final_json, "the FINAL value", ValueError)
    raise _FinalCalled()


def _make_final_var(namespace: dict):
    def FINAL_VAR(name):
        """Finish this agent with the value of the REPL variable called `name` (a string)."""
        if not isinstance(name, str):
            raise TypeError(
                f"FINAL_VAR takes a variable's name as a string, like FINAL_VAR('answer'); got "
                f"{type(name).__name__}. To finish with a value, call FINAL(value)."
            )
        if name not in namespace:
            raise NameError(
                f"FINAL_VAR({name!r}): there is no variable {name!r} in the REPL. Assign it first, "
                "or call FINAL(value) with the value itself."
            )
        _final(namespace[name])

    return FINAL_VAR


# What an agent gets beyond the basics (tools, host functions, MCP servers) is installed into its
# namespace by functions that other runtime modules register here, one per key of the agent's setup.
_setup_installers: dict = {}
# Setup keys whose module is imported when an agent first needs it, not when the process starts:
# session_state.py imports pickle and ast, a fifth of a second in a REPL process, for session runs only.
_SETUP_MODULES_IMPORTED_ON_USE = {"session": "_rlm_session_state"}


def register_setup_installer(key: str, install) -> None:
    """install(channel, namespace, value) puts setup[key] into a new agent's namespace; `channel` is
    the agent's line to the engine, for engine_request."""
    _setup_installers[key] = install


# A session's root keeps its namespace across queries: after each step its keeper (session_state.py)
# turns the namespace into data that goes out with the step's outcome. Keyed by namespace identity,
# since installers see the namespace, not the agent id.
_session_keepers: dict[int, object] = {}


def register_session_keeper(namespace: dict, keeper) -> None:
    """keeper.note_code(code) sees each step's code first; keeper.save(namespace) returns the state."""
    _session_keepers[id(namespace)] = keeper


def create_agent(agent_id: str, context_bytes, context_is_text: bool, setup_json: str, channel) -> None:
    """Make the agent's namespace, with `context` decoded from the sent bytes."""
    # One copy from JS memory into a preallocated buffer, then one decode: cheaper than to_bytes()
    # for contexts of hundreds of MB.
    buffer = bytearray(context_bytes.length)
    context_bytes.assign_to(buffer)
    text = buffer.decode("utf-8")
    del buffer
    context = text if context_is_text else _json_loads(text)
    setup = _json_loads(setup_json)
    # Not installed like the rest: llm_query itself checks agent= against these names.
    llm_query = _make_llm_query(channel, setup.pop("agent_names", []))
    namespace = {
        "__name__": "__main__",
        "__builtins__": dict(_pristine_builtins),
        "context": context,
        "llm_query": llm_query,
        "batch_llm_query": _make_batch_llm_query(llm_query),
        "FINAL": _final,
        "LLMQueryError": LLMQueryError,
    }
    namespace["FINAL_VAR"] = _make_final_var(namespace)
    for key, value in setup.items():
        if key not in _setup_installers and key in _SETUP_MODULES_IMPORTED_ON_USE:
            __import__(_SETUP_MODULES_IMPORTED_ON_USE[key])  # it registers its installer
        _setup_installers[key](channel, namespace, value)
    _namespaces[agent_id] = namespace


def current_step_id() -> int:
    """The step whose code is running (0: none); worker.ts tags its HTTP requests with it."""
    step = _current_step.get()
    return 0 if step is None else step.step_id


def set_environment(variables_json: str) -> None:
    """The run's env_variables, visible to every agent through os.environ."""
    os.environ.update(_json_loads(variables_json))


def drop_agent(agent_id: str) -> None:
    namespace = _namespaces.pop(agent_id, None)
    if namespace is not None:
        _session_keepers.pop(id(namespace), None)


def forget_modules(names: list[str]) -> None:
    """Called by worker.ts once set up: modules agent code must not import (Pyodide's JS API)."""
    for name in names:
        sys.modules.pop(name, None)


def _agent_traceback(error: BaseException) -> str:
    """The traceback limited to the agent's own frames: engine frames are noise to the model."""
    frames = [
        frame
        for frame in _extract_tb(error.__traceback__)
        if frame.filename.startswith(AGENT_FILENAME_PREFIX)
    ]
    lines = ["Traceback (most recent call last):\n", *_format_list(frames)] if frames else []
    lines += _format_exception_only(type(error), error)
    return "".join(lines).rstrip()


# ---- step timeouts -------------------------------------------------------------------------------
# The supervisor interrupts the worker (SIGINT through the interrupt buffer) when an overdue step
# holds it. The interrupt may land anywhere, so it raises only inside agent code, and only in the
# step the engine named or in work a finished step left behind; elsewhere (engine code, another
# agent's step) it is ignored. Code that swallows the exception gets a second interrupt, and from
# then on every line of it raises (sys.monitoring: a sys.settrace tracer that raises is dropped by
# CPython after the first time).

_MONITORING_TOOL = 5
LEFTOVER_WORK = -1  # doomed "step id": agent code running outside any live step
_timeout_message = ["step timed out"]
_is_overdue = [lambda step_id: False]  # reads the control block's overdue cells; set by configure()
_doomed_step_id = [0]
_leftover_interrupts = [0]
_steps_by_id: dict[int, _StepRecord] = {}
_tasks_by_step_id: dict[int, asyncio.Task] = {}


def _is_agent_code(code) -> bool:
    return code.co_filename.startswith(AGENT_FILENAME_PREFIX)


def _agent_code_on_stack(frame) -> bool:
    while frame is not None:
        if _is_agent_code(frame.f_code):
            return True
        frame = frame.f_back
    return False


def _is_leftover(step: _StepRecord | None) -> bool:
    return step is None or step.finished


def _raise_in_doomed_step(code, *_event_args):
    if not _is_agent_code(code):
        return sys.monitoring.DISABLE
    step = _current_step.get()
    doomed = _doomed_step_id[0]
    if (doomed == LEFTOVER_WORK and _is_leftover(step)) or (step is not None and step.step_id == doomed):
        raise StepTimedOut(_timeout_message[0])
    return None


sys.monitoring.use_tool_id(_MONITORING_TOOL, "rlm-step-timeout")
sys.monitoring.register_callback(_MONITORING_TOOL, sys.monitoring.events.LINE, _raise_in_doomed_step)
sys.monitoring.register_callback(_MONITORING_TOOL, sys.monitoring.events.JUMP, _raise_in_doomed_step)


def _doom(step_id: int) -> None:
    _doomed_step_id[0] = step_id
    sys.monitoring.set_events(_MONITORING_TOOL, sys.monitoring.events.LINE | sys.monitoring.events.JUMP)


def _undoom(step_id: int) -> None:
    if _doomed_step_id[0] == step_id:
        _doomed_step_id[0] = 0
        sys.monitoring.set_events(_MONITORING_TOOL, 0)
        sys.monitoring.restart_events()


def _on_interrupt(signum, frame) -> None:
    if not _agent_code_on_stack(frame):
        return
    step = _current_step.get()
    if _is_leftover(step):
        # A task or callback that outlived its step holds the worker: the supervisor only interrupts
        # when some step is overdue, so this work is what keeps it waiting.
        _leftover_interrupts[0] += 1
        if _leftover_interrupts[0] >= 2:
            _doom(LEFTOVER_WORK)
        raise StepTimedOut("work left running after its step ended was stopped")
    if not _is_overdue[0](step.step_id):
        return
    step.interrupts += 1
    if step.interrupts >= 2:
        _doom(step.step_id)
    raise StepTimedOut(_timeout_message[0])


def configure(timeout_message: str, max_value_bytes: int, is_overdue, request_run, flush_messages) -> None:
    """Called once by worker.ts: what an agent is told when its step times out, the largest value
    (max_value_mb), a function telling whether the supervisor wants a step stopped, one that asks
    for a run_ready() call on a later macrotask, and one that sends the messages waiting to go."""
    _timeout_message[0] = timeout_message
    _max_value_bytes[0] = max_value_bytes
    _is_overdue[0] = is_overdue
    _ready_queue[0] = ReadyQueue(_loop, request_run, flush_messages)
    _install_guards()


def run_ready() -> None:
    """Called by worker.ts when asked to (ready_queue.py): runs the event loop's queued callbacks."""
    _ready_queue[0].run_ready()


def cancel_step(step_id: int) -> None:
    """Called by worker.ts when a step is overdue but the worker is free: it is awaiting something."""
    step = _steps_by_id.get(step_id)
    task = _tasks_by_step_id.get(step_id)
    if step is None or task is None:
        return
    step.timed_out = True
    if step.sleep_future is not None:
        # A JSPI-suspended time.sleep wakes only through its own future; cancelling the task as well
        # would discard the step's result when it returns.
        step.sleep_future.cancel()
    else:
        task.cancel(_timeout_message[0])


def _interruptible_sleep(seconds: float) -> None:
    """time.sleep for agents: suspends only the calling step (JSPI) and can be cancelled at once."""
    step = _current_step.get()
    if step is None or not can_run_sync():
        return _original_sleep(seconds)
    future = _create_task(asyncio.sleep(seconds))
    step.sleep_future = future
    try:
        run_sync(future)
    finally:
        step.sleep_future = None


_original_sleep = time.sleep


_loop = asyncio.get_event_loop()
_loop_create_task = _loop.create_task
_ready_queue: list[ReadyQueue | None] = [None]  # made by configure()


def _create_recorded_task(coroutine, **options):
    """loop.create_task for everyone: a task records the step whose code started it, so the step can
    cancel what it leaves running. (WebLoop's set_task_factory path is broken in this Pyodide.)"""
    task = _loop_create_task(coroutine, **options)
    step = _current_step.get()
    if step is not None and not step.finished:
        step.spawned_tasks.append(task)
    return task


def _cancel_leftovers(step: _StepRecord) -> None:
    step.finished = True
    for task in step.spawned_tasks:
        if not task.done():
            task.cancel("its step ended")
    step.spawned_tasks.clear()


def _install_guards() -> None:
    """Puts back what every agent relies on, in case an agent replaced it."""
    sys.stdout = _stdout_router
    sys.stderr = _stderr_router
    time.sleep = _interruptible_sleep
    signal.signal(signal.SIGINT, _on_interrupt)
    _loop.create_task = _create_recorded_task
    if _ready_queue[0] is not None:
        _loop.call_soon = _ready_queue[0].call_soon


async def _run_step(step_id: int, agent_id: str, step_number: int, code: str, reporter) -> None:
    reporter.started()  # posted at once: the engine learns it even if this step then hangs
    # This step got the worker, so no left-behind work holds it any more.
    _undoom(LEFTOVER_WORK)
    _leftover_interrupts[0] = 0
    namespace = _namespaces[agent_id]
    step = _StepRecord(step_id, agent_id)
    _steps_by_id[step_id] = step
    _current_step.set(step)  # the task runs in a copy of the context, so this is task-local
    error_text = None
    keeper = _session_keepers.get(id(namespace))
    if keeper is not None:
        keeper.note_code(code)
    try:
        value = await run_step_code(code, namespace, f"<agent {agent_id} step {step_number}>")
        if value is not None:
            print(repr(value))
    except _FinalCalled:
        pass
    except SyntaxError as error:
        error_text = "".join(_format_exception_only(type(error), error)).rstrip()
    except BaseException as error:  # KeyboardInterrupt and SystemExit must not escape into the event loop
        error_text = _agent_traceback(error)
    finally:
        _undoom(step_id)
        _steps_by_id.pop(step_id, None)
        _cancel_leftovers(step)
        _install_guards()
    if step.timed_out and step.final_json is None:
        error_text = f"StepTimedOut: {_timeout_message[0]}"
    outcome = {
        "stdout": "".join(step.stdout),
        "stderr": "".join(step.stderr),
        "error": error_text,
        "final_json": step.final_json,
    }
    if keeper is not None:
        try:
            outcome["session_state"] = keeper.save(namespace)
        except Exception as error:  # the step's own outcome still counts; this step's state is not saved
            outcome["stderr"] += f"\n[session state not saved: {type(error).__name__}: {error}]\n"
    # Reported here, not from a done-callback: callbacks run on a later loop turn, and another step
    # may hold the worker by then.
    reporter.done(_json_dumps(outcome))


def start_step(step_id: int, agent_id: str, step_number: int, code: str, reporter) -> None:
    """Called by worker.ts: schedule the step; `reporter` (this step's own) takes its outcome."""
    task = _create_task(_run_step(step_id, agent_id, step_number, code, reporter))
    _tasks_by_step_id[step_id] = task

    def report_abort(finished_task) -> None:
        _tasks_by_step_id.pop(step_id, None)
        if finished_task.cancelled() or finished_task.exception() is not None:
            # The step never reached its own report (cancelled before it began, or the runtime failed).
            error = "cancelled" if finished_task.cancelled() else repr(finished_task.exception())
            outcome = {"stdout": "", "stderr": "", "error": f"step aborted: {error}", "final_json": None}
            reporter.done(_json_dumps(outcome))

    task.add_done_callback(report_abort)


_install_guards()
