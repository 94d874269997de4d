"""The progress bar over a batch of runs (run_batch): on a terminal, and not at verbosity 0."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from fast_rlm.watch.progress import is_interactive
from fast_rlm.watch.verbosity import SILENT


class BatchProgress(Protocol):
    def advance(self, failed: bool) -> None: ...


class _NoProgress:
    def advance(self, failed: bool) -> None:
        pass


class _ProgressBar:
    """A rich bar: runs finished of the batch, how many failed, time spent and left."""

    def __init__(self, progress, task_id) -> None:  # type: ignore[no-untyped-def]
        self._progress = progress
        self._task_id = task_id
        self._failed = 0

    def advance(self, failed: bool) -> None:
        self._failed += failed
        self._progress.update(self._task_id, advance=1, failed=f"{self._failed} failed")


@contextmanager
def open_batch_progress(verbosity: int, total: int) -> Iterator[BatchProgress]:
    if verbosity == SILENT or not is_interactive(sys.stderr):
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("fast-rlm batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    )
    with progress:
        task_id = progress.add_task("batch", total=total, failed="0 failed")
        yield _ProgressBar(progress, task_id)
