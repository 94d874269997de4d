"""DIR/results.jsonl (one finished task a line, appended as each finishes, so an interrupted suite
resumes where it stopped) and DIR/summary.json (the totals of every finished task)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class TaskResult:
    id: str
    suite: str
    size: str
    kind: str
    mode: str  # "rlm" or "baseline"
    model: str
    answer: Any
    gold: Any
    score: float
    cost: float
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    log_file: str | None
    error: str | None  # why the run failed (it then scores 0); None when it answered

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ResultsStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.results_file = directory / "results.jsonl"
        self.summary_file = directory / "summary.json"
        directory.mkdir(parents=True, exist_ok=True)
        self.results = self._read()

    def _read(self) -> list[TaskResult]:
        if not self.results_file.is_file():
            return []
        lines = self.results_file.read_text().splitlines()
        # A line cut short by a kill mid-write is dropped: its task runs again.
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return [TaskResult(**{k: v for k, v in row.items() if k != "tokens"}) for row in rows]

    def finished_ids(self, mode: str, model: str) -> set[str]:
        return {r.id for r in self.results if r.mode == mode and r.model == model}

    def add(self, result: TaskResult) -> None:
        self.results.append(result)
        with self.results_file.open("a") as file:
            file.write(json.dumps({**asdict(result), "tokens": result.tokens}) + "\n")

    def summary(self, suite: str, mode: str, model: str, planned: int, stopped: str | None) -> dict[str, Any]:
        rows = [r for r in self.results if r.suite == suite and r.mode == mode and r.model == model]
        by_size: dict[str, dict[str, Any]] = {}
        for size in dict.fromkeys(r.size for r in rows):
            of_size = [r for r in rows if r.size == size]
            by_size[size] = {
                "tasks": len(of_size),
                "accuracy": sum(r.score for r in of_size) / len(of_size),
                "cost": sum(r.cost for r in of_size),
                "tokens": sum(r.tokens for r in of_size),
                "wall_s": sum(r.wall_s for r in of_size),
            }
        summary = {
            "suite": suite,
            "mode": mode,
            "model": model,
            "tasks": len(rows),
            "planned_tasks": planned,
            "accuracy": sum(r.score for r in rows) / len(rows) if rows else 0.0,
            "cost": sum(r.cost for r in rows),
            "tokens": sum(r.tokens for r in rows),
            "wall_s": sum(r.wall_s for r in rows),
            "failed_tasks": sum(1 for r in rows if r.error),
            "stopped": stopped,
            "by_size": by_size,
        }
        self.summary_file.write_text(json.dumps(summary, indent=2) + "\n")
        return summary
