"""sniah: needles in a haystack. Variants: `single` (one needle), `multikey` (several keys, one
asked for), `multivalue` (one key with several values, all asked for). Scored by F1 over the numbers
in the answer, so a single needle scores 1 only when the answer names that number and no other."""

from __future__ import annotations

from typing import Any

from benchmarks.suites.filler import filler_sentences
from benchmarks.suites.scoring import f1, numbers_in
from benchmarks.suites.task import CHARS_PER_TOKEN, Task, seeded_random, size_tokens

NAME = "sniah"
VARIANTS = ("single", "multikey", "multivalue")
KEY_WORDS = [
    "amber",
    "falcon",
    "copper",
    "willow",
    "granite",
    "lantern",
    "meadow",
    "cobalt",
    "harbor",
    "saffron",
    "thistle",
    "orbit",
]
DISTRACTOR_KEYS = 3
VALUES_PER_KEY = 3


def needle(key: str, value: str) -> str:
    return f"The special magic number for {key} is {value}."


def question(key: str, variant: str) -> str:
    if variant == "multivalue":
        return (
            f"What are all the special magic numbers for {key} mentioned in the context? "
            "Answer with the list of numbers."
        )
    return f"What is the special magic number for {key} mentioned in the context? Answer with the number."


def generate(size: str, index: int) -> Task:
    variant = VARIANTS[index % len(VARIANTS)]
    rng = seeded_random(NAME, size, index)
    keys = rng.sample([f"{a}-{b}" for a in KEY_WORDS for b in KEY_WORDS if a != b], DISTRACTOR_KEYS + 1)
    asked = keys[0]
    needles: list[tuple[str, str]] = []
    value_count = VALUES_PER_KEY if variant == "multivalue" else 1
    needles += [(asked, str(rng.randrange(1_000_000, 10_000_000))) for _ in range(value_count)]
    if variant == "multikey":
        needles += [(key, str(rng.randrange(1_000_000, 10_000_000))) for key in keys[1:]]
    sentences = filler_sentences(rng, size_tokens(size) * CHARS_PER_TOKEN)
    for key, value in needles:
        sentences.insert(rng.randrange(len(sentences) + 1), needle(key, value))
    gold = [value for key, value in needles if key == asked]
    return Task(
        id=f"{NAME}-{size}-{index}",
        suite=NAME,
        size=size,
        kind=variant,
        context=" ".join(sentences),
        question=question(asked, variant),
        gold=gold,
    )


def score(task: Task, answer: Any) -> float:
    return f1(numbers_in(answer), set(task.gold))
