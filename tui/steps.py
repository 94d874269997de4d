"""The right pane: one agent's header and its turns (model text, code, output, usage, timing).

Only the selected agent's lines are read from disk, and only one page of its turns becomes widgets.
"""

from __future__ import annotations

import json
import re

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, Static

from fast_rlm.errors import LogFileError
from fast_rlm.events import AgentEnd, HostCall
from fast_rlm.logs.reader import LogIndex, Turn
from fast_rlm.logs.stats import cache_note, format_cost, format_count, format_duration
from fast_rlm.watch.terminal_text import printable_fields
from fast_rlm.watch.usage_text import counted
from tui.agent_tree import STATUS_STYLES

TURNS_PER_PAGE = 20
MAX_SHOWN_CHARS = 20_000
CODE_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\r?\n(.*?)```", re.DOTALL)


def clipped(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return (
        text[:MAX_SHOWN_CHARS] + f"\n… {format_count(len(text) - MAX_SHOWN_CHARS)} more characters not shown"
    )


def highlighted(text: str, needle: str, style: str = "") -> Text:
    shown = Text(clipped(text), style=style)
    if needle:
        shown.highlight_regex(re.compile(re.escape(needle), re.IGNORECASE), "black on yellow")
    return shown


def model_text(completion: str, codes: list[str]) -> str:
    """The model's words around its code blocks: the blocks that ran are shown as code."""
    if not codes:
        return completion
    unshown = [code.strip() for code in codes]
    pieces = []
    kept_from = 0
    for match in CODE_FENCE.finditer(completion):
        if match.group(1).strip() in unshown:
            unshown.remove(match.group(1).strip())
            pieces.append(completion[kept_from : match.start()].strip())
            kept_from = match.end()
    pieces.append(completion[kept_from:].strip())
    return "\n".join(piece for piece in pieces if piece)


def page_of(turns: list[Turn], offset: int | None) -> int | None:
    if offset is None:
        return None
    for position, turn in enumerate(turns):
        if offset in turn.offsets:
            return position // TURNS_PER_PAGE
    return None


def contains(text: str, needle: str) -> bool:
    return bool(needle) and needle.lower() in text.lower()


class TurnView(Vertical):
    """One turn: the model call (retries, prompt, reply) and the code step it led to. The prompt is
    folded unless `prompts_expanded`, or the search text is in it."""

    def __init__(self, turn: Turn, needle: str, prompts_expanded: bool = False) -> None:
        super().__init__(classes="turn")
        # Every text of a turn was written by a model or agent code: made printable here, once, so
        # each field shown (and any added later) is.
        self.turn = printable_fields(turn)
        self.needle = needle
        self.prompts_expanded = prompts_expanded

    def compose(self):
        turn, needle = self.turn, self.needle
        call = turn.call
        if call is not None:
            usage = call.usage
            title = Text.assemble(
                (f"call {turn.number}", "bold"),
                f" · {call.model} · {format_duration(call.duration_s)} · ",
                f"{format_count(usage.prompt_tokens)} prompt + {format_count(usage.completion_tokens)} "
                f"completion tokens{cache_note(usage.cached_tokens, usage.cache_write_tokens)} · "
                f"cost {format_cost(usage.cost)}",
            )
            if call.attempts > 1:
                title.append(f" · {counted(call.attempts, 'attempt')}", "yellow")
            if call.finish_reason == "length":
                title.append(" · cut at the output token limit", "yellow")
        else:
            title = Text.assemble((f"call {turn.number}", "bold"), (" · no answer", "red"))
        yield Static(title, classes="turn-title")
        for retry in turn.retries:
            yield Static(
                Text(f"retry {retry.attempt}: {retry.reason}, waited {retry.wait_s:.1f} s", style="yellow"),
                classes="retry",
            )
        if call is not None and call.new_messages:
            prompt = Text()
            for message in call.new_messages:
                prompt.append(f"[{message.role}]\n", "bold")
                prompt.append_text(highlighted(message.content, needle))
                prompt.append("\n")
            found = any(contains(message.content, needle) for message in call.new_messages)
            with Collapsible(
                title=f"prompt: {counted(len(call.new_messages), 'new message')}",
                collapsed=not (self.prompts_expanded or found),
                classes="prompt-fold",
            ):
                yield Static(prompt, classes="prompt")
        if call is not None and call.reasoning:
            # Folded like the prompt, unless the search text is in it.
            hidden = not contains(call.reasoning, needle)
            with Collapsible(
                title=f"reasoning: {counted(len(call.reasoning), 'character')}", collapsed=hidden
            ):
                yield Static(highlighted(call.reasoning, needle), classes="reasoning")
        if call is not None:
            words = model_text(call.completion, [step.code for step in turn.steps if step.code])
            if words:
                yield Static(highlighted(words, needle), classes="model-text")
        for host_call in turn.host_calls:
            yield Static(self._host_call(host_call), classes="host-call")
        for step in turn.steps:
            step_title = Text.assemble(
                (f"step {step.step}", "bold"), f" · ran in {format_duration(step.duration_s)}"
            )
            if step.final:
                step_title.append(" · FINAL", "bold green")
            if step.error:
                step_title.append(" · error", "bold red")
            yield Static(step_title, classes="step-title")
            if step.code:
                yield Static(self._code(step.code, needle), classes="code")
            if step.stdout:
                yield Static(highlighted(step.stdout.rstrip("\n"), needle), classes="stdout")
            if step.stderr:
                yield Static(highlighted(step.stderr.rstrip("\n"), needle), classes="stderr")
            if step.error:
                yield Static(highlighted(step.error, needle), classes="error")
        if call is not None and not turn.steps:
            yield Static(Text("(no code ran for this reply)", style="dim"), classes="step-title")
        for unknown in turn.unknown:
            yield Static(
                Text(f"unknown event {unknown.event}: {unknown.raw}", style="dim"), classes="unknown"
            )

    @staticmethod
    def _host_call(host_call: HostCall) -> Text:
        shown = Text.assemble(
            ("host function ", "dim"), (host_call.name, "bold"), f" · {format_duration(host_call.duration_s)}"
        )
        if host_call.ok:
            shown.append(" · ok", "green")
        else:
            problem = f"{host_call.error.type}: {host_call.error.message}" if host_call.error else "failed"
            shown.append(f" · {problem}", "bold red")
        return shown

    @staticmethod
    def _code(code: str, needle: str) -> RenderableType:
        shown = clipped(code.rstrip("\n"))
        matching_lines = (
            {number for number, line in enumerate(shown.splitlines(), 1) if needle.lower() in line.lower()}
            if needle
            else set()
        )
        return Syntax(
            shown,
            "python",
            theme="monokai",
            line_numbers=True,
            word_wrap=True,
            highlight_lines=matching_lines,
        )


class AgentSteps(VerticalScroll):
    """Shows one agent; `show` replaces what is shown."""

    def __init__(self, index: LogIndex, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.agent_id: str | None = None
        self.page = 0
        self.page_count = 0
        self.needle = ""
        self.prompts_expanded = False  # `p`: every prompt shown unfolded, on every page and agent
        self._turns: list[Turn] = []

    def on_mount(self) -> None:
        self.mount(Static(Text("Select an agent on the left.", style="dim"), classes="placeholder"))

    def show(
        self, agent_id: str, *, target_offset: int | None = None, needle: str = "", last_page: bool = False
    ) -> None:
        """Read the agent's turns from the log and show the page holding `target_offset` (or the
        first page, or the last with `last_page`), scrolled to the turn holding it."""
        self.agent_id = agent_id
        self.needle = needle
        try:
            self._turns = self.index.agent_turns(agent_id)
        except LogFileError as error:
            self._turns = []
            self.remove_children()
            self.mount(Static(Text(str(error), style="bold red"), classes="error"))
            return
        self.page_count = max(1, -(-len(self._turns) // TURNS_PER_PAGE))
        target_page = page_of(self._turns, target_offset)
        if target_page is not None:
            self.page = target_page
        elif last_page:
            self.page = self.page_count - 1
        else:
            self.page = 0
        self._render_page(target_offset, scroll_to_end=last_page and target_offset is None)

    def expand_prompts(self, expanded: bool) -> None:
        self.prompts_expanded = expanded
        for fold in self.query(".prompt-fold").results(Collapsible):
            fold.collapsed = not expanded

    def turn_page(self, delta: int) -> bool:
        new_page = min(max(self.page + delta, 0), self.page_count - 1)
        if self.agent_id is None or new_page == self.page:
            return False
        self.page = new_page
        self._render_page(None, scroll_to_end=False)
        return True

    def _render_page(self, target_offset: int | None, *, scroll_to_end: bool) -> None:
        assert self.agent_id is not None
        self.remove_children()
        first = self.page * TURNS_PER_PAGE
        shown = self._turns[first : first + TURNS_PER_PAGE]
        widgets: list[Static | Vertical] = [Static(self._header(), classes="agent-header")]
        if self.page_count > 1:
            widgets.append(Static(self._pager_text(first, len(shown)), classes="pager"))
        target_widget = None
        for turn in shown:
            view = TurnView(turn, self.needle, self.prompts_expanded)
            if target_offset is not None and target_offset in turn.offsets:
                target_widget = view
                view.add_class("-target")
            widgets.append(view)
        if not self._turns:
            widgets.append(Static(Text("No model calls logged for this agent yet.", style="dim")))
        self.mount_all(widgets)
        if target_widget is not None:
            self.call_after_refresh(self.scroll_to_widget, target_widget, animate=False, top=True)
        elif scroll_to_end:
            self.call_after_refresh(self.scroll_end, animate=False)
        else:
            self.scroll_home(animate=False)

    def _pager_text(self, first: int, shown: int) -> Text:
        return Text(
            f"turns {first + 1}-{first + shown} of {len(self._turns)} · "
            f"page {self.page + 1}/{self.page_count} · [ and ] turn pages",
            style="italic",
        )

    def _header(self) -> RenderableType:
        assert self.agent_id is not None
        record = printable_fields(self.index.agents[self.agent_id])
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_row(
            "agent",
            Text.assemble((record.agent_id, "bold"), "  ", (record.status, STATUS_STYLES[record.status])),
        )
        # A str cell of a rich Table is read as markup; a model name is not to be.
        table.add_row(
            "model", Text(f"{record.model_label} · depth {record.depth} · parent {record.parent_id or '-'}")
        )
        if record.instruction:
            table.add_row("instruction", highlighted(record.instruction, self.needle))
        table.add_row(
            "context",
            highlighted(f"{format_count(record.context_chars)} chars: {record.context_preview}", self.needle),
        )
        usage = [counted(record.llm_calls, "call"), counted(record.code_steps, "step")]
        usage.append(counted(record.retries, "retry", "retries"))
        if record.host_calls:
            usage.append(counted(record.host_calls, "host function call"))
        tokens = f"{format_count(record.prompt_tokens)} prompt + {format_count(record.completion_tokens)}"
        usage.append(
            tokens + " completion tokens" + cache_note(record.cached_tokens, record.cache_write_tokens)
        )
        usage += [f"cost {format_cost(record.cost)}", format_duration(record.duration_s)]
        table.add_row("usage", " · ".join(usage))
        try:
            end = printable_fields(self.index.agent_end_event(self.agent_id)) if record.finished else None
        except LogFileError:
            end = None  # the turns were just read; a file rewritten since shows on the next read
        if isinstance(end, AgentEnd) and "result" in end.model_fields_set:
            result = end.result if isinstance(end.result, str) else json.dumps(end.result, ensure_ascii=False)
            table.add_row("result", highlighted(result, self.needle, "green"))
        if record.error is not None:
            table.add_row(
                "error", highlighted(f"{record.error.type}: {record.error.message}", self.needle, "bold red")
            )
        return table
