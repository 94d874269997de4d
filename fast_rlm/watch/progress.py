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

SILENT, SUMMARY, FULL = 0, 1, 2
# "quiet" and "verbose" are the original fast-rlm's other names for silent and full.
_NAMED_LEVELS = {"silent": SILENT, "quiet": SILENT, "summary": SUMMARY, "full": FULL, "verbose": FULL}
PREVIEW_CHARS = 200

# Two live displays drawing on one terminal garble each other: a run that starts while another
# run's display is up (two arun() tasks, say) prints lines instead.
_live_display_slot = threading.Lock()


def parse_verbosity(verbosity: int | str | None, verbose: bool | None) -> int:
    """verbosity 0/"silent", 1/"summary", 2/"full"; the older verbose=True means full."""
    if verbosity is None:
        return FULL if verbose else (SILENT if verbose is False else SUMMARY)
    if isinstance(verbosity, bool):  # as the verbose flag
        return FULL if verbosity else SILENT
    if isinstance(verbosity, str) and verbosity.lower() in _NAMED_LEVELS:
        return _NAMED_LEVELS[verbosity.lower()]
    if (
        isinstance(verbosity, int)
        and not isinstance(verbosity, bool)
        and verbosity in (SILENT, SUMMARY, FULL)
    ):
        return verbosity
    from fast_rlm.errors import ConfigError, ConfigTypeError

    error = ConfigError if isinstance(verbosity, (int, str)) else ConfigTypeError
    raise error(f"verbosity must be 0/'silent', 1/'summary' or 2/'full', not {verbosity!r}.")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."


def format_usage(usage: dict[str, Any]) -> str:
    cost = "n/a (not reported)" if usage.get("cost") is None else f"${usage['cost']:.6f}"
    return (
        f"{usage['agents']} agents, {usage['llm_calls']} LLM calls, "
        f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens, cost {cost}"
    )


def format_caps(config: dict[str, Any]) -> str:
    """The run-wide caps in force, e.g. "$1.00 · 200,000 prompt + 50,000 completion tokens"; "" if none."""
    parts = []
    if config.get("max_money_spent") is not None:
        parts.append(f"${config['max_money_spent']:.2f}")
    tokens = [
        f"{config[key]:,} {kind}"
        for key, kind in (("max_prompt_tokens", "prompt"), ("max_completion_tokens", "completion"))
        if config.get(key) is not None
    ]
    if tokens:
        parts.append(" + ".join(tokens) + " tokens")
    if config.get("max_llm_calls") is not None:
        parts.append(f"{config['max_llm_calls']:,} LLM calls")
    return " · ".join(parts)


# The run-wide caps in the order they are shown, with what each counts.
_CAP_UNITS = (
    ("max_llm_calls", "LLM requests"),  # every request sent, retries included
    ("max_prompt_tokens", "prompt tokens"),
    ("max_completion_tokens", "completion tokens"),
)


def _dollars(amount: float) -> str:
    return f"${amount:.2f}" if round(amount, 2) == amount else f"${amount:.6f}".rstrip("0")


def format_limits(limits: dict[str, Any], cost_reported: bool) -> str:
    """Each run-wide cap beside what was used of it (usage["limits"], the log's dict form), e.g.
    "9 of 200 LLM requests · ... · $0.002250 of $1.00"; a key without a cap shows "(no cap)".
    Money nothing reported or priced shows as n/a, never as a made-up $0."""
    parts = []
    for key, unit in _CAP_UNITS:
        if key in limits:
            used, limit = round(limits[key]["used"]), limits[key]["limit"]
            parts.append(
                f"{used:,} {unit} (no cap)" if limit is None else f"{used:,} of {round(limit):,} {unit}"
            )
    if "max_money_spent" in limits:
        used, limit = limits["max_money_spent"]["used"], limits["max_money_spent"]["limit"]
        spent = "n/a" if used == 0 and not cost_reported else f"${used:.6f}"
        parts.append(f"{spent} spent (no cap)" if limit is None else f"{spent} of {_dollars(limit)}")
    return " · ".join(parts)


def format_done(result: dict[str, Any]) -> str:
    """The lines a finished run ends its progress with: what it used, its caps, its log."""
    lines = [f"done: {format_usage(result['usage'])}"]
    if result["usage"].get("limits"):
        usage = result["usage"]
        lines.append(f"limits: {format_limits(usage['limits'], usage.get('cost') is not None)}")
    lines.append(f"log: {result['log_file']}")
    return "\n".join(lines)


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
            self._print(f"failed: {type(error).__name__}: {error}")


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
