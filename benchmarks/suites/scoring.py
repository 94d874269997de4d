"""Scorers: each turns a model's answer (a JSON value from an RLM, or reply text from a plain call)
and the gold answer into a score in 0..1."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
INTEGER = re.compile(r"\d+")


def as_text(answer: Any) -> str:
    return answer if isinstance(answer, str) else repr(answer)


def numeric_score(answer: Any, gold: float) -> float:
    """0.75^|error|, as in the OOLONG scoring the RLM paper uses; 0 when the answer has no number."""
    if isinstance(answer, bool):
        return 0.0
    if isinstance(answer, (int, float)):
        value = float(answer)
    else:
        found = NUMBER.findall(as_text(answer))
        if not found:
            return 0.0
        value = float(found[-1])  # a reply that reasons first states its result last
    return 0.75 ** abs(value - gold)


def label_score(answer: Any, gold: str, candidates: Iterable[str]) -> float:
    """1 when the answer names the gold label and no other candidate."""
    words = set(re.findall(r"[a-z]+", as_text(answer).lower()))
    named = {candidate for candidate in candidates if candidate in words}
    return 1.0 if named == {gold} else 0.0


def f1(found: set[Any], gold: set[Any]) -> float:
    if not found and not gold:
        return 1.0
    true_positives = len(found & gold)
    if true_positives == 0:
        return 0.0
    precision = true_positives / len(found)
    recall = true_positives / len(gold)
    return 2 * precision * recall / (precision + recall)


def numbers_in(answer: Any) -> set[str]:
    return set(INTEGER.findall(as_text(answer)))


def pairs_in(answer: Any) -> set[tuple[int, int]]:
    """Pairs as a JSON list of 2-lists, or as text such as "(3, 17), (4, 9)"; each pair ordered."""
    if isinstance(answer, list) and all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in answer
    ):
        raw = [(int(a), int(b)) for a, b in answer]
    else:
        raw = [(int(a), int(b)) for a, b in re.findall(r"(\d+)\s*,\s*(\d+)", as_text(answer))]
    return {(min(a, b), max(a, b)) for a, b in raw}


def names_in(answer: Any, pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(as_text(answer)))
