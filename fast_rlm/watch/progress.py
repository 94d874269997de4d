"""What run() shows on stderr while it works: nothing, the live agent tree (a terminal), or a line
per agent / per step (anything else: CI logs, pipes, files)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from fast_rlm.events import AgentEnd, AgentStart, CodeStep, LlmRetry, LogEvent, RunStart
from fast_rlm.watch.terminal_text import printable
from fast_rlm.watch.usage_text import format_done, format_failed
from fast_rlm.watch.verbosity import FULL, SILENT, parse_verbosity

PREVIEW_CHARS = 200

# Two live displays drawing on one terminal garble each other: a run that starts while another
# run's display is up (two arun() tasks, say) prints lines instead.
_live_display_slot = threading.Lock()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."


def unpriced_models_notice(event: RunStart) -> str | None:
    """What to tell the user when max_money_spent cannot price some models' calls before they are sent."""
    if not event.unpriced_models:
        return None
    pronoun = "it" if len(event.unpriced_models) == 1 else "them"
    return (
        f"fast-rlm: max_money_spent={event.config.get('max_money_spent')} cannot be enforced for "
        f"{', '.join(event.unpriced_models)}: model_prices has no entry for {pronoun}, so only the cost "
        "the provider reports after each call counts, and nothing if it reports none. Add an entry "
        "(USD per million prompt and completion tokens) to price each call before it is sent."
    )


class ProgressView(Protocol):
    """Receives a run's events, then exactly one of finished() or failed()."""

    def show(self, event: LogEvent) -> None: ...

    def finished(self, result: dict[str, Any]) -> None: ...

    def failed(self, error: Exception) -> None: ...


class ProgressPrinter:
    """A line per agent start and end (and per code step at FULL), for output that is not a terminal."""

    def __init__(self, level: int, stream: TextIO | None = None) -> None:
        self.level = level
        self.stream = stream or sys.stderr

    def _print(self, text: str) -> None:
        # Every line goes out here, and most carry text from agent code or a model.
        print(printable(text), file=self.stream, flush=True)

    def show(self, event: LogEvent) -> None:
        if self.level == SILENT:
            return
        if isinstance(event, AgentStart):
            indent = "  " * event.depth
            self._print(f"{indent}▶ {event.agent_id} ({event.model}) {_short(event.instruction or '')}")
        elif isinstance(event, AgentEnd):
            indent = "  " * event.agent_id.count(".")
            if event.status == "done":
                self._print(f"{indent}✓ {event.agent_id} -> {_short(event.result)}")
            else:
                error_type, message = (event.error.type, event.error.message) if event.error else ("", "")
                self._print(f"{indent}✗ {event.agent_id} {error_type}: {_short(message)}")
        elif isinstance(event, LlmRetry):
            wait = f"waiting {event.wait_s:.1f}s"
            self._print(f"  retry {event.agent_id} call {event.call}: {event.reason}, {wait}")
        elif isinstance(event, CodeStep) and self.level == FULL:
            indent = "  " * (event.agent_id.count(".") + 1)
            self._print(f"{indent}[{event.agent_id} step {event.step}] {_short(event.code or '')}")
            for label in ("stdout", "stderr", "error"):
                output = getattr(event, label)
                if output:
                    self._print(f"{indent}  {label}: {_short(output)}")

    def finished(self, result: dict[str, Any]) -> None:
        if self.level != SILENT:
            self._print(format_done(result))

    def failed(self, error: Exception) -> None:
        if self.level != SILENT:
            self._print(format_failed(error))


def failure_shown(error: Exception, verbosity: int | str | None) -> bool:
    """Whether a run's progress view already ended with this error and its log (ProgressView.failed),
    so that a command need not say it again: a run that got as far as its engine (it has a log) and
    was not silent."""
    return getattr(error, "log_file", None) is not None and parse_verbosity(verbosity, None) != SILENT


def is_interactive(stream: TextIO) -> bool:
    """Whether `stream` is a terminal that can redraw. TTY_COMPATIBLE=1 or 0 (rich's convention)
    overrides the check; TERM=dumb never redraws."""
    override = os.environ.get("TTY_COMPATIBLE", "")
    if override in ("0", "1"):
        return override == "1"
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False


@contextmanager
def open_progress(level: int, stream: TextIO | None = None) -> Iterator[ProgressView]:
    """The progress view for one run: the live tree when `stream` (default stderr) is a terminal,
    lines otherwise. The live display is torn down on leaving, however the run ended."""
    stream = stream or sys.stderr
    if level == SILENT or not is_interactive(stream) or not _live_display_slot.acquire(blocking=False):
        yield ProgressPrinter(level, stream)
        return
    try:
        from fast_rlm.watch.live_progress import LiveProgress

        live = LiveProgress(level, stream)
        live.start()
        try:
            yield live
        finally:
            live.close()
    finally:
        _live_display_slot.release()
