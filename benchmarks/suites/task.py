"""One benchmark task, the context sizes the generators know, and the seeded random source."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4  # the usual English estimate; sizes are in tokens, contexts are built in characters
SIZES: dict[str, int] = {
    "1k": 1_000,
    "8k": 8_000,
    "32k": 32_000,
    "128k": 128_000,
    "256k": 256_000,
    "1m": 1_000_000,
    "4m": 4_000_000,
}


class UnknownSizeError(ValueError):
    """A size not in SIZES."""


@dataclass(frozen=True)
class Task:
    """A question over a context, with the answer it should get. `kind` names the question type,
    which picks the scorer; `gold` is JSON (a number, a string or a list)."""

    id: str
    suite: str
    size: str
    kind: str
    context: str
    question: str
    gold: Any


def size_tokens(size: str) -> int:
    try:
        return SIZES[size.lower()]
    except KeyError:
        raise UnknownSizeError(
            f"unknown size {size!r}; choose from {', '.join(SIZES)} (tokens, 4 characters each)"
        ) from None


def seeded_random(*parts: object) -> random.Random:
    """The same parts give the same sequence on every machine and Python version."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
