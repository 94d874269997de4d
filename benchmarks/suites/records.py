"""Dated user records whose topic is only implied by their wording, as in OOLONG: a model has to
read (classify) each record. One record per line:

    Date: 2022-03-14 || User: 48213 || Instance: The striker scored twice before halftime.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Each topic's sentences use words no other topic's do, so a reader can tell the topic apart.
TOPIC_PHRASES: dict[str, list[str]] = {
    "sports": [
        "The striker scored twice before halftime.",
        "Our team lost the final on penalties.",
        "The marathon route passes the stadium.",
        "She broke the national sprint record.",
    ],
    "science": [
        "The telescope found a faint new comet.",
        "Researchers sequenced the beetle genome.",
        "The lab measured the isotope decay rate.",
        "A new enzyme speeds up the reaction.",
    ],
    "finance": [
        "The bank raised its interest rate again.",
        "Shares fell after the earnings call.",
        "The fund sold its bond holdings.",
        "Inflation ate into household savings.",
    ],
    "health": [
        "The clinic opened a vaccination drive.",
        "Doctors advise more sleep and water.",
        "The nurse checked his blood pressure.",
        "A new therapy eased the patient's asthma.",
    ],
    "travel": [
        "The ferry to the island left at dawn.",
        "Our hotel overlooked the old harbour.",
        "The flight was delayed by fog at the airport.",
        "They hiked the mountain pass with a guide.",
    ],
}
TOPICS = tuple(TOPIC_PHRASES)
YEARS = (2021, 2022, 2023, 2024)


@dataclass(frozen=True)
class Record:
    date: str
    year: int
    user: int
    topic: str
    text: str

    def line(self) -> str:
        return f"Date: {self.date} || User: {self.user} || Instance: {self.text}"


def make_record(rng: random.Random, user: int, topic: str) -> Record:
    year = rng.choice(YEARS)
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return Record(date=date, year=year, user=user, topic=topic, text=rng.choice(TOPIC_PHRASES[topic]))


def average_line_chars() -> int:
    return len(make_record(random.Random(0), 10000, "sports").line()) + 1
