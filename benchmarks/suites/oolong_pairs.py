"""oolong-pairs: questions over pairs of users, which take quadratic work: every pair of users who
both wrote about a topic, or where one wrote about a topic and the other about another. The answer
is a list of user-ID pairs, scored by F1 (the RLM paper's OOLONG-Pairs scoring)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from benchmarks.suites.records import TOPICS, average_line_chars, make_record
from benchmarks.suites.scoring import f1, pairs_in
from benchmarks.suites.task import CHARS_PER_TOKEN, Task, seeded_random, size_tokens

NAME = "oolong-pairs"
KINDS = ("both", "cross")
USERS = 40  # up to 780 pairs: long answers, yet a list a model can still write out
RARE_RECORDS = (6, 14)  # records of each asked topic, at any size: only some users wrote about them


def generate(size: str, index: int) -> Task:
    kind = KINDS[index % len(KINDS)]
    rng = seeded_random(NAME, size, index)
    record_count = max(20, size_tokens(size) * CHARS_PER_TOKEN // average_line_chars())
    users = rng.sample(range(10000, 100000), USERS)
    first, second = rng.sample(TOPICS, 2)
    common = [topic for topic in TOPICS if topic not in (first, second)]
    topics = [rng.choice(common) for _ in range(record_count)]
    for topic in (first, second):
        for position in rng.sample(range(record_count), rng.randint(*RARE_RECORDS)):
            topics[position] = topic
    records = [make_record(rng, rng.choice(users), topic) for topic in topics]
    wrote = {topic: {record.user for record in records if record.topic == topic} for topic in (first, second)}
    if kind == "both":
        question = (
            f"List every pair of distinct users who both have at least one record with the topic {first}."
        )
        pairs = set(combinations(sorted(wrote[first]), 2))
    else:
        question = (
            f"List every pair of distinct users where one has a record with the topic {first} and "
            f"the other has a record with the topic {second}."
        )
        pairs = {(min(a, b), max(a, b)) for a in wrote[first] for b in wrote[second] if a != b}
    return Task(
        id=f"{NAME}-{size}-{index}",
        suite=NAME,
        size=size,
        kind=kind,
        context="\n".join(record.line() for record in records),
        question=(
            f"Each line is a record; its topic is one of {', '.join(TOPICS)}, told by its text. "
            f"{question} Answer with a list of [lower user ID, higher user ID] pairs."
        ),
        gold=sorted([a, b] for a, b in pairs),
    )


def score(task: Task, answer: Any) -> float:
    return f1(pairs_in(answer), {(a, b) for a, b in task.gold})
