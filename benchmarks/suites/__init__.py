"""The offline task suites: a name -> its generator and scorer, and picking the tasks of a run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.suites import codeqa, oolong, oolong_pairs, sniah
from benchmarks.suites.task import SIZES, Task, size_tokens

DEFAULT_SIZES = ("8k", "32k", "128k")
DEFAULT_TASKS_PER_SIZE = 5


class UnknownSuiteError(ValueError):
    """A suite name not in SUITES."""


@dataclass(frozen=True)
class Suite:
    name: str
    generate: Callable[[str, int], Task]  # (size, index) -> the task; the same every time
    score: Callable[[Task, Any], float]


SUITES: dict[str, Suite] = {
    module.NAME: Suite(module.NAME, module.generate, module.score)
    for module in (sniah, oolong, oolong_pairs, codeqa)
}


def suite_named(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuiteError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}") from None


def suite_tasks(name: str, sizes: list[str] | tuple[str, ...], tasks_per_size: int) -> list[Task]:
    """`tasks_per_size` tasks of each size, question kinds in turn; sizes are checked first."""
    suite = suite_named(name)
    for size in sizes:
        size_tokens(size)
    return [suite.generate(size.lower(), index) for size in sizes for index in range(tasks_per_size)]


__all__ = [
    "DEFAULT_SIZES",
    "SIZES",
    "SUITES",
    "Suite",
    "Task",
    "UnknownSuiteError",
    "suite_named",
    "suite_tasks",
]
