"""The fast-rlm log viewer: agent tree on the left, the selected agent's steps (or the timeline of
all agents) on the right, run totals on top. It reads only the run's JSONL log."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Header, Input, Static, Tree

from fast_rlm.errors import LogFileError
from fast_rlm.logs.reader import LogIndex, SearchHit
from fast_rlm.logs.stats import caps_line, format_totals, lineage, run_totals
from fast_rlm.watch.terminal_text import printable
from tui.agent_tree import AgentTree
from tui.info_screen import InfoScreen
from tui.steps import AgentSteps
from tui.timeline import Timeline

FOLLOW_INTERVAL_S = 0.5
STATUS_BADGES = {"ok": "black on green", "error": "white on red", "cancelled": "black on yellow"}

NAVIGATION_KEYS = [
    ("↑ ↓", "move in the agent tree, the timeline or the steps"),
    ("space", "expand or collapse the agent under the cursor"),
    ("enter", "show the agent's steps; the cursor stays where it is"),
]


class LogViewerApp(App[None]):
    CSS_PATH = "viewer.tcss"
    TITLE = "fast-rlm log"
    BINDINGS = [
        Binding("slash", "start_search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("e", "next_error", "Next error"),
        Binding("E", "previous_error", "Previous error", show=False),
        Binding("f", "toggle_follow", "Follow"),
        Binding("t", "toggle_timeline", "Timeline"),
        Binding("p", "toggle_prompts", "Prompts", tooltip="unfold every prompt; again folds them"),
        # Priority: focusable parts inside the steps (folded prompts) would otherwise take turns.
        Binding(
            "tab,shift+tab",
            "switch_pane",
            "Tree ⇄ steps",
            show=False,
            priority=True,
            tooltip="move between the tree and the steps (or the timeline)",
        ),
        Binding("left_square_bracket", "turn_page(-1)", "Previous page of turns", show=False),
        Binding("right_square_bracket", "turn_page(1)", "Next page of turns", show=False),
        Binding("r", "reload", "Read new lines", show=False),
        Binding("i", "notices", "Notices", show=False),
        Binding("escape", "cancel_search", "Close search", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    # init=False: the watchers act on widgets, which exist only once the app is mounted.
    selected_agent: reactive[str | None] = reactive(None, init=False)
    following = reactive(False, init=False)
    show_timeline = reactive(False, init=False)
    search_text = reactive("", always_update=True, init=False)
    status_message = reactive("", init=False)

    class LogGrew(Message):
        """Follow mode (or `r`) read new lines from the log."""

        def __init__(self, new_events: int) -> None:
            super().__init__()
            self.new_events = new_events

    def __init__(
        self,
        log: LogIndex | str | Path,
        *,
        follow: bool = False,
        follow_interval_s: float = FOLLOW_INTERVAL_S,
    ) -> None:
        super().__init__()
        self.index = log if isinstance(log, LogIndex) else LogIndex.open(log)
        self.follow_interval_s = follow_interval_s
        self._follow_at_start = follow
        self._follow_timer: Timer | None = None
        self._pending_offset: int | None = None
        self._hits: list[SearchHit] = []
        self._hit_position = -1
        self._error_position = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="totals")
        with Horizontal(id="main"):
            yield AgentTree(self.index, id="agents")
            with ContentSwitcher(initial="steps", id="right"):
                yield AgentSteps(self.index, id="steps")
                yield Timeline(self.index, id="timeline")
        yield Input(
            placeholder="search prompts, replies, code and output; Enter searches, Escape closes", id="search"
        )
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = printable(self.index.path.name)
        self._show_totals()
        self._show_status()
        self.query_one(AgentTree).focus()
        if self.index.root_ids:
            self._go_to(self.index.root_ids[0], None)
        self.following = self._follow_at_start

    # What is selected ------------------------------------------------------------------------

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        # A programmatic jump may pass over other nodes on its way; only where the cursor ends counts.
        if event.node is event.control.cursor_node and event.node.data is not None:
            self.selected_agent = event.node.data

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        # The cursor stays in the tree, so the reader can go on down the agents; tab moves over.
        if event.node.data is not None:
            self.selected_agent = event.node.data

    def on_timeline_agent_chosen(self, event: Timeline.AgentChosen) -> None:
        self._go_to(event.agent_id, None)

    def watch_selected_agent(self, agent_id: str | None) -> None:
        if agent_id is None:
            return
        offset, self._pending_offset = self._pending_offset, None
        self.query_one(AgentSteps).show(
            agent_id, target_offset=offset, needle=self.search_text, last_page=self.following
        )
        self.query_one(Timeline).select_agent(agent_id)

    def _go_to(self, agent_id: str, offset: int | None) -> None:
        """Show `agent_id` with the turn holding the line at `offset` in view."""
        self.show_timeline = False
        self.query_one(AgentTree).reveal(agent_id)
        if self.selected_agent == agent_id:
            self.query_one(AgentSteps).show(agent_id, target_offset=offset, needle=self.search_text)
        else:
            self._pending_offset = offset
            self.selected_agent = agent_id

    # Search ------------------------------------------------------------------------------------

    def action_start_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("-visible")
        search.focus()

    def action_cancel_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_class("-visible"):
            search.remove_class("-visible")
            self.query_one(AgentTree).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.remove_class("-visible")
        self.query_one(AgentTree).focus()
        self.search_text = event.value.strip()

    def watch_search_text(self, text: str) -> None:
        self._hit_position = -1
        try:
            self._hits = self.index.search(text) if text else []
        except LogFileError as error:
            self._hits = []
            self.status_message = str(error)
            return
        if not text:
            self.status_message = ""
        elif not self._hits:
            self.status_message = f"no match for {text!r}"
        else:
            self.action_next_match()

    def action_next_match(self) -> None:
        self._step_match(1)

    def action_previous_match(self) -> None:
        self._step_match(-1)

    def _step_match(self, direction: int) -> None:
        if not self._hits:
            self.status_message = "no search yet: press / to search" if not self.search_text else "no match"
            return
        self._hit_position = (self._hit_position + direction) % len(self._hits)
        hit = self._hits[self._hit_position]
        self.status_message = (
            f"match {self._hit_position + 1}/{len(self._hits)} for {self.search_text!r} in {hit.agent_id}"
        )
        self._go_to(hit.agent_id, hit.offset)

    # Errors ------------------------------------------------------------------------------------

    def action_next_error(self) -> None:
        self._step_error(1)

    def action_previous_error(self) -> None:
        self._step_error(-1)

    def _step_error(self, direction: int) -> None:
        errors = self.index.errors
        if not errors:
            self.status_message = "no errors in this log"
            return
        self._error_position = (self._error_position + direction) % len(errors)
        error = errors[self._error_position]
        self.status_message = (
            f"error {self._error_position + 1}/{len(errors)} in {error.agent_id}: {error.summary}"
        )
        self._go_to(error.agent_id, error.offset)

    # Follow mode -------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.following = not self.following

    def watch_following(self, following: bool) -> None:
        if self._follow_timer is not None:
            self._follow_timer.stop()
            self._follow_timer = None
        if following:
            self.action_reload()
            self._follow_timer = self.set_interval(self.follow_interval_s, self.action_reload)
        self._show_status()

    def action_reload(self) -> None:
        """Read the lines appended to the log since it was last read."""
        try:
            update = self.index.refresh()
        except LogFileError as error:
            self.following = False
            self.status_message = str(error)
            return
        if not (update.new_events or update.new_agents or update.changed_agents):
            return
        self.query_one(AgentTree).apply_update(update)
        self.query_one(Timeline).reload()
        self._show_totals()
        if self.selected_agent is None and self.index.root_ids:
            self.selected_agent = self.index.root_ids[0]
        elif self.selected_agent in update.changed_agents:
            self.query_one(AgentSteps).show(
                self.selected_agent, needle=self.search_text, last_page=self.following
            )
        self.post_message(self.LogGrew(update.new_events))

    # Views -------------------------------------------------------------------------------------

    def action_toggle_timeline(self) -> None:
        self.show_timeline = not self.show_timeline

    def watch_show_timeline(self, show_timeline: bool) -> None:
        self.query_one(ContentSwitcher).current = "timeline" if show_timeline else "steps"
        if show_timeline:
            timeline = self.query_one(Timeline)
            timeline.reload()
            if self.selected_agent is not None:
                timeline.select_agent(self.selected_agent)
            timeline.focus()
        else:
            self.query_one(AgentTree).focus()

    def action_switch_pane(self) -> None:
        """From the tree to the pane on the right (the steps or the timeline), and back."""
        if len(self.screen_stack) > 1:  # a page of help or notices is open: it keeps the keys
            return
        tree = self.query_one(AgentTree)
        if self.focused is tree:
            right = self.query_one(ContentSwitcher).current
            self.query_one(f"#{right}").focus()
        else:
            tree.focus()

    def action_toggle_prompts(self) -> None:
        steps = self.query_one(AgentSteps)
        steps.expand_prompts(not steps.prompts_expanded)
        self.status_message = "prompts shown in full" if steps.prompts_expanded else "prompts folded"

    def action_turn_page(self, delta: int) -> None:
        steps = self.query_one(AgentSteps)
        if steps.turn_page(delta):
            self.status_message = f"{steps.agent_id}: page {steps.page + 1}/{steps.page_count}"

    def action_help(self) -> None:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        for key, description in NAVIGATION_KEYS:
            keys.add_row(key, description)
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            shown_keys = " / ".join(
                self.get_key_display(Binding(key, binding.action)) for key in binding.key.split(",")
            )
            keys.add_row(shown_keys, binding.tooltip or binding.description)
        self.push_screen(InfoScreen("fast-rlm log viewer: keys", keys))

    def action_notices(self) -> None:
        notices = self.index.notices
        # Notices quote the log (agent ids, event types).
        body = Text(printable("\n".join(map(str, notices))) if notices else "The log reads cleanly.")
        self.push_screen(InfoScreen(f"What the log says about itself ({len(notices)} notices)", body))

    # Status lines ------------------------------------------------------------------------------

    def _show_totals(self) -> None:
        totals = run_totals(self.index)
        text = Text.assemble(
            (f" {totals.status} ", STATUS_BADGES.get(totals.status, "black on grey70")),
            " ",
            format_totals(totals),
        )
        caps = caps_line(self.index, totals)
        if caps:
            text.append("\n" + caps, "dim")
        origin = lineage(self.index.run_start) if self.index.run_start is not None else None
        if origin is not None:
            text.append(printable(f"\n↳ {origin}"), "cyan")
        notices = self.index.notices
        if notices:
            more = f" (+{len(notices) - 1} more)" if len(notices) > 1 else ""
            text.append(printable(f"\n⚠ {notices[0]}{more} · i lists them"), "yellow")
        self.query_one("#totals", Static).update(text)

    def validate_status_message(self, message: str) -> str:
        # Status messages quote agent ids, error summaries and search text: printable by construction.
        return printable(message)

    def watch_status_message(self, message: str) -> None:
        self._show_status()

    def _show_status(self) -> None:
        text = Text()
        if self.following:
            text.append(" FOLLOWING ", "black on cyan")
            text.append(" ")
        text.append(self.status_message or "? shows the keys")
        self.query_one("#status", Static).update(text)
