"""What the engine's set-up says while it works (the first run, or `fast-rlm setup`), and when it fails.

Each step gets a line naming what it fetches or makes, how big or how long, and that it happens
once. On a terminal the line stays live: a spinner with the megabytes fetched so far (for a step
that can measure them) or the seconds spent. Anywhere else (a pipe, a CI log) each step prints
plain lines, a start and an end, so logs hold no carriage returns.

A failed step is one line: what failed, the cause in a few words, what to do; the package manager's
whole output goes to a file the line names, not onto the screen.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from fast_rlm.errors import EngineStartError
from fast_rlm.host.resources import cache_dir

BYTES_PER_MB = 1_000_000
_SPINNER = "|/-\\"
_REFRESH_S = 0.25  # how often a live line is redrawn
_MEASURE_EVERY = 4  # refreshes per measurement: walking a directory of thousands of files costs


FAILURE_LOG_NAME = "setup-failure.log"
# What pip and Deno print when the network is out, in the words worth repeating.
_UNREACHABLE = re.compile(
    r"Connection refused|Name or service not known|Temporary failure in name resolution|"
    r"Network is unreachable|No route to host|timed out|dns error",
    re.IGNORECASE,
)


def setup_failure(what_failed: str, output: str, fix: str, fetches: bool = True) -> EngineStartError:
    """One line for a failed set-up step: `what_failed`, the cause found in the tool's `output` (for a
    step that `fetches`, first whether the network was out), and the `fix`; the whole output is kept
    in the cache for whoever needs more."""
    log = cache_dir() / FAILURE_LOG_NAME
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output)
        details = f" Full output: {log}"
    except OSError:
        details = ""
    unreachable = _UNREACHABLE.search(output) if fetches else None
    if unreachable:
        cause = f"the network is unreachable ({unreachable.group(0)})"
    else:
        errors = [line for line in output.splitlines() if line.lower().startswith(("error:", "error "))]
        cause = errors[-1].split(":", 1)[-1].strip() if errors else "see the full output"
    return EngineStartError(f"{what_failed}: {cause}. {fix}.{details}")


def online_once(settings: str) -> str:
    """The fix for a step that fetches: `settings` say where the tool's network settings go."""
    return (
        "The first set-up needs the network once, then fast-rlm works offline: run `fast-rlm setup` "
        f"when online ({settings})"
    )


def bytes_under(directory: Path) -> int:
    """The size of the files under `directory` (0 while it does not exist): how far a fetch got."""
    if not directory.is_dir():
        return 0
    total = 0
    for path in directory.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # a package manager renames and removes files while it works
            continue
    return total


class SetupProgress:
    """Reports the set-up's steps on `stream`; None reports nothing (a silent run)."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._live = stream is not None and stream.isatty()
        self._announced = False

    @classmethod
    def on_stderr(cls) -> SetupProgress:
        return cls(sys.stderr)

    def _write(self, text: str) -> None:
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()

    def announce(self, cache: Path) -> None:
        """The header, printed before the first step that has work to do, once."""
        if not self._announced:
            self._announced = True
            self._write(f"fast-rlm: setting up the engine in {cache} (once; later runs work offline)\n")

    @contextmanager
    def step(
        self,
        what: str,
        measure: Callable[[], int] | None = None,
        expected_bytes: int | None = None,
    ) -> Iterator[None]:
        """Reports `what` while the body runs. `measure` returns the bytes fetched so far and
        `expected_bytes` what the whole fetch comes to, for a live "12 of 33 MB"."""
        started = time.monotonic()
        stop = threading.Event()
        redraw: threading.Thread | None = None
        if self._live:
            redraw = threading.Thread(
                target=self._redraw, args=(what, started, stop, measure, expected_bytes), daemon=True
            )
            redraw.start()
        else:
            self._write(f"  {what} ...\n")
        outcome = "failed"
        try:
            yield
            outcome = "done"
        finally:
            stop.set()
            if redraw is not None:
                redraw.join()
            elapsed = time.monotonic() - started
            ending = f"  {what}: {outcome} ({elapsed:.0f} s)"
            self._write(f"\r{ending}\x1b[K\n" if self._live else f"{ending}\n")

    def _redraw(
        self,
        what: str,
        started: float,
        stop: threading.Event,
        measure: Callable[[], int] | None,
        expected_bytes: int | None,
    ) -> None:
        turn = 0
        fetched = 0
        while not stop.is_set():
            if measure is not None and turn % _MEASURE_EVERY == 0:
                fetched = measure()
            if measure is not None:
                so_far = f"{fetched / BYTES_PER_MB:.0f}"
                so_far += f" of {expected_bytes / BYTES_PER_MB:.0f} MB" if expected_bytes else " MB"
            else:
                so_far = f"{time.monotonic() - started:.0f} s"
            self._write(f"\r  {what} {_SPINNER[turn % len(_SPINNER)]} {so_far}\x1b[K")
            turn += 1
            stop.wait(_REFRESH_S)
