"""OpenTelemetry traces of runs, built on the host from the engine's event stream.

Each run is one trace: a span per agent (a child agent's span under its parent's), and under each
agent a span per model call (GenAI semantic conventions), per code step and per host call. Events
carry when they happened, and a finished call or step its duration, so every span gets its true
start and end times even though it is emitted when its event arrives.

Nothing here imports opentelemetry until tracing is asked for: a `tracer_provider=` argument, or the
standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT environment variables.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any

from fast_rlm.errors import ConfigTypeError
from fast_rlm.events import (
    AgentEnd,
    AgentStart,
    CodeStep,
    EventFormatError,
    HostCall,
    LlmCall,
    LogEvent,
    RunEnd,
    RunStart,
    parse_event_json,
)

INSTRUMENTATION_NAME = "fast_rlm"
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
OTEL_EXTRA_HINT = 'pip install "fast-rlm[otel]"'
_NANOSECONDS_PER_SECOND = 1_000_000_000

_environment_provider: Any = None
_environment_provider_lock = threading.Lock()
_missing_package_warned = False


def _nanoseconds(seconds: float) -> int:
    return int(seconds * _NANOSECONDS_PER_SECOND)


def resolve_tracer_provider(tracer_provider: Any) -> Any:
    """The TracerProvider a run reports to, or None for no tracing.

    `tracer_provider`: a TracerProvider; False for no tracing whatever the environment says; None
    to follow the environment (an OTLP endpoint variable set: the global provider the application
    installed, else one made here exporting over OTLP)."""
    if tracer_provider is False:
        return None
    if tracer_provider is not None:
        if not callable(getattr(tracer_provider, "get_tracer", None)):
            raise ConfigTypeError(
                f"tracer_provider must be an OpenTelemetry TracerProvider (or False), not "
                f"{type(tracer_provider).__name__}. Make one with opentelemetry.sdk.trace.TracerProvider()."
            )
        return tracer_provider
    if not any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES):
        return None
    return _provider_from_environment()


def _provider_from_environment() -> Any:
    """Made once per process. A missing package is warned about once, and runs go on untraced: an
    endpoint variable in the environment may well be meant for another program."""
    global _environment_provider, _missing_package_warned
    with _environment_provider_lock:
        if _environment_provider is not None:
            return _environment_provider
        try:
            _environment_provider = _make_environment_provider()
        except ImportError as error:
            if not _missing_package_warned:
                _missing_package_warned = True
                warnings.warn(
                    f"An OTLP endpoint is set in the environment, but fast-rlm cannot export traces: "
                    f"{error.name or error} is not installed. Install it with {OTEL_EXTRA_HINT}; runs go "
                    "on untraced meanwhile.",
                    RuntimeWarning,
                    stacklevel=4,
                )
            return None
        return _environment_provider


def _make_environment_provider() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # An application that set up OpenTelemetry itself gets the spans in its own pipeline.
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):
        return installed
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    # The exporter reads the endpoint, headers and timeout from the standard variables; the provider
    # flushes what is still batched when the process exits.
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class RunTracer:
    """Turns one run's events, in log order, into spans reported to `tracer_provider`."""

    def __init__(self, tracer_provider: Any) -> None:
        self._tracer = tracer_provider.get_tracer(INSTRUMENTATION_NAME)
        self._run_attributes: dict[str, Any] = {}
        self._agent_spans: dict[str, Any] = {}  # open spans of agents, by agent id
        self._root_span: Any = None

    def show(self, event: LogEvent) -> None:
        if isinstance(event, RunStart):
            self._run_attributes = {"fast_rlm.run_id": event.run_id}
        elif isinstance(event, AgentStart):
            self._start_agent(event)
        elif isinstance(event, LlmCall):
            self._model_call(event)
        elif isinstance(event, CodeStep):
            self._code_step(event)
        elif isinstance(event, HostCall):
            self._host_call(event)
        elif isinstance(event, AgentEnd):
            self._end_agent(event)
        elif isinstance(event, RunEnd):
            self._end_run(event)

    def _start_agent(self, event: AgentStart) -> None:
        from opentelemetry import trace

        parent = self._agent_spans.get(event.parent_id) if event.parent_id else None
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self._tracer.start_span(
            f"invoke_agent {event.agent_id}",
            context=context,
            kind=trace.SpanKind.INTERNAL,
            start_time=_nanoseconds(event.ts),
            attributes={
                **self._run_attributes,
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.id": event.agent_id,
                "gen_ai.agent.name": event.agent_id,
                "gen_ai.request.model": event.model,
                "fast_rlm.depth": event.depth,
                "fast_rlm.context_type": event.context_type,
                "fast_rlm.context_chars": event.context_chars,
            },
        )
        self._agent_spans[event.agent_id] = span
        if event.parent_id is None:
            self._root_span = span

    def _child_span(self, agent_id: str, name: str, event_ts: float, duration_s: float, **attributes: Any):
        """A span under the agent's that ended at `event_ts` after `duration_s`; the caller ends it."""
        from opentelemetry import trace

        parent = self._agent_spans.get(agent_id)
        return self._tracer.start_span(
            name,
            context=trace.set_span_in_context(parent) if parent is not None else None,
            kind=attributes.pop("kind", trace.SpanKind.INTERNAL),
            start_time=_nanoseconds(event_ts - duration_s),
            attributes={**self._run_attributes, "gen_ai.agent.id": agent_id, **attributes},
        )

    def _model_call(self, event: LlmCall) -> None:
        from opentelemetry import trace

        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": event.model,
            "gen_ai.response.model": event.model,
            "gen_ai.usage.input_tokens": event.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": event.usage.completion_tokens,
            "fast_rlm.call": event.call,
            "fast_rlm.attempts": event.attempts,
        }
        if event.usage.cached_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = event.usage.cached_tokens
        if event.usage.reasoning_tokens:
            attributes["gen_ai.usage.reasoning.output_tokens"] = event.usage.reasoning_tokens
        if event.usage.cost is not None:  # not in the conventions yet; the name tracing tools read
            attributes["gen_ai.usage.cost"] = event.usage.cost
        span = self._child_span(
            event.agent_id,
            f"chat {event.model}",
            event.ts,
            event.duration_s,
            kind=trace.SpanKind.CLIENT,
            **attributes,
        )
        span.end(end_time=_nanoseconds(event.ts))

    def _code_step(self, event: CodeStep) -> None:
        span = self._child_span(
            event.agent_id,
            f"code_step {event.agent_id} {event.step}",
            event.ts,
            event.duration_s,
            **{"fast_rlm.step": event.step, "fast_rlm.final": event.final},
        )
        if event.error is not None:
            _set_error(span, "CodeError", event.error)
        span.end(end_time=_nanoseconds(event.ts))

    def _host_call(self, event: HostCall) -> None:
        span = self._child_span(
            event.agent_id,
            f"execute_tool {event.name}",
            event.ts,
            event.duration_s,
            **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": event.name},
        )
        if event.error is not None:
            _set_error(span, event.error.type, event.error.message)
        span.end(end_time=_nanoseconds(event.ts))

    def _end_agent(self, event: AgentEnd) -> None:
        span = self._agent_spans.pop(event.agent_id, None)
        if span is None:
            return
        span.set_attribute("fast_rlm.llm_calls", event.llm_calls)
        if event.error is not None:
            _set_error(span, event.error.type, event.error.message)
        if span is self._root_span:  # ended at run_end, with the run's totals
            self._agent_spans[event.agent_id] = span
            return
        span.end(end_time=_nanoseconds(event.ts))

    def _end_run(self, event: RunEnd) -> None:
        """Every span still open ends here: the run's, and any an engine failure left open."""
        for agent_id, span in reversed(list(self._agent_spans.items())):
            if span is self._root_span:
                continue
            _set_error(span, "RunEnded", f"the run ended ({event.status}) before agent {agent_id} did")
            span.end(end_time=_nanoseconds(event.ts))
        if self._root_span is not None:
            usage = event.usage
            self._root_span.set_attributes(
                {
                    "fast_rlm.status": event.status,
                    "gen_ai.usage.input_tokens": usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": usage.completion_tokens,
                    "fast_rlm.llm_calls": usage.llm_calls,
                    "fast_rlm.agents": usage.agents,
                }
            )
            if usage.cost is not None:
                self._root_span.set_attribute("gen_ai.usage.cost", usage.cost)
            if event.error is not None:
                _set_error(self._root_span, event.error.type, event.error.message)
            self._root_span.end(end_time=_nanoseconds(event.ts))
        self._agent_spans.clear()
        self._root_span = None


def _set_error(span: Any, error_type: str, message: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message[:500]))


def trace_log_file(log_file: str | Path, tracer_provider: Any) -> None:
    """Reports a finished run's spans from its log, as they would have been reported live (used for
    runs that happened in another process, such as a Ray worker's)."""
    tracer = RunTracer(tracer_provider)
    with Path(log_file).open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    tracer.show(parse_event_json(line))
                except EventFormatError:
                    continue  # a line this version cannot read has no span
