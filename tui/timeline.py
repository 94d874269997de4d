"""The timeline view: one row per agent (tree order), its lifetime over the run's time, with model
calls and code steps drawn on top. Rows are drawn as they scroll into view (Textual's line API),
so a run with many agents costs only the rows on screen."""

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
from fast_rlm.watch.terminal_text import printable

LABEL_WIDTH = 24
LIFETIME, LLM, CODE, EMPTY = "─", "█", "▆", " "
STATUS_COLOURS = {"done": "green", "failed": "red", "running": "yellow", "unfinished": "grey50"}
LLM_STYLE = Style(color="dodger_blue1")
CODE_STYLE = Style(color="magenta")


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

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Rows and time scale from the index (after it read more lines)."""
        self.rows = self.index.tree_order()
        self.virtual_size = Size(0, len(self.rows))  # rows fit the width: no sideways scrolling
        start, end = self._time_span()
        self.border_title = (
            f"timeline: 0 → {end - start:.2f} s · {LLM} model call  {CODE} code step  {LIFETIME} alive"
        )
        self.refresh()

    def select_agent(self, agent_id: str) -> None:
        if agent_id in self.rows:
            self.cursor_row = self.rows.index(agent_id)

    def _time_span(self) -> tuple[float, float]:
        start = self.index.first_ts or 0.0
        end = max(self.index.last_ts or start, start + 1e-3)
        return start, end

    def watch_cursor_row(self, previous: int, current: int) -> None:
        self.refresh_line(previous)
        self.refresh_line(current)
        self._keep_visible(current)

    def _keep_visible(self, row: int) -> None:
        top = self.scroll_offset.y
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + self.size.height:
            self.scroll_to(y=row - self.size.height + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            self.cursor_row = min(max(self.cursor_row + delta, 0), len(self.rows) - 1)

    def action_choose(self) -> None:
        if self.rows:
            self.post_message(self.AgentChosen(self.rows[self.cursor_row]))

    def on_click(self, event: events.Click) -> None:
        row = event.y + self.scroll_offset.y
        if 0 <= row < len(self.rows):
            self.cursor_row = row
            self.action_choose()

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        width = self.size.width
        if row >= len(self.rows) or width <= 0:
            return Strip.blank(width, self.rich_style)
        record = self.index.agents[self.rows[row]]
        # Segments go to the terminal as they are: the agent id, read from the log, is made printable.
        label = ("  " * record.depth + printable(record.agent_id))[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH)
        chart_width = max(width - LABEL_WIDTH, 1)
        start, end = self._time_span()
        seconds_per_cell = (end - start) / chart_width

        def cell_of(ts: float) -> int:
            return min(max(int((ts - start) / seconds_per_cell), 0), chart_width - 1)

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
        run_start = 0
        for position in range(1, chart_width + 1):
            if position == chart_width or cells[position] != cells[run_start]:
                segments.append(Segment("".join(cells[run_start:position]), styles[cells[run_start]]))
                run_start = position
        return Strip(segments).crop(0, width)
