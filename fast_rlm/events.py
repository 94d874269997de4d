"""The JSONL log schema, version 1, in Python: mirrors engine/log_events.ts (the one definition).

Every line of a run's log is one event. `parse_event` turns a decoded line into its model; an
event type this version does not know (a newer writer, a hand-edited log) becomes an
`UnknownEvent` that keeps the raw dict instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import ItemsView, KeysView, ValuesView
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

LOG_SCHEMA_VERSION = 1


class _LogModel(BaseModel):
    # A newer writer may add fields; readers of version 1 ignore them rather than fail.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ReadsAsLogLine:
    """Read access to an event as the dict of its log line, for code written against the original
    fast-rlm's dict events: event["agent_id"], "error" in event, event.get("step", 0), event.keys(),
    dict(event). The event stays a typed, frozen model; nested values read as dicts too."""

    def log_line(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.log_line()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.log_line()

    def get(self, key: str, default: Any = None) -> Any:
        return self.log_line().get(key, default)

    def keys(self) -> KeysView[str]:
        return self.log_line().keys()

    def values(self) -> ValuesView[Any]:
        return self.log_line().values()

    def items(self) -> ItemsView[str, Any]:
        return self.log_line().items()


class ErrorInfo(_LogModel):
    type: str
    message: str


class CallUsage(_LogModel):
    """Tokens and cost of one model call. `cost` is None when the provider did not report it.
    `cached_tokens` and `cache_write_tokens` (of the prompt: read from and written to the provider's
    prompt cache) and `reasoning_tokens` (of the completion) are 0 when it reported none, and in logs
    written before they existed."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None


class CapUse(_LogModel):
    """A run-wide cap beside what the run used of it. `limit` None means no cap."""

    limit: int | float | None
    used: int | float


class ModelUsage(_LogModel):
    """One model's share of a run: its answered calls and their tokens; `cost` is None unless each
    of its calls was costed (by the provider or model_prices)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float | None = None


class Usage(_LogModel):
    """Run totals of what the model's replies reported. `cost` is None unless the provider reported it
    for every call. `limits` holds each run-wide cap (max_llm_calls, max_prompt_tokens,
    max_completion_tokens, max_money_spent) beside what was used of it, retried requests included;
    logs written before it existed have none. `cached_tokens`, `cache_write_tokens` and
    `reasoning_tokens` sum those of the calls (0 in logs written before they existed)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    llm_calls: int
    agents: int
    # Calls answered by the response cache (config cache_dir), not in llm_calls; and of llm_calls,
    # those answered by an earlier run's recording (replay, resume, fork). 0 in older logs.
    cache_hits: int = 0
    replayed_calls: int = 0
    cost: float | None = None
    limits: dict[str, CapUse] | None = None
    # Per model the run used (its name as configured, or a Python model's); empty in older logs.
    by_model: dict[str, ModelUsage] = Field(default_factory=dict)


class ImageRecord(_LogModel):
    """An image sent to a model, as the log keeps it: never its bytes."""

    sha256: str
    media_type: str
    bytes: int


class ChatMessage(_LogModel):
    role: str
    content: str  # the text; images are in `images`
    images: list[ImageRecord] = Field(default_factory=list)


class _EventCommon(_ReadsAsLogLine, _LogModel):
    v: int
    ts: float
    run_id: str

    def log_line(self) -> dict[str, Any]:
        """The event as the dict of a log line (fields this version knows, defaults filled in)."""
        return self.model_dump()


class ForkOrigin(_LogModel):
    log: str
    at: str
    step: int


class RunStart(_EventCommon):
    event: Literal["run_start"]
    config: dict[str, Any]
    query_type: str
    query_chars: int
    query_preview: str
    instruction: str | None
    workers: int
    # Models with no model_prices entry while max_money_spent is set: the cap counts only the cost
    # their provider reports after each call.
    unpriced_models: list[str] = Field(default_factory=list)
    # What replay, resume and fork run again (absent in older logs): the query (None when it was
    # over 1 MB as sent; its SHA-256 is always kept), the mode, output schema and provider options.
    query: Any = None
    query_sha256: str | None = None
    mode: str | None = None
    output_schema: Any = None
    llm_kwargs: dict[str, dict[str, Any]] | None = None
    # Lineage: the log this run resumed, or the log, agent and step it was forked from.
    resumed_from: str | None = None
    forked_from: ForkOrigin | None = None


class AgentStart(_EventCommon):
    event: Literal["agent_start"]
    agent_id: str
    parent_id: str | None
    depth: int
    model: str
    agent: str | None = None  # the name it was started under (run(agents=...)), if any
    # Planner mode (run(mode="decompose")) only: "plan", "subtask", "execute" or "synthesis".
    role: Literal["plan", "subtask", "execute", "synthesis"] | None = None
    images: list[ImageRecord] = Field(default_factory=list)  # shown with its first message
    instruction: str | None
    context_type: str
    context_chars: int
    context_preview: str


class LlmCall(_EventCommon):
    """One answered model call. `ts` is when the answer arrived; it started `duration_s` earlier."""

    event: Literal["llm_call"]
    agent_id: str
    call: int
    model: str
    # Messages added since this agent's previous call: the full prompt is the concatenation.
    new_messages: list[ChatMessage]
    completion: str  # what the model said, its reasoning removed
    # The reply's reasoning (reasoning fields, thinking parts, leading <think> blocks), kept out of
    # the conversation; None when it carried none, and in logs written before it existed.
    reasoning: str | None = None
    # As the provider gave it: "length" means the reply was cut at the output token limit.
    finish_reason: str | None = None
    usage: CallUsage
    duration_s: float
    attempts: int  # 0 when no request was sent (cached or replayed)
    cached: bool = False  # answered by the response cache (config cache_dir): it cost nothing
    replayed: bool = False  # answered by an earlier run's recording (replay, resume, fork)


class LlmRetry(_EventCommon):
    event: Literal["llm_retry"]
    agent_id: str
    call: int
    attempt: int
    reason: str
    wait_s: float


class CodeStep(_EventCommon):
    """One code block run in the agent's REPL. `ts` is when it finished."""

    event: Literal["code_step"]
    agent_id: str
    step: int
    code: str | None
    stdout: str
    stderr: str
    error: str | None
    final: bool
    duration_s: float


class PlannedSubtask(_LogModel):
    task: str
    agent: str | None = None  # the named agent it was given to, if any


class Plan(_EventCommon):
    """Planner mode: a planner's validated decision. Its children are the executor (execute), or the
    sub-tasks in order and then the synthesis (recurse)."""

    event: Literal["plan"]
    agent_id: str
    action: Literal["execute", "recurse"]
    reason: str | None = None
    subtasks: list[PlannedSubtask] = Field(default_factory=list)


class HostCall(_EventCommon):
    """A call from agent code to a host function (a tool); logged when it returns."""

    event: Literal["host_call"]
    agent_id: str
    name: str
    ok: bool
    error: ErrorInfo | None = None
    duration_s: float


class AgentEnd(_EventCommon):
    event: Literal["agent_end"]
    agent_id: str
    status: Literal["done", "failed"]
    # FINAL(None) is a result too: whether the key was present is in `model_fields_set`.
    result: Any = None
    error: ErrorInfo | None = None
    llm_calls: int
    duration_s: float


class RunEnd(_EventCommon):
    event: Literal["run_end"]
    status: Literal["ok", "error", "cancelled"]
    results: Any = None
    error: ErrorInfo | None = None
    usage: Usage
    duration_s: float


class UnknownEvent(_ReadsAsLogLine, BaseModel):
    """An event type this reader does not know, kept as written."""

    model_config = ConfigDict(frozen=True)

    event: str
    raw: dict[str, Any]

    def log_line(self) -> dict[str, Any]:
        return dict(self.raw)

    @property
    def agent_id(self) -> str | None:
        agent_id = self.raw.get("agent_id")
        return agent_id if isinstance(agent_id, str) else None

    @property
    def ts(self) -> float | None:
        ts = self.raw.get("ts")
        return float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None


KnownEvent = Annotated[
    RunStart | AgentStart | LlmCall | LlmRetry | CodeStep | Plan | HostCall | AgentEnd | RunEnd,
    Field(discriminator="event"),
]
LogEvent = (
    RunStart | AgentStart | LlmCall | LlmRetry | CodeStep | Plan | HostCall | AgentEnd | RunEnd | UnknownEvent
)

# event name -> its model, e.g. "llm_call" -> LlmCall.
EVENT_MODELS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["event"].annotation)[0]: model
    for model in (RunStart, AgentStart, LlmCall, LlmRetry, CodeStep, Plan, HostCall, AgentEnd, RunEnd)
}
KNOWN_EVENT_TYPES = frozenset(EVENT_MODELS)

_known_event_adapter: TypeAdapter[KnownEvent] = TypeAdapter(KnownEvent)


class EventFormatError(ValueError):
    """A line names a known event type but its fields do not match the schema."""


def parse_event(raw: dict[str, Any]) -> LogEvent:
    """The model of one decoded log line.

    Raises EventFormatError when the line is not an object with a string `event`, or when a known
    event type has missing or mistyped fields.
    """
    if not isinstance(raw, dict):
        raise EventFormatError(f"an event is a JSON object, not {type(raw).__name__}")
    kind = raw.get("event")
    if not isinstance(kind, str):
        raise EventFormatError("the object has no string `event` field")
    if kind not in KNOWN_EVENT_TYPES:
        return UnknownEvent(event=kind, raw=raw)
    try:
        return _known_event_adapter.validate_python(raw)
    except ValidationError as error:
        raise EventFormatError(f"{kind} event: {describe_validation_error(error)}") from None


def parse_event_json(line: str | bytes) -> LogEvent:
    """parse_event for one raw JSONL line; raises EventFormatError when it is not a JSON object."""
    try:
        return _known_event_adapter.validate_json(line)
    except ValidationError:
        pass  # not JSON, an unknown type or bad fields: the slow path below says which
    try:
        raw = json.loads(line)
    except ValueError as error:
        raise EventFormatError(f"not valid JSON ({error})") from None
    return parse_event(raw)


def describe_validation_error(error: ValidationError) -> str:
    problems = []
    for detail in error.errors()[:3]:
        location = ".".join(str(part) for part in detail["loc"][1:]) or "event"
        problems.append(f"{location}: {detail['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
