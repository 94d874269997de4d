"""A modal page of text over the viewer: the keyboard help and the log's notices."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class InfoScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, heading: str, body: RenderableType) -> None:
        super().__init__()
        self.heading = heading
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="info"):
            yield Static(Text(self.heading, style="bold"), id="info-heading")
            yield Static(self.body, id="info-body")
            yield Static(Text("Escape closes this page.", style="dim"), id="info-footer")
