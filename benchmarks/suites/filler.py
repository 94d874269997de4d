"""Plain filler prose for haystacks: seeded sentences that never mention a magic number."""

from __future__ import annotations

import random

SUBJECTS = [
    "The river",
    "An old map",
    "The committee",
    "A quiet engineer",
    "The orchard",
    "Our neighbour",
    "The library",
    "A travelling band",
    "The harbour master",
    "The garden",
]
VERBS = ["described", "remembered", "ignored", "rebuilt", "painted", "measured", "carried", "questioned"]
OBJECTS = [
    "the northern bridge",
    "a list of recipes",
    "the winter schedule",
    "two wooden chairs",
    "the lighthouse lamp",
    "a box of letters",
    "the festival stage",
    "an unfinished song",
]
TAILS = [
    "before the rain came.",
    "without saying why.",
    "as the bells rang.",
    "for the third time.",
    "while the town slept.",
    "with unusual care.",
    "after a long debate.",
    "in the late afternoon.",
]


def filler_sentences(rng: random.Random, chars: int) -> list[str]:
    """Sentences adding up to about `chars` characters (one space each between them)."""
    sentences: list[str] = []
    total = 0
    while total < chars:
        sentence = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
        sentences.append(sentence)
        total += len(sentence) + 1
    return sentences
