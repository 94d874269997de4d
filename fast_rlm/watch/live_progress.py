"""The live view of a run in a terminal: the agent tree, each agent's state, steps, tokens, cost
and time, redrawn a few times a second.

Events only update a small state model (constant work per event); rich's refresh thread draws it at
REFRESHES_PER_SECOND, at a cost proportional to the rows shown, so a fan-out of hundreds of
children is not slowed by its own display.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from fast_rlm.events import (
    AgentEnd,
    AgentStart,
    CodeStep,
    HostCall,
    LlmCall,
    LlmRetry,
    LogEvent,
    RunEnd,
    RunStart,
)
from fast_rlm.logs.stats import format_cost, format_count, format_duration
from fast_rlm.watch.agent_tally import AgentTally
from fast_rlm.watch.terminal_text import printable
from fast_rlm.watch.usage_text import counted, format_caps, format_done, format_failed
from fast_rlm.watch.verbosity import FULL

REFRESHES_PER_SECOND = 8
LATEST_LINE_CHARS = 160
# Lines of the terminal kept for the header, the column titles and the line the cursor sits on.
RESERVED_LINES = 4

THINKING = "thinking"
RUNNING_CODE = "running code"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"  # still working when the run was cancelled: it wrote no agent_end
STOPPED = "stopped"  # still working when the run ended with an error

_STATE_STYLES = {
    THINKING: "magenta",
    RUNNING_CODE: "cyan",
    DONE: "green",
    FAILED: "red",
    CANCELLED: "yellow",
    STOPPED: "red",
}
_STATE_GLYPHS = {THINKING: "…", RUNNING_CODE: "▶", DONE: "✓", FAILED: "✗", CANCELLED: "⊘", STOPPED: "■"}
_ACTIVE_STATES = (THINKING, RUNNING_CODE)
_WAITING_STYLE, _WAITING_GLYPH = "yellow", "⧗"
_COLUMNS = ("agent", "state", "steps", "tokens", "cost", "time")
# Columns start this wide so they do not shift at each redraw as states and numbers change.
_MIN_WIDTHS = (8, len("waiting on 10 children"), 5, 7, len("$0.000000"), len("00.00 s"))
_RUN_STATUS_WORDS = {"ok": "done", "error": "failed", "cancelled": "cancelled"}


@dataclass
class AgentProgress(AgentTally):
    """What one agent has done so far, as its events tell: its state, and its tally (AgentTally)."""

    agent_id: str
    parent_id: str | None
    depth: int
    started_ts: float
    state: str = THINKING
    children: list[str] = field(default_factory=list)
    children_running: int = 0
    duration_s: float | None = None
    retry_note: str = ""
    error_type: str = ""
    latest_line: str = ""

    def describe_state(self) -> tuple[str, str, str]:
        """(glyph, words, style) of the agent's state right now."""
        if self.state == RUNNING_CODE and self.children_running:
            noun = "child" if self.children_running == 1 else "children"
            return _WAITING_GLYPH, f"waiting on {self.children_running} {noun}", _WAITING_STYLE
        words = self.state
        if self.state == THINKING and self.retry_note:
            words = f"thinking ({self.retry_note})"
        elif self.state == FAILED and self.error_type:
            words = f"failed: {self.error_type}"
        return _STATE_GLYPHS[self.state], words, _STATE_STYLES[self.state]

    def elapsed_s(self, now: float) -> float:
        return self.duration_s if self.duration_s is not None else max(0.0, now - self.started_ts)


class RunProgress:
    """The state of a run, built from its events in order. Not thread-safe: LiveProgress locks it."""

    def __init__(self) -> None:
        self.agents: dict[str, AgentProgress] = {}
        self.roots: list[str] = []
        self.started_ts: float | None = None
        self.run_end: RunEnd | None = None
        self.totals = AgentTally()  # every agent's events, counted once more for the header
        self.caps = ""  # the run-wide caps in force, from run_start

    def apply(self, event: LogEvent) -> None:
        if self.started_ts is None and getattr(event, "ts", None) is not None:
            self.started_ts = event.ts
        if isinstance(event, RunStart):
            self.caps = format_caps(event.config)
            return
        if isinstance(event, AgentStart):
            self._start_agent(event)
            return
        if isinstance(event, RunEnd):
            self._end_run(event)
            return
        agent = self.agents.get(getattr(event, "agent_id", None) or "")
        if agent is None:
            return
        agent.count(event)
        self.totals.count(event)
        if isinstance(event, LlmCall):
            # The engine runs the reply's code block right away; a reply without one is followed by
            # the next llm_call instead of a code_step.
            agent.state = RUNNING_CODE
            agent.retry_note = ""
        elif isinstance(event, LlmRetry):
            agent.retry_note = f"retry {event.attempt}: {event.reason}"
        elif isinstance(event, CodeStep):
            if not event.final:
                agent.state = THINKING
            agent.latest_line = f"step {event.step}: {_last_line(event.error or event.stdout or event.code)}"
        elif isinstance(event, HostCall):
            outcome = "ok" if event.ok else f"failed: {event.error.type if event.error else 'error'}"
            agent.latest_line = f"{event.name}() {outcome}"
        elif isinstance(event, AgentEnd):
            agent.state = DONE if event.status == "done" else FAILED
            agent.duration_s = event.duration_s
            if event.error is not None:
                agent.error_type = event.error.type
                agent.latest_line = _last_line(event.error.message)
            parent = self.agents.get(agent.parent_id or "")
            if parent is not None and parent.children_running:
                parent.children_running -= 1

    def _end_run(self, event: RunEnd) -> None:
        """Agents still working when the run stopped write no agent_end: the run's end is theirs."""
        self.run_end = event
        if event.status == "ok":
            return
        for agent in self.agents.values():
            if agent.state in _ACTIVE_STATES:
                agent.state = CANCELLED if event.status == "cancelled" else STOPPED
                agent.children_running = 0
                agent.duration_s = max(0.0, event.ts - agent.started_ts)  # its clock stops with the run

    def _start_agent(self, event: AgentStart) -> None:
        self.agents[event.agent_id] = AgentProgress(event.agent_id, event.parent_id, event.depth, event.ts)
        parent = self.agents.get(event.parent_id or "")
        if parent is None:
            self.roots.append(event.agent_id)
        else:
            parent.children.append(event.agent_id)
            parent.children_running += 1

    def elapsed_s(self, now: float) -> float:
        if self.run_end is not None:
            return self.run_end.duration_s
        return 0.0 if self.started_ts is None else max(0.0, now - self.started_ts)


def render_progress(run: RunProgress, level: int, now: float, max_rows: int | None = None) -> RenderableType:
    """The view of `run` at time `now` (Unix seconds): a header of totals, then one row per agent
    (and at FULL a line with its latest code, output or host call). With `max_rows`, finished
    children are folded into one row per parent, then rows past the limit are cut."""
    rows = _visible_rows(run, max_rows)
    # Agent ids, retry reasons, error types and latest lines come from the engine's events, which
    # carry what agent code and models wrote: only rows on screen are made printable, per frame.
    cells = [[(printable(text), style) for text, style in _row_cells(row, now)] for row in rows]
    widths = list(_MIN_WIDTHS)
    for row_cells in cells:
        for column, (text, _) in enumerate(row_cells):
            widths[column] = max(widths[column], len(text))
    # The caps get a line of their own under the totals, which would push them off a narrow terminal.
    caps = [_cropped(Text(f"caps: {run.caps}", style="dim"))] if run.caps else []
    lines = [_header(run, now), *caps, _line([(title, "dim") for title in _COLUMNS], widths)]
    for row, row_cells in zip(rows, cells, strict=True):
        lines.append(_line(row_cells, widths))
        if level == FULL and isinstance(row, AgentProgress) and row.latest_line:
            indent = "  " * (row.depth + 1)
            lines.append(_cropped(Text(f"{indent}│ {printable(row.latest_line)}", style="dim")))
    return Group(*lines)


@dataclass(frozen=True)
class _FoldedRow:
    """Stands for rows not shown: finished children of one parent, or everything past the limit."""

    depth: int
    words: str


def _visible_rows(run: RunProgress, max_rows: int | None) -> list[AgentProgress | _FoldedRow]:
    rows: list[AgentProgress | _FoldedRow] = list(_tree_rows(run, fold_done=False))
    if max_rows is None or len(rows) <= max_rows:
        return rows
    rows = list(_tree_rows(run, fold_done=True))
    if len(rows) > max_rows:
        hidden = len(rows) - (max_rows - 1)
        rows = [*rows[: max_rows - 1], _FoldedRow(0, f"… {hidden} more rows, not shown")]
    return rows


def _tree_rows(run: RunProgress, fold_done: bool) -> Iterator[AgentProgress | _FoldedRow]:
    """The agents depth first; with `fold_done`, each parent's done children become one row."""
    stack = [(agent_id, False) for agent_id in reversed(run.roots)]
    while stack:
        agent_id, is_fold = stack.pop()
        if is_fold:
            parent = run.agents[agent_id]
            done = sum(1 for child in parent.children if run.agents[child].state == DONE)
            yield _FoldedRow(parent.depth + 1, f"✓ {done} done, not shown")
            continue
        agent = run.agents[agent_id]
        yield agent
        children = agent.children
        if fold_done and any(run.agents[child].state == DONE for child in children):
            children = [child for child in children if run.agents[child].state != DONE]
            stack.append((agent_id, True))
        stack.extend((child, False) for child in reversed(children))


def _row_cells(row: AgentProgress | _FoldedRow, now: float) -> list[tuple[str, str]]:
    if isinstance(row, _FoldedRow):
        return [("  " * row.depth + row.words, "dim green"), *[("", "")] * 5]
    glyph, words, style = row.describe_state()
    return [
        ("  " * row.depth + f"{glyph} {row.agent_id}", style),
        (words, style),
        (format_count(row.code_steps), ""),
        (_tokens_cell(row.tokens, row.cached_tokens), ""),
        (format_cost(row.cost) if row.llm_calls else "-", ""),
        (format_duration(row.elapsed_s(now)), ""),
    ]


def _line(cells: list[tuple[str, str]], widths: list[int]) -> Text:
    line = Text()
    for column, ((text, style), width) in enumerate(zip(cells, widths, strict=True)):
        if column:
            line.append("  ")
        # Names and states read from the left, numbers from the right.
        line.append(text.ljust(width) if column < 2 else text.rjust(width), style=style)
    return _cropped(line)


def _header(run: RunProgress, now: float) -> Text:
    """Totals, most telling first: a narrow terminal cuts the end of the line."""
    states = [agent.state for agent in run.agents.values()]
    counts = {
        "active": sum(1 for state in states if state in _ACTIVE_STATES),
        DONE: states.count(DONE),
        FAILED: states.count(FAILED),
        CANCELLED: states.count(CANCELLED),
        STOPPED: states.count(STOPPED),
    }
    status = "running" if run.run_end is None else _RUN_STATUS_WORDS.get(run.run_end.status, "ended")
    header = Text()
    header.append(f"fast-rlm {status}", style="bold")
    header.append(
        f" {format_duration(run.elapsed_s(now))} · cost {format_cost(run.totals.cost)} · "
        f"{_tokens_cell(run.totals.tokens, run.totals.cached_tokens, ' tokens')} · "
        f"{counted(run.totals.llm_calls, 'LLM call')} · {counted(len(states), 'agent')} ("
        + ", ".join(f"{count} {name}" for name, count in counts.items() if count)
        + ")"
    )
    return _cropped(header)


def _tokens_cell(tokens: int, cached: int, noun: str = "") -> str:
    """A token count, with the share read from the prompt cache when the provider reported any."""
    text = f"{format_count(tokens)}{noun}"
    return f"{text} ({cached * 100 // max(tokens, 1)}% cached)" if cached else text


def _cropped(text: Text) -> Text:
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last if len(last) <= LATEST_LINE_CHARS else last[:LATEST_LINE_CHARS] + "…"


class LiveProgress:
    """Draws a RunProgress on a terminal with rich's Live. show() is called from the thread that
    reads the engine; rich redraws from its own thread."""

    def __init__(self, level: int, stream: TextIO) -> None:
        self.level = level
        self.console = Console(file=stream, force_terminal=True, highlight=False)
        self.run = RunProgress()
        self._lock = threading.Lock()
        # Output printed while the display is up goes above it instead of through it. Only stdout that
        # is the same kind of terminal is taken over: piped stdout stays where the user sent it.
        self._live = Live(
            console=self.console,
            get_renderable=self._renderable,
            refresh_per_second=REFRESHES_PER_SECOND,
            redirect_stdout=_is_terminal(sys.stdout),
            redirect_stderr=stream is sys.stderr,
        )

    def start(self) -> None:
        self._live.start()

    def show(self, event: LogEvent) -> None:
        with self._lock:
            self.run.apply(event)

    def finished(self, result: dict[str, Any]) -> None:
        self.close()
        self.console.print(format_done(result), markup=False, soft_wrap=True)

    def failed(self, error: Exception) -> None:
        self.close()
        self.console.print(printable(format_failed(error)), markup=False, soft_wrap=True)

    def close(self) -> None:
        """Draws the last frame and gives the terminal back (cursor shown); safe to call twice."""
        self._live.stop()

    def _renderable(self) -> RenderableType:
        max_rows = max(1, self.console.size.height - RESERVED_LINES - (1 if self.run.caps else 0))
        if self.level == FULL:
            max_rows = max(1, max_rows // 2)
        with self._lock:
            return render_progress(self.run, self.level, time.time(), max_rows)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
