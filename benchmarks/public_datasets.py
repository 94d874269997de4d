"""Loaders for the public datasets the original fast-rlm and the RLM paper use, as suites of the
runner: `oolong-synth` (Hugging Face oolongbench/oolong-synth, also the `dnd` rows of
oolongbench/oolong-real) and `longbench-v2` (THUDM/LongBench-v2, multiple choice).

    python -m benchmarks.run --suite longbench-v2 --data data.json --model M   # a downloaded file
    python -m benchmarks.run --suite oolong-synth --model M --limit 20         # needs `pip install datasets`

A file is JSON Lines or a JSON list of records in the dataset's own fields; without --data the
split is streamed with the `datasets` library (network needed). benchmarks/samples/ holds a few
records of each format, written for the tests.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from benchmarks.suites.scoring import as_text, numeric_score
from benchmarks.suites.task import Task

SAMPLES = Path(__file__).resolve().parent / "samples"


class DatasetError(ValueError):
    """A dataset file that cannot be read as the suite's records."""


def read_records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text()
    except OSError as error:
        raise DatasetError(f"cannot read --data {path}: {error}") from None
    try:
        if text.lstrip().startswith("["):
            return json.loads(text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise DatasetError(f"--data {path} is neither JSON Lines nor a JSON list: {error}") from None


def stream_records(dataset: str, split: str, config: str | None = None) -> Iterable[dict[str, Any]]:
    try:
        from datasets import load_dataset
    except ImportError:
        raise DatasetError(
            f"reading {dataset} from Hugging Face needs `pip install datasets`; or download the split "
            "and pass it with --data FILE"
        ) from None
    return load_dataset(dataset, config, split=split, streaming=True)


def required(record: dict[str, Any], fields: tuple[str, ...], suite: str) -> None:
    missing = [name for name in fields if name not in record]
    if missing:
        raise DatasetError(f"a {suite} record lacks {', '.join(missing)}; its fields are {', '.join(record)}")


# OOLONG: the input is context_window_text + "\n" + question; the answer a stringified list.
OOLONG_FIELDS = ("id", "context_window_text", "question", "answer", "answer_type")


def oolong_task(record: dict[str, Any]) -> Task:
    required(record, OOLONG_FIELDS, "oolong-synth")
    try:
        gold = ast.literal_eval(record["answer"])
    except (ValueError, SyntaxError):
        gold = record["answer"]
    gold = gold[0] if isinstance(gold, list) and len(gold) == 1 else gold
    return Task(
        id=f"oolong-synth-{record['id']}",
        suite="oolong-synth",
        size=str(record.get("context_len", "?")),
        kind=record["answer_type"],
        context=record["context_window_text"],
        question=record["question"],
        gold=gold,
    )


def normalised(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def oolong_score(task: Task, answer: Any) -> float:
    """Numbers 0.75^|error|; labels, dates and users by normalised match."""
    if "NUMERIC" in task.kind.upper():
        return numeric_score(answer, float(task.gold))
    gold, given = normalised(str(task.gold)), normalised(as_text(answer))
    return 1.0 if gold == given or f" {gold} " in f" {given} " else 0.0


LONGBENCH_FIELDS = ("_id", "question", "choice_A", "choice_B", "choice_C", "choice_D", "answer", "context")


def longbench_task(record: dict[str, Any]) -> Task:
    required(record, LONGBENCH_FIELDS, "longbench-v2")
    choices = "\n".join(f"({letter}) {record[f'choice_{letter}']}" for letter in "ABCD")
    return Task(
        id=f"longbench-v2-{record['_id']}",
        suite="longbench-v2",
        size=record.get("length", "?"),
        kind=record.get("domain", "?"),
        context=record["context"],
        question=f"{record['question']}\n{choices}\nAnswer with the letter of the correct choice.",
        gold=record["answer"],
    )


def longbench_score(task: Task, answer: Any) -> float:
    """1 when the answer names exactly one choice letter, the right one."""
    text = as_text(answer).strip()
    letters = set(re.findall(r"\(([ABCD])\)", text)) or set(re.findall(r"\b([ABCD])\b", text))
    return 1.0 if letters == {task.gold} else 0.0


@dataclass(frozen=True)
class PublicSuite:
    name: str
    hub_dataset: tuple[str, str | None, str]  # (name, config, split) for streaming
    to_task: Callable[[dict[str, Any]], Task]
    score: Callable[[Task, Any], float]


PUBLIC_SUITES = {
    "oolong-synth": PublicSuite(
        "oolong-synth", ("oolongbench/oolong-synth", None, "test"), oolong_task, oolong_score
    ),
    "longbench-v2": PublicSuite(
        "longbench-v2", ("THUDM/LongBench-v2", None, "train"), longbench_task, longbench_score
    ),
}


def public_tasks(suite: PublicSuite, data: Path | None, limit: int) -> list[Task]:
    records = read_records(data) if data else stream_records(*suite.hub_dataset)
    return [suite.to_task(record) for record in islice(records, limit)]
