"""fast_rlm.run(): validate everything, start the engine, return the root agent's answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Unpack

from fast_rlm.config import RLMConfig, resolve_config
from fast_rlm.errors import (
    CancelledError,
    ConfigError,
    ConfigTypeError,
    FastRLMError,
    LLMUnreachableError,
    QueryError,
    QueryTypeError,
)
from fast_rlm.events import CodeStep, ErrorInfo, RunEnd, RunStart, Usage, parse_event
from fast_rlm.host.deno_setup import snapshot_file
from fast_rlm.host.engine_process import EngineRun
from fast_rlm.host.engine_setup import install_engine_dependencies
from fast_rlm.host.host_functions import HostFunctionRunner
from fast_rlm.host.protocol_messages import RunSetup
from fast_rlm.host.python_models import ModelRunner, python_models_of
from fast_rlm.host.setup_progress import SetupProgress
from fast_rlm.inputs.images import run_images
from fast_rlm.inputs.input_file import read_input_file
from fast_rlm.inputs.llm_kwargs import check_llm_kwargs, known_keys_for_engine
from fast_rlm.inputs.mcp_config import plan_mcp_servers
from fast_rlm.inputs.named_agents import named_agent_specs
from fast_rlm.inputs.net_grant import merge_net_grants
from fast_rlm.inputs.output_schema import to_json_schema
from fast_rlm.inputs.providers import models_by_provider
from fast_rlm.inputs.tools import check_unique, host_function_spec, tool_spec
from fast_rlm.replay.inputs import RecordingPlan, replay_plan
from fast_rlm.run_arguments import EventCallback, RunOptions, StepCallback, run_arguments
from fast_rlm.sessions.query import SessionQuery
from fast_rlm.sessions.store import SessionStore, resolve_session_dir
from fast_rlm.watch.progress import ProgressView, open_progress, unpriced_models_notice
from fast_rlm.watch.tracing import RunTracer, resolve_tracer_provider
from fast_rlm.watch.verbosity import SILENT, parse_verbosity

REACHABILITY_TIMEOUT_S = 5.0
DEFAULT_LOG_DIR = "logs"


def run(
    query: str | dict | list | None = None,
    prefix: str | None = None,
    config: RLMConfig | dict[str, Any] | None = None,
    verbose: bool | None = None,
    output_schema: Any = None,
    tools: list[Callable[..., Any]] | None = None,
    env_variables: dict[str, str] | None = None,
    mcp_servers: dict[str, dict[str, Any]] | None = None,
    **options: Unpack[RunOptions],
) -> dict[str, Any]:
    """Answer `query` with a recursive language model.

    The query (or the contents of `input_file`) becomes the variable `context` in the root agent's
    REPL; `instruction` says what to do with it. Returns {"results", "usage", "log_file", "run_id"}.
    Failures raise fast_rlm.errors.FastRLMError subclasses carrying partial results and the log path.
    `on_event` gets every event (fast_rlm.events models, run_end last), `on_step` every CodeStep.
    `llm_kwargs` (temperature, seed, ..., extra_body) go into the body of every model request, root and
    children; `root_llm_kwargs` / `sub_llm_kwargs` add to them for the root's or the helpers' requests
    (fast_rlm/inputs/llm_kwargs.py lists the known keys).
    The first eight parameters may be given by position, in the original fast-rlm's order.
    Ctrl-C cancels the run: every agent stops, the log is closed, and CancelledError is raised.
    """
    arguments = run_arguments(
        query, prefix, config, verbose, output_schema, tools, env_variables, mcp_servers, options
    )
    return prepare_run(arguments).execute()


async def arun(
    query: str | dict | list | None = None,
    prefix: str | None = None,
    config: RLMConfig | dict[str, Any] | None = None,
    verbose: bool | None = None,
    output_schema: Any = None,
    tools: list[Callable[..., Any]] | None = None,
    env_variables: dict[str, str] | None = None,
    mcp_servers: dict[str, dict[str, Any]] | None = None,
    **options: Unpack[RunOptions],
) -> dict[str, Any]:
    """run() for asyncio code. Cancelling the awaiting task cancels the run: the engine stops every
    agent and closes the log before asyncio.CancelledError propagates. Callbacks run in a worker
    thread."""
    arguments = run_arguments(
        query, prefix, config, verbose, output_schema, tools, env_variables, mcp_servers, options
    )
    loop = asyncio.get_running_loop()
    prepared = await loop.run_in_executor(None, prepare_run, arguments)
    execution = loop.run_in_executor(None, prepared.execute)
    try:
        return await asyncio.shield(execution)
    except asyncio.CancelledError:
        prepared.cancel()
        with contextlib.suppress(FastRLMError):
            await execution
        raise


@dataclass
class PreparedRun:
    """A validated run whose engine has not started yet."""

    run_id: str
    log_file: Path
    engine: EngineRun
    verbosity: int
    on_event: EventCallback | None
    on_step: StepCallback | None
    tracer: RunTracer | None = None
    session: SessionQuery | None = None

    def execute(self) -> dict[str, Any]:
        if self.session is None:
            return self._execute()
        self.session.begin(self.run_id, str(self.log_file))
        try:
            result = self._execute()
        except BaseException as error:
            self.session.end(None, error if isinstance(error, Exception) else CancelledError("interrupted"))
            raise
        self.session.end(result, None)
        return result

    def _execute(self) -> dict[str, Any]:
        started = time.monotonic()
        with open_progress(self.verbosity) as progress:
            try:
                outcome = self.engine.execute(lambda event: self._dispatch(event, progress))
            except FastRLMError as error:
                error.log_file = str(self.log_file)
                if not self.engine.saw_run_end:
                    closing = _close_log(self.log_file, self.run_id, error, time.monotonic() - started)
                    self._dispatch(closing, progress)  # listeners see a run_end on every exit path too
                progress.failed(error)
                raise
            result = {
                "results": outcome["results"],
                "usage": outcome["usage"],
                "log_file": str(self.log_file),
                "run_id": self.run_id,
            }
            progress.finished(result)
            return result

    def cancel(self) -> None:
        """Stops the run from another thread; execute() then raises CancelledError."""
        self.engine.cancel()

    def _dispatch(self, raw_event: dict[str, Any], progress: ProgressView) -> None:
        event = parse_event(raw_event)
        if isinstance(event, RunStart) and self.verbosity != SILENT:
            notice = unpriced_models_notice(event)
            if notice is not None:  # a live display shows it above the tree
                print(notice, file=sys.stderr, flush=True)
        progress.show(event)
        if self.session is not None:
            self.session.observe(event)
        if self.tracer is not None:
            self.tracer.show(event)
        if self.on_event is not None:
            _call_listener(self.on_event, "on_event", event)
        if self.on_step is not None and isinstance(event, CodeStep):
            _call_listener(self.on_step, "on_step", event)


def _call_listener(listener: Callable[[Any], object], name: str, event: Any) -> None:
    """A listener's own failure is the caller's bug, not the run's: warned about, and the run (whose
    model calls are already paid for) goes on, as in the original fast-rlm."""
    try:
        listener(event)
    except Exception as error:
        warnings.warn(
            f"The {name} callback raised {type(error).__name__}: {error} (on a {event.event} event); "
            "the run goes on.",
            RuntimeWarning,
            stacklevel=2,
        )


def prepare_run(arguments: dict[str, Any], plan: RecordingPlan | None = None) -> PreparedRun:
    """Everything that can fail before the engine starts fails here, leaving nothing behind.
    `arguments` are run()'s, by name; `plan` (resume, fork) serves an earlier run's replies first."""
    arguments = dict(arguments)
    plan = plan or replay_plan(arguments)
    context, instruction = _resolve_input(
        arguments["query"], arguments["input_file"], arguments["instruction"]
    )
    level = parse_verbosity(arguments["verbosity"], arguments["verbose"])
    mode = _check_mode(arguments["mode"])
    if mode == "decompose" and instruction is None and isinstance(arguments["query"], str):
        instruction = arguments["query"]  # a query given as text is the task its planner splits
    resolved = resolve_config(arguments["config"])
    resolved = _with_net_grant(resolved, arguments["allow_net"])
    if arguments["cache_dir"] is not None:
        resolved = dataclasses.replace(resolved, cache_dir=str(arguments["cache_dir"]))
    _make_cache_dir(resolved.cache_dir)
    python_models, every_agents_model = python_models_of(arguments["models"], arguments["model"])
    if every_agents_model is not None:
        resolved.primary_agent = resolved.sub_agent = every_agents_model
    agents = named_agent_specs(arguments["agents"])
    images = run_images(arguments["images"], resolved.max_value_mb)
    output_schema = to_json_schema(arguments["output_schema"])
    tools = [tool_spec(function) for function in arguments["tools"] or []]
    host_functions = list(arguments["host_functions"] or [])
    host_function_specs = [host_function_spec(function) for function in host_functions]
    check_unique(tools + host_function_specs)
    env_variables = _check_env_variables(arguments["env_variables"])
    mcp = plan_mcp_servers(arguments["mcp_servers"])
    tracer_provider = resolve_tracer_provider(arguments["tracer_provider"])
    access = _model_access(arguments, resolved, agents, python_models, plan)
    session_directory = resolve_session_dir(arguments["session_id"], arguments["session_dir"])
    install_engine_dependencies(progress=SetupProgress.on_stderr() if level != SILENT else None)

    run_id = uuid.uuid4().hex
    default_log_dir = DEFAULT_LOG_DIR if plan is None else Path(plan.recording["log_file"]).parent
    log_file = _new_log_file(Path(arguments["log_dir"] or default_log_dir), arguments["prefix"], run_id)
    session = None
    if session_directory is not None:
        include_code = arguments["add_session_code_to_context"] is not False
        session = SessionQuery(SessionStore.open(session_directory), context, include_code)
    setup = RunSetup(
        run_id=run_id,
        config=resolved.engine_fields(),
        api_key=access.api_key or "",
        anthropic_api_key=access.anthropic_api_key or "",
        instruction=instruction,
        mode=mode,
        log_file=str(log_file),
        snapshot_file=str(snapshot_file()),
        output_schema=output_schema,
        tools=tools,
        host_functions=host_function_specs,
        env_variables=env_variables,
        llm_kwargs=access.llm_kwargs,
        root_llm_kwargs=access.root_llm_kwargs,
        sub_llm_kwargs=access.sub_llm_kwargs,
        llm_kwargs_keys=known_keys_for_engine(),
        mcp_servers=mcp.servers,
        host_models=sorted(python_models),
        agents=agents,
        images=images,
        session=session.engine_session if session is not None else None,
        recording=plan.recording if plan is not None else None,
        lineage=plan.lineage if plan is not None else {},
        # Events cross the pipe only for someone on this side: a live display, a listener, a tracer
        # or a session. Otherwise the engine sends just run_end (the log has every event), which
        # spares a fan-out of 1,000 about 4,000 lines to write, read and parse.
        live_events=(
            level != SILENT
            or arguments["on_event"] is not None
            or arguments["on_step"] is not None
            or tracer_provider is not None
            or session is not None
        ),
    )
    engine = EngineRun(
        setup,
        context,
        log_file,
        net_hosts=[*access.net_hosts, *mcp.net_hosts],
        run_commands=mcp.run_commands,
        host_functions=HostFunctionRunner(host_functions),
        python_models=ModelRunner(python_models),
        on_session_state=session.save_state if session is not None else None,
    )
    return PreparedRun(
        run_id=run_id,
        log_file=log_file,
        engine=engine,
        verbosity=level,
        on_event=arguments["on_event"],
        on_step=arguments["on_step"],
        tracer=RunTracer(tracer_provider) if tracer_provider is not None else None,
        session=session,
    )


@dataclasses.dataclass(frozen=True)
class _ModelAccess:
    """What the engine may use to reach the run's models, each part checked."""

    api_key: str | None
    anthropic_api_key: str | None
    net_hosts: list[str]  # the model endpoints' hosts, reachable
    llm_kwargs: dict[str, Any]
    root_llm_kwargs: dict[str, Any]
    sub_llm_kwargs: dict[str, Any]


def _model_access(
    arguments: dict[str, Any],
    resolved: RLMConfig,
    agents: dict[str, Any],
    python_models: dict[str, Any],
    plan: RecordingPlan | None,
) -> _ModelAccess:
    # Python models run on the host: they need no provider, key, endpoint or network.
    named_models = {agent["model"] for agent in agents.values() if agent["model"] is not None}
    root_models = {resolved.primary_agent} - set(python_models)
    child_models = (resolved.helper_models() | named_models) - set(python_models)
    served = models_by_provider(root_models | child_models)
    providers = set(served)
    # A replay sends nothing: no key, no endpoint, no network.
    live_providers = providers if plan is None or plan.live else set()
    llm_kwargs = check_llm_kwargs(arguments["llm_kwargs"], "llm_kwargs", providers)
    root_llm_kwargs = check_llm_kwargs(
        arguments["root_llm_kwargs"], "root_llm_kwargs", set(models_by_provider(root_models))
    )
    sub_llm_kwargs = check_llm_kwargs(
        arguments["sub_llm_kwargs"], "sub_llm_kwargs", set(models_by_provider(child_models))
    )
    # A provider no configured model uses gets its key only if one is set (an llm_query may name
    # one of its models), and no network access.
    api_key = resolved.resolved_api_key() if "openai" in live_providers else resolved.optional_api_key()
    anthropic_api_key = (
        resolved.resolved_anthropic_api_key(served["anthropic"])
        if "anthropic" in live_providers
        else resolved.optional_anthropic_api_key()
    )
    if plan is not None and not plan.live:
        api_key = anthropic_api_key = None
    model_urls = {
        "openai": (resolved.resolved_base_url(), "base_url / RLM_MODEL_BASE_URL"),
        "anthropic": (resolved.resolved_anthropic_base_url(), "anthropic_base_url / ANTHROPIC_BASE_URL"),
    }
    net_hosts = [_check_reachable(*model_urls[provider]) for provider in sorted(live_providers)]
    return _ModelAccess(api_key, anthropic_api_key, net_hosts, llm_kwargs, root_llm_kwargs, sub_llm_kwargs)


def _make_cache_dir(directory: str | None) -> None:
    if directory is None:
        return
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"Cannot create cache_dir {directory!r}: {error}. "
            "Pass a writable directory, or None for no cache."
        ) from None


def _with_net_grant(config: RLMConfig, allow_net: Any) -> RLMConfig:
    """run(allow_net=[...]) adds hosts to the config's allow_net."""
    try:
        hosts = merge_net_grants(config.allow_net, allow_net)
    except ValueError as error:
        raise ConfigError(f"Bad allow_net passed to run(): {error}.") from None
    return dataclasses.replace(config, allow_net=hosts)


def _check_env_variables(env_variables: Any) -> dict[str, str]:
    if env_variables is None:
        return {}
    if not isinstance(env_variables, dict):
        raise ConfigTypeError("env_variables must be a dict of name -> str value.")
    for name, value in env_variables.items():
        if not isinstance(name, str):
            raise ConfigTypeError(f"env_variables: the name {name!r} is not a str.")
        if not name or "=" in name:
            raise ConfigError(f"env_variables: {name!r} is not a usable variable name.")
        if not isinstance(value, str):
            raise ConfigTypeError(
                f"env_variables[{name!r}] is a {type(value).__name__}; values must be str (use str(...))."
            )
    return dict(env_variables)


RUN_MODES = ("repl", "decompose")


def _check_mode(mode: Any) -> str:
    if mode is None:
        return "repl"
    if mode not in RUN_MODES:
        raise ConfigError(
            f"mode={mode!r} is not a run mode. Use mode='repl' (the default: the root agent works in a "
            "REPL) or mode='decompose' (planner mode: each task is executed or split into sub-tasks)."
        )
    return mode


def _resolve_input(
    query: Any, input_file: str | Path | None, instruction: str | None
) -> tuple[Any, str | None]:
    if input_file is not None:
        context = read_input_file(input_file)
        if query is not None:
            if not isinstance(query, str):
                raise QueryTypeError("With input_file, `query` is the question about it and must be a str.")
            instruction = instruction or query
        query = context
    if query is None:
        raise QueryError("No query: pass a str, dict or list as `query`, or an `input_file`.")
    if not isinstance(query, (str, dict, list)):
        raise QueryTypeError(
            f"The query must be a str, dict or list, not {type(query).__name__}. "
            "Convert it (str(...) or a dict of JSON values) first."
        )
    try:
        if not isinstance(query, str):  # a str is always sendable; a dict or list must hold JSON values
            json.dumps(query, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise QueryError(
            f"The query must hold JSON values only (str, number, bool, None, list, dict): {error}."
        ) from None
    if instruction is not None and not isinstance(instruction, str):
        raise QueryTypeError(f"instruction must be a str, not {type(instruction).__name__}.")
    return query, instruction


def _check_reachable(base_url: str, setting: str = "base_url / RLM_MODEL_BASE_URL") -> str:
    """Fails fast on an endpoint nobody answers at; returns the host:port the engine may reach."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The model endpoint {base_url!r} is not an http(s) URL. Set {setting}.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=REACHABILITY_TIMEOUT_S):
            pass
    except OSError as error:
        raise LLMUnreachableError(
            f"Cannot connect to the model endpoint {base_url} ({error}). Check {setting} and your network."
        ) from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def _new_log_file(log_dir: Path, prefix: str | None, run_id: str) -> Path:
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"Cannot create log_dir {str(log_dir)!r}: {error}. Pass a writable log_dir."
        ) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_file = (log_dir / f"{prefix or 'run'}_{stamp}_{run_id[:8]}.jsonl").resolve()
    log_file.touch()
    return log_file


def _close_log(log_file: Path, run_id: str, error: FastRLMError, duration_s: float) -> dict[str, Any]:
    """The engine died before writing run_end; write it so every log ends with one. Returns it."""
    empty_usage = Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0, llm_calls=0, agents=0)
    closing = RunEnd(
        v=1,
        ts=time.time(),
        run_id=run_id,
        event="run_end",
        status="cancelled" if isinstance(error, CancelledError) else "error",
        error=ErrorInfo(type=type(error).__name__, message=str(error)),
        usage=Usage.model_validate(error.usage) if error.usage else empty_usage,
        duration_s=duration_s,
    ).model_dump(exclude={"results"})  # a failed run has no results; cost stays null
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(closing) + "\n")
    return closing
