"""The timeline view: one row per agent (tree order), its lifetime over the run's time, with model
calls and code steps drawn on top. Rows are drawn as they scroll into view (Textual's line API),
so a run with many agents costs only the rows on screen.

The first line stays put: the engine's start and the gaps in which nothing ran, labelled with their
lengths (fast_rlm/logs/timeline.py).
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fast_rlm.logs.reader import ACTIVITY_LLM, LogIndex
from fast_rlm.logs.stats import format_duration
from fast_rlm.logs.timeline import RunTimeline, run_timeline
from fast_rlm.watch.terminal_text import printable

LABEL_WIDTH = 24
LIFETIME, LLM, CODE, EMPTY = "─", "█", "▆", " "
ENGINE_START, GAP = "▒", "┄"
HEADER_LINES = 1  # the line of the engine start and gaps, above the agents' rows
STATUS_COLOURS = {
    "done": "green",
    "failed": "red",
    "running": "yellow",
    "cancelled": "dark_orange",
    "unfinished": "grey50",
}
LLM_STYLE = Style(color="dodger_blue1")
CODE_STYLE = Style(color="magenta")
ENGINE_STYLE = Style(color="grey50")
GAP_STYLE = Style(color="grey50", italic=True)


class Timeline(ScrollView, can_focus=True):
    """Up/down move the cursor row; Enter (or a click) opens that agent's steps."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("enter", "choose", "Open agent"),
    ]
    COMPONENT_CLASSES = {"timeline--cursor"}
    DEFAULT_CSS = """
    Timeline { overflow-x: hidden; }
    Timeline > .timeline--cursor { background: $accent 40%; }
    """

    cursor_row = reactive(0)

    class AgentChosen(Message):
        def __init__(self, agent_id: str) -> None:
            super().__init__()
            self.agent_id = agent_id

    def __init__(self, index: LogIndex, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.rows: list[str] = []
        self.time_axis: RunTimeline = run_timeline(index)

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Rows and time scale from the index (after it read more lines)."""
        self.rows = self.index.tree_order()
        # Rows fit the width: no sideways scrolling.
        self.virtual_size = Size(0, len(self.rows) + HEADER_LINES)
        self.time_axis = run_timeline(self.index)
        self.border_title = f"timeline: run start 0 → {self.time_axis.duration_s:.2f} s"
        self.border_subtitle = (
            f"{LLM} model call  {CODE} code step  {LIFETIME} alive  {ENGINE_START} engine starting  "
            f"{GAP} nothing running"
        )
        self.refresh()

    def select_agent(self, agent_id: str) -> None:
        if agent_id in self.rows:
            self.cursor_row = self.rows.index(agent_id)

    def watch_cursor_row(self, previous: int, current: int) -> None:
        for row in (previous, current):
            self.refresh_line(row + HEADER_LINES)
        self._keep_visible(current)

    def _keep_visible(self, row: int) -> None:
        top = self.scroll_offset.y
        visible_rows = max(self.size.height - HEADER_LINES, 1)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + visible_rows:
            self.scroll_to(y=row - visible_rows + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            self.cursor_row = min(max(self.cursor_row + delta, 0), len(self.rows) - 1)

    def action_choose(self) -> None:
        if self.rows:
            self.post_message(self.AgentChosen(self.rows[self.cursor_row]))

    def on_click(self, event: events.Click) -> None:
        row = event.y - HEADER_LINES + self.scroll_offset.y
        if event.y >= HEADER_LINES and 0 <= row < len(self.rows):
            self.cursor_row = row
            self.action_choose()

    def _cell_of(self, ts: float, chart_width: int) -> int:
        axis = self.time_axis
        return min(max(int((ts - axis.start) / axis.duration_s * chart_width), 0), chart_width - 1)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width <= 0:
            return Strip.blank(width, self.rich_style)
        if y < HEADER_LINES:
            return self._header_line(width)
        row = y - HEADER_LINES + self.scroll_offset.y
        if row >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        record = self.index.agents[self.rows[row]]
        # Segments go to the terminal as they are: the agent id, read from the log, is made printable.
        label = ("  " * record.depth + printable(record.agent_id))[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH)
        chart_width = max(width - LABEL_WIDTH, 1)
        start, end = self.time_axis.start, self.time_axis.end

        def cell_of(ts: float) -> int:
            return self._cell_of(ts, chart_width)

        cells = [EMPTY] * chart_width
        alive_from = cell_of(record.start_ts if record.start_ts is not None else start)
        alive_to = cell_of(record.end_ts if record.end_ts is not None else end)
        for cell in range(alive_from, alive_to + 1):
            cells[cell] = LIFETIME
        for span_start, span_end, kind in record.activity_spans():
            mark = LLM if kind == ACTIVITY_LLM else CODE
            for cell in range(cell_of(span_start), cell_of(span_end) + 1):
                if cells[cell] != LLM:  # a model call wins a cell it shares with a step
                    cells[cell] = mark
        base = self.rich_style
        if row == self.cursor_row:
            base = base + self.get_component_rich_style("timeline--cursor")
        lifetime_style = base + Style(color=STATUS_COLOURS[record.status])
        styles = {LIFETIME: lifetime_style, LLM: base + LLM_STYLE, CODE: base + CODE_STYLE, EMPTY: base}
        segments = [Segment(label, base + Style(bold=record.depth == 0))]
        segments += _runs_of(cells, styles)
        return Strip(segments).crop(0, width)

    def _header_line(self, width: int) -> Strip:
        """The engine's start, then each gap: its cells, with its length written over them where it fits."""
        axis = self.time_axis
        chart_width = max(width - LABEL_WIDTH, 1)
        cells = [EMPTY] * chart_width
        engine = axis.engine_start
        label = f"engine start {format_duration(engine.duration_s)}" if engine is not None else ""
        if engine is not None:
            for cell in range(
                self._cell_of(engine.start, chart_width), self._cell_of(engine.end, chart_width)
            ):
                cells[cell] = ENGINE_START
        for gap in axis.gaps:
            first, last = self._cell_of(gap.start, chart_width), self._cell_of(gap.end, chart_width)
            for cell in range(first, last + 1):
                cells[cell] = GAP
            words = f" {format_duration(gap.duration_s)} idle "
            if len(words) > last - first + 1:
                words = f"{gap.duration_s:.1f}s"
            if len(words) <= last - first + 1:
                middle = first + (last - first + 1 - len(words)) // 2
                cells[middle : middle + len(words)] = list(words)
        base = self.rich_style
        styles = {ENGINE_START: base + ENGINE_STYLE, GAP: base + GAP_STYLE}
        segments = [Segment(label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH), base + ENGINE_STYLE)]
        segments += _runs_of(cells, styles, base + GAP_STYLE)
        return Strip(segments).crop(0, width)


def _runs_of(cells: list[str], styles: dict[str, Style], other_style: Style | None = None) -> list[Segment]:
    """One segment per run of cells of one style (a character not in `styles` takes `other_style`)."""
    segments = []

    def style_of(cell: str) -> Style:
        return styles.get(cell, other_style or Style())

    run_start = 0
    for position in range(1, len(cells) + 1):
        if position == len(cells) or style_of(cells[position]) != style_of(cells[run_start]):
            segments.append(Segment("".join(cells[run_start:position]), style_of(cells[run_start])))
            run_start = position
    return segments
