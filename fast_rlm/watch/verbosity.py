"""How much a run shows while it works: silent, a summary (the agent tree), or in full (every step)."""

from __future__ import annotations

from fast_rlm.errors import ConfigError, ConfigTypeError

SILENT, SUMMARY, FULL = 0, 1, 2
# "quiet" and "verbose" are the original fast-rlm's other names for silent and full.
_NAMED_LEVELS = {"silent": SILENT, "quiet": SILENT, "summary": SUMMARY, "full": FULL, "verbose": FULL}


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
    error = ConfigError if isinstance(verbosity, (int, str)) else ConfigTypeError
    raise error(f"verbosity must be 0/'silent', 1/'summary' or 2/'full', not {verbosity!r}.")
