"""oolong: aggregation over records whose topic must be read from their text. Questions: how many
records have a topic, the most and least frequent topic, comparing two topics, and counting one
topic within a year. Numbers are scored 0.75^|error| (the RLM paper's OOLONG scoring), topics and
comparisons exactly."""

from __future__ import annotations

from collections import Counter
from typing import Any

from benchmarks.suites.records import TOPICS, YEARS, average_line_chars, make_record
from benchmarks.suites.scoring import label_score, numeric_score
from benchmarks.suites.task import CHARS_PER_TOKEN, Task, seeded_random, size_tokens

NAME = "oolong"
KINDS = ("count", "most", "least", "compare", "timeline")
COMPARISONS = ("more", "less", "same")
TOPIC_LIST = ", ".join(TOPICS)


def generate(size: str, index: int) -> Task:
    kind = KINDS[index % len(KINDS)]
    rng = seeded_random(NAME, size, index)
    record_count = max(10, size_tokens(size) * CHARS_PER_TOKEN // average_line_chars())
    # Distinct weights keep the most and least frequent topics well apart, so the gold is unique.
    weights = rng.sample(range(1, 4 * len(TOPICS), 3), len(TOPICS))
    while True:
        topics = rng.choices(TOPICS, weights=weights, k=record_count)
        counts = Counter({topic: 0 for topic in TOPICS}) + Counter(topics)
        ranked = sorted(TOPICS, key=lambda topic: counts[topic])
        if counts[ranked[0]] < counts[ranked[1]] and counts[ranked[-2]] < counts[ranked[-1]]:
            break
    records = [make_record(rng, rng.randrange(10000, 100000), topic) for topic in topics]
    first, second = rng.sample(TOPICS, 2)
    year = rng.choice(YEARS)
    question, gold = {
        "count": (f"How many records have the topic {first}?", counts[first]),
        "most": ("Which topic is the most frequent among the records?", ranked[-1]),
        "least": ("Which topic is the least frequent among the records?", ranked[0]),
        "compare": (
            f"Are records with the topic {first} more, less or same as common as records with the topic "
            f"{second}? Answer with one word: more, less or same.",
            "more"
            if counts[first] > counts[second]
            else "less"
            if counts[first] < counts[second]
            else "same",
        ),
        "timeline": (
            f"How many records with the topic {first} are dated in {year}?",
            sum(1 for record in records if record.topic == first and record.year == year),
        ),
    }[kind]
    return Task(
        id=f"{NAME}-{size}-{index}",
        suite=NAME,
        size=size,
        kind=kind,
        context="\n".join(record.line() for record in records),
        question=f"Each line is a record; its topic is one of {TOPIC_LIST}, told by its text. {question}",
        gold=gold,
    )


def score(task: Task, answer: Any) -> float:
    if task.kind in ("count", "timeline"):
        return numeric_score(answer, task.gold)
    candidates = COMPARISONS if task.kind == "compare" else TOPICS
    return label_score(answer, task.gold, candidates)
