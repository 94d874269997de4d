"""What run() prints while it works, on stderr: nothing, a line per agent, or every step."""

from __future__ import annotations

import sys
from typing import Any

SILENT, SUMMARY, FULL = 0, 1, 2
_NAMED_LEVELS = {"silent": SILENT, "summary": SUMMARY, "full": FULL}
PREVIEW_CHARS = 200


def parse_verbosity(verbosity: int | str | None, verbose: bool | None) -> int:
    """verbosity 0/"silent", 1/"summary", 2/"full"; the older verbose=True means full."""
    if verbosity is None:
        return FULL if verbose else (SILENT if verbose is False else SUMMARY)
    if isinstance(verbosity, str) and verbosity.lower() in _NAMED_LEVELS:
        return _NAMED_LEVELS[verbosity.lower()]
    if (
        isinstance(verbosity, int)
        and not isinstance(verbosity, bool)
        and verbosity in (SILENT, SUMMARY, FULL)
    ):
        return verbosity
    from fast_rlm.errors import ConfigError

    raise ConfigError(f"verbosity must be 0/'silent', 1/'summary' or 2/'full', not {verbosity!r}.")


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


class ProgressPrinter:
    def __init__(self, level: int, stream: Any = None) -> None:
        self.level = level
        self.stream = stream or sys.stderr

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def show(self, event: dict[str, Any]) -> None:
        if self.level == SILENT:
            return
        kind = event["event"]
        indent = "  " * event.get("depth", event.get("agent_id", "").count("."))
        if kind == "agent_start":
            self._print(
                f"{indent}▶ {event['agent_id']} ({event['model']}) {_short(event['instruction'] or '')}"
            )
        elif kind == "agent_end":
            indent = "  " * event["agent_id"].count(".")
            if event["status"] == "done":
                self._print(f"{indent}✓ {event['agent_id']} -> {_short(event.get('result'))}")
            else:
                error = event["error"]
                self._print(f"{indent}✗ {event['agent_id']} {error['type']}: {_short(error['message'])}")
        elif kind == "llm_retry":
            wait = f"waiting {event['wait_s']:.1f}s"
            self._print(f"  retry {event['agent_id']} call {event['call']}: {event['reason']}, {wait}")
        elif kind == "code_step" and self.level == FULL:
            indent = "  " * (event["agent_id"].count(".") + 1)
            self._print(f"{indent}[{event['agent_id']} step {event['step']}] {_short(event['code'] or '')}")
            for label in ("stdout", "stderr", "error"):
                if event.get(label):
                    self._print(f"{indent}  {label}: {_short(event[label])}")

    def finished(self, result: dict[str, Any]) -> None:
        if self.level != SILENT:
            self._print(f"done: {format_usage(result['usage'])}\nlog: {result['log_file']}")

    def failed(self, error: Exception) -> None:
        if self.level != SILENT:
            self._print(f"failed: {type(error).__name__}: {error}")
