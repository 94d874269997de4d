"""Reads a run's JSONL log robustly and cheaply, for the stats command and the viewer.

`LogIndex.open(path)` streams the file once. It keeps per-agent counters and the byte offset of
every agent's event lines, never the large texts (prompts, completions, code, output): those are
read back from disk for one agent at a time (`agent_turns`). So a 100 MB log costs a few MB of
memory, and `refresh()` picks up lines appended since (a run still being written).

What the file cannot be trusted to hold is reported as `notices` instead of raised: a truncated
last line, lines that are not JSON, unknown event types (kept as `UnknownEvent`), a run with no
`run_end` (crashed or still running), an empty file.
"""

from __future__ import annotations

import bisect
import json
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fast_rlm.errors import LogFileError
from fast_rlm.events import (
    LOG_SCHEMA_VERSION,
    AgentEnd,
    AgentStart,
    CodeStep,
    ErrorInfo,
    EventFormatError,
    HostCall,
    LlmCall,
    LlmRetry,
    LogEvent,
    RunEnd,
    RunStart,
    UnknownEvent,
    parse_event_json,
)
from fast_rlm.watch.agent_tally import AgentTally

MAX_STORED_NOTICES = 50
ACTIVITY_LLM, ACTIVITY_CODE = 0, 1

# "cancelled" and "unfinished": still working when the run was cancelled, or ended otherwise (the
# engine writes no agent_end for them).
AgentStatus = Literal["running", "done", "failed", "cancelled", "unfinished"]


@dataclass(frozen=True)
class Notice:
    """Something about the log a reader should know: where (line number, 1-based) and what."""

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass(frozen=True)
class ErrorLocation:
    """A failed code step or a failed agent, for "jump to the next error"."""

    agent_id: str
    offset: int
    summary: str


@dataclass(frozen=True)
class SearchHit:
    agent_id: str
    offset: int


@dataclass
class AgentRecord(AgentTally):
    """What the index keeps about one agent: identity, its tally (AgentTally) and where its lines are."""

    agent_id: str
    parent_id: str | None
    depth: int
    model: str | None = None
    named_agent: str | None = None  # the name it was started under (run(agents=...)), if any
    role: str | None = None  # planner mode: "plan", "subtask", "execute" or "synthesis"
    instruction: str | None = None
    context_preview: str = ""
    context_chars: int = 0
    start_ts: float | None = None
    end_ts: float | None = None
    duration_s: float | None = None  # from agent_end: None while it has not finished
    last_ts: float | None = None
    status: AgentStatus = "running"
    error: ErrorInfo | None = None
    end_offset: int | None = None
    children: list[str] = field(default_factory=list)
    # Byte offsets of this agent's llm_call, llm_retry, code_step, host_call and unknown lines, in
    # file order.
    event_offsets: array = field(default_factory=lambda: array("q"))
    # (start_ts, end_ts, ACTIVITY_LLM | ACTIVITY_CODE) triples, flattened: what the timeline draws.
    activity: array = field(default_factory=lambda: array("d"))

    @property
    def model_label(self) -> str:
        """Its model, after the named agent it was started as and its planner-mode role:
        "subtask · researcher · openai/gpt-5"."""
        parts = [self.role, self.named_agent, self.model or "?"]
        return " · ".join(part for part in parts if part is not None)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def activity_spans(self) -> Iterator[tuple[float, float, int]]:
        values = self.activity
        for position in range(0, len(values), 3):
            yield values[position], values[position + 1], int(values[position + 2])


@dataclass
class Turn:
    """One round of an agent's loop: the retries and answer of model call `number`, the code steps
    that ran the answer's code blocks, one per block in order (none when the answer had no block or
    the run stopped) and the host functions that code called."""

    number: int
    retries: list[LlmRetry] = field(default_factory=list)
    call: LlmCall | None = None
    steps: list[CodeStep] = field(default_factory=list)
    host_calls: list[HostCall] = field(default_factory=list)  # made by the step's code
    unknown: list[UnknownEvent] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


@dataclass
class LogUpdate:
    """What one `refresh()` read."""

    new_events: int = 0
    new_agents: list[str] = field(default_factory=list)
    changed_agents: set[str] = field(default_factory=set)


def agent_sort_key(agent_id: str) -> tuple[Any, ...]:
    """root.2 before root.10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in agent_id.split("."))


def parent_of(agent_id: str) -> str | None:
    return agent_id.rsplit(".", 1)[0] if "." in agent_id else None


class LogIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_start: RunStart | None = None
        self.run_end: RunEnd | None = None
        self.agents: dict[str, AgentRecord] = {}
        self.root_ids: list[str] = []
        self.errors: list[ErrorLocation] = []
        self.event_count = 0
        self.line_count = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.consumed_bytes = 0
        self._stored_notices: list[Notice] = []
        self._suppressed_notices = 0
        self._unknown_types: dict[str, tuple[int, int]] = {}  # type -> (first line, count)
        self._other_versions: dict[int, int] = {}  # schema version -> first line
        self._partial_tail: tuple[int, bytes] | None = None  # (line number, first bytes)
        self._shrank = False

    @classmethod
    def open(cls, path: str | Path) -> LogIndex:
        """Index the log at `path`. Raises LogFileError if it cannot be read at all, or if it has lines
        but no run_start and no agent's event: some other file."""
        log_path = Path(path)
        if not log_path.exists():
            raise LogFileError(
                f"No log file at {str(log_path)!r}. Pass the path of a run's .jsonl log "
                "(run() returns it as result['log_file']; by default logs are under ./logs)."
            )
        if log_path.is_dir():
            newest = sorted(log_path.glob("*.jsonl"), key=lambda candidate: candidate.stat().st_mtime)
            hint = f" The newest log there is {str(newest[-1])!r}." if newest else ""
            raise LogFileError(f"{str(log_path)!r} is a directory, not a log file.{hint}")
        index = cls(log_path)
        index.refresh()
        if index.line_count and index.run_start is None and not index.agents:
            raise LogFileError(
                f"{str(log_path)!r} is not a fast-rlm log: none of its {index.line_count:,} lines is a "
                "run's event. Pass the .jsonl file a run wrote (run() returns it as result['log_file'])."
            )
        return index

    # Reading -----------------------------------------------------------------------------------

    def refresh(self) -> LogUpdate:
        """Read the lines appended since the last call. A last line without its newline is read only
        if it is complete JSON; otherwise it is left for the next call (the writer may be mid-line)."""
        update = LogUpdate()
        try:
            size = self.path.stat().st_size
            if size < self.consumed_bytes:
                self._shrank = True
                return update
            with self.path.open("rb") as handle:
                handle.seek(self.consumed_bytes)
                line_number = self.line_count
                for raw_line in handle:
                    line_number += 1
                    complete = raw_line.endswith(b"\n")
                    if not raw_line.strip():
                        if not complete:
                            break
                        self._consume(raw_line, line_number)
                        continue
                    try:
                        event = parse_event_json(raw_line)
                    except EventFormatError as problem:
                        if not complete:
                            self._partial_tail = (line_number, raw_line[:80])
                            break
                        self._consume(raw_line, line_number)
                        self._notice(f"skipped: {problem}", line_number)
                        continue
                    offset = self.consumed_bytes
                    self._consume(raw_line, line_number)
                    self._apply(event, offset, line_number, update)
        except OSError as error:
            raise LogFileError(f"Cannot read the log {str(self.path)!r}: {error}.") from None
        return update

    def _consume(self, raw_line: bytes, line_number: int) -> None:
        self.consumed_bytes += len(raw_line)
        self.line_count = line_number
        self._partial_tail = None

    def _notice(self, message: str, line: int | None = None) -> None:
        if len(self._stored_notices) < MAX_STORED_NOTICES:
            self._stored_notices.append(Notice(message, line))
        else:
            self._suppressed_notices += 1

    def _agent(self, agent_id: str, line: int, update: LogUpdate) -> AgentRecord:
        record = self.agents.get(agent_id)
        if record is None:
            # An event before its agent_start: the head of the log is missing or damaged.
            self._notice(f"events of agent {agent_id} appear before its agent_start", line)
            record = self._add_agent(agent_id, parent_of(agent_id), agent_id.count("."), update)
        return record

    def _add_agent(self, agent_id: str, parent_id: str | None, depth: int, update: LogUpdate) -> AgentRecord:
        record = AgentRecord(agent_id=agent_id, parent_id=parent_id, depth=depth)
        self.agents[agent_id] = record
        update.new_agents.append(agent_id)
        siblings = self.agents[parent_id].children if parent_id in self.agents else self.root_ids
        bisect.insort(siblings, agent_id, key=agent_sort_key)
        return record

    def _apply(self, event: LogEvent, offset: int, line: int, update: LogUpdate) -> None:
        self.event_count += 1
        update.new_events += 1
        ts = event.ts
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
        if isinstance(event, UnknownEvent):
            first_line, count = self._unknown_types.get(event.event, (line, 0))
            self._unknown_types[event.event] = (first_line, count + 1)
            if event.agent_id is not None:
                record = self._agent(event.agent_id, line, update)
                record.event_offsets.append(offset)
                update.changed_agents.add(record.agent_id)
            return
        if event.v != LOG_SCHEMA_VERSION and event.v not in self._other_versions:
            self._other_versions[event.v] = line
        if isinstance(event, RunStart):
            if self.run_start is not None:
                self._notice("a second run_start: two runs were written to one file", line)
            self.run_start = event
            return
        if isinstance(event, RunEnd):
            self.run_end = event
            stopped_status = "cancelled" if event.status == "cancelled" else "unfinished"
            for record in self.agents.values():
                if record.status == "running":
                    record.status = stopped_status
                    update.changed_agents.add(record.agent_id)
            return
        if isinstance(event, AgentStart):
            record = self.agents.get(event.agent_id) or self._add_agent(
                event.agent_id, event.parent_id, event.depth, update
            )
            record.model = event.model
            record.named_agent = event.agent
            record.role = event.role
            record.instruction = event.instruction
            record.context_preview = event.context_preview
            record.context_chars = event.context_chars
            record.start_ts = event.ts
            record.last_ts = event.ts
            update.changed_agents.add(record.agent_id)
            return
        record = self._agent(event.agent_id, line, update)
        record.last_ts = event.ts
        update.changed_agents.add(record.agent_id)
        if isinstance(event, AgentEnd):
            record.status = event.status
            record.end_ts = event.ts
            record.duration_s = event.duration_s
            record.end_offset = offset
            record.error = event.error
            if event.status == "failed":
                reason = f"{event.error.type}: {event.error.message}" if event.error else "failed"
                self.errors.append(ErrorLocation(event.agent_id, offset, f"agent failed: {reason}"))
            return
        record.event_offsets.append(offset)
        record.count(event)
        if isinstance(event, LlmCall):
            record.activity.extend((event.ts - event.duration_s, event.ts, ACTIVITY_LLM))
        elif isinstance(event, HostCall):
            if not event.ok:
                reason = f"{event.error.type}: {event.error.message}" if event.error else "failed"
                self.errors.append(
                    ErrorLocation(event.agent_id, offset, f"host function {event.name}: {reason}")
                )
        elif isinstance(event, CodeStep):
            record.activity.extend((event.ts - event.duration_s, event.ts, ACTIVITY_CODE))
            if event.error:
                lines = event.error.strip().splitlines()
                last_line = lines[-1] if lines else event.error
                self.errors.append(ErrorLocation(event.agent_id, offset, f"step {event.step}: {last_line}"))

    # What the file says about itself ----------------------------------------------------------

    @property
    def notices(self) -> list[Notice]:
        found = list(self._stored_notices)
        if self._suppressed_notices:
            found.append(Notice(f"{self._suppressed_notices} more problems like the ones above"))
        for kind, (first_line, count) in self._unknown_types.items():
            found.append(
                Notice(
                    f"unknown event type {kind!r} ({count} line{'s' if count != 1 else ''}): "
                    "written by a newer fast-rlm? Shown raw, not counted in the stats",
                    first_line,
                )
            )
        for version, first_line in self._other_versions.items():
            found.append(
                Notice(
                    f"log schema version {version}; this reader knows version {LOG_SCHEMA_VERSION}",
                    first_line,
                )
            )
        if self._partial_tail is not None:
            line, start = self._partial_tail
            found.append(
                Notice(
                    f"the last line is incomplete (the writer stopped mid-line): "
                    f"{start.decode('utf-8', 'replace')!r}…; ignored",
                    line,
                )
            )
        if self._shrank:
            found.append(Notice("the file shrank since it was read (rewritten?); open it again"))
        if self.line_count == 0 and self._partial_tail is None:
            found.append(Notice("the log is empty: the run wrote nothing (did it start?)"))
        elif self.event_count == 0:
            found.append(Notice("the log holds no readable events"))
        else:
            if self.run_start is None:
                found.append(Notice("no run_start: the beginning of the log is missing"))
            if self.run_end is None:
                running = sum(1 for record in self.agents.values() if record.status == "running")
                found.append(
                    Notice(
                        "no run_end: the run crashed or is still being written"
                        + (
                            f"; {running} agent{'s' if running != 1 else ''} never finished"
                            if running
                            else ""
                        )
                    )
                )
        return found

    # Reading back one agent -------------------------------------------------------------------

    def read_event_at(self, offset: int) -> LogEvent:
        return self._read_events([offset])[0][1]

    def agent_events(self, agent_id: str) -> list[tuple[int, LogEvent]]:
        """(offset, event) of the agent's llm_call, llm_retry, code_step, host_call and unknown lines."""
        return self._read_events(self.agents[agent_id].event_offsets)

    def _read_events(self, offsets: Iterable[int]) -> list[tuple[int, LogEvent]]:
        """Reads back indexed lines. Raises LogFileError if the file no longer holds them."""
        events = []
        try:
            with self.path.open("rb") as handle:
                for offset in offsets:
                    handle.seek(offset)
                    events.append((offset, parse_event_json(handle.readline())))
        except OSError as error:
            raise LogFileError(f"Cannot read the log {str(self.path)!r}: {error}.") from None
        except EventFormatError:
            raise LogFileError(
                f"The log {str(self.path)!r} changed since it was read (rewritten?); open it again."
            ) from None
        return events

    def agent_turns(self, agent_id: str) -> list[Turn]:
        return group_turns(self.agent_events(agent_id))

    def agent_end_event(self, agent_id: str) -> AgentEnd | None:
        offset = self.agents[agent_id].end_offset
        if offset is None:
            return None
        event = self.read_event_at(offset)
        return event if isinstance(event, AgentEnd) else None

    def tree_order(self) -> list[str]:
        """Every agent id, depth first, children in number order."""
        ordered: list[str] = []
        pending = list(reversed(self.root_ids))
        while pending:
            agent_id = pending.pop()
            ordered.append(agent_id)
            pending.extend(reversed(self.agents[agent_id].children))
        return ordered

    def search(self, text: str) -> list[SearchHit]:
        """Lines of agents whose texts (not the JSON keys) contain `text`, case-insensitive."""
        needle = text.lower()
        if not needle:
            return []
        # A quote or newline in the needle is escaped in the raw line; look for both spellings.
        raw_needles = {
            needle.encode(),
            json.dumps(needle, ensure_ascii=False)[1:-1].encode(),
            json.dumps(needle)[1:-1].encode(),
        }
        try:
            return self._search(needle, raw_needles)
        except OSError as error:
            raise LogFileError(f"Cannot read the log {str(self.path)!r}: {error}.") from None

    def _search(self, needle: str, raw_needles: set[bytes]) -> list[SearchHit]:
        hits: list[SearchHit] = []
        offset = 0
        with self.path.open("rb") as handle:
            for raw_line in handle:
                line_offset, offset = offset, offset + len(raw_line)
                if offset > self.consumed_bytes:
                    break
                lowered = raw_line.lower()
                if not any(candidate in lowered for candidate in raw_needles):
                    continue
                try:
                    event = parse_event_json(raw_line)
                except EventFormatError:
                    continue
                agent_id = getattr(event, "agent_id", None)
                if agent_id in self.agents and _values_contain(event_values(event), needle):
                    hits.append(SearchHit(agent_id, line_offset))
        return hits


def event_values(event: LogEvent) -> Any:
    return (
        event.raw
        if isinstance(event, UnknownEvent)
        else event.model_dump(exclude={"v", "ts", "run_id", "event"})
    )


def _values_contain(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value.lower()
    if isinstance(value, dict):
        return any(_values_contain(item, needle) for item in value.values())
    if isinstance(value, list):
        return any(_values_contain(item, needle) for item in value)
    return needle in str(value).lower()


def group_turns(events: list[tuple[int, LogEvent]]) -> list[Turn]:
    """Groups one agent's events, in file order, into turns (see Turn)."""
    turns: list[Turn] = []
    for offset, event in events:
        current = turns[-1] if turns else None
        if isinstance(event, LlmRetry):
            if current is None or current.number != event.call or current.call is not None:
                current = Turn(event.call)
                turns.append(current)
            current.retries.append(event)
        elif isinstance(event, LlmCall):
            if current is None or current.number != event.call or current.call is not None:
                current = Turn(event.call)
                turns.append(current)
            current.call = event
        elif isinstance(event, CodeStep):
            # A reply's blocks run one after another, each logged as a step after the call.
            if current is None or current.call is None and current.steps:
                current = Turn(current.number + 1 if current else 1)
                turns.append(current)
            current.steps.append(event)
        elif isinstance(event, HostCall):
            # Logged while a step runs, so after the call and before that step's own line.
            if current is None:
                current = Turn(1)
                turns.append(current)
            current.host_calls.append(event)
        elif isinstance(event, UnknownEvent):
            if current is None:
                current = Turn(0)
                turns.append(current)
            current.unknown.append(event)
        else:
            continue
        current.offsets.append(offset)
    return turns
