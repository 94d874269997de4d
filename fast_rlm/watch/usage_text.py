"""How a run's counts, usage and caps are written for people: the live view, the progress lines,
`fast-rlm-log` and the viewer all word them through here, so they agree ("1 call", "2 calls")."""

from __future__ import annotations

from typing import Any


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 call", "2 calls", "1,000 retries" (with `plural` for nouns that add more than an s)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def format_usage(usage: dict[str, Any]) -> str:
    """The run's usage (result["usage"]) on one line."""
    cost = "n/a (not reported)" if usage.get("cost") is None else f"${usage['cost']:.6f}"
    return (
        f"{counted(usage['agents'], 'agent')}, {counted(usage['llm_calls'], 'LLM call')}, "
        f"{usage['prompt_tokens']:,} prompt + {usage['completion_tokens']:,} completion tokens, cost {cost}"
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
        parts.append(counted(config["max_llm_calls"], "LLM call"))
    return " · ".join(parts)


# The run-wide caps in the order they are shown, with what each counts.
_CAP_UNITS = (
    ("max_llm_calls", "LLM request"),  # every request sent, retries included
    ("max_prompt_tokens", "prompt token"),
    ("max_completion_tokens", "completion token"),
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
                f"{counted(used, unit)} (no cap)"
                if limit is None
                else f"{used:,} of {counted(round(limit), unit)}"
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


def format_failed(error: Exception) -> str:
    """The lines a failed run ends its progress with: the error, and its log when the run wrote one."""
    lines = [f"failed: {type(error).__name__}: {error}"]
    log_file = getattr(error, "log_file", None)
    if log_file:
        lines.append(f"log: {log_file}")
    return "\n".join(lines)
