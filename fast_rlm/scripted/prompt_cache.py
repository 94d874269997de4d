"""Anthropic-style prompt caching for the scripted model server.

A request's prompt is a list of blocks (the system prompt's, then each message's), some marked with
cache_control. A marked block stores the prompt up to it in the cache. A later request reads the
longest stored prefix it starts with, looking back from its last marked block over at most
LOOKBACK_BLOCKS block boundaries, as Anthropic does; what lies between that and its last marked block
is written. Tokens are estimated as the rest of the scripted server estimates them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

LOOKBACK_BLOCKS = 20


def estimated_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class PromptBlock:
    text: str
    marked: bool  # carries cache_control


@dataclass(frozen=True)
class CacheAccount:
    """A prompt's tokens, split as Anthropic reports them."""

    uncached_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int

    @property
    def prompt_tokens(self) -> int:
        return self.uncached_tokens + self.cache_read_tokens + self.cache_write_tokens


class PrefixCache:
    def __init__(self) -> None:
        self._stored: set[str] = set()
        self._lock = threading.Lock()

    def account(self, model: str, blocks: list[PromptBlock]) -> CacheAccount:
        tokens = [estimated_tokens(block.text) for block in blocks]
        marked = [index for index, block in enumerate(blocks) if block.marked]
        if not marked:
            return CacheAccount(sum(tokens), 0, 0)
        keys = _prefix_keys(model, blocks)
        last_marked = marked[-1]
        with self._lock:
            read_end = next(
                (
                    index + 1
                    for index in range(last_marked, max(-1, last_marked - LOOKBACK_BLOCKS - 1), -1)
                    if keys[index] in self._stored
                ),
                0,
            )
            self._stored.update(keys[index] for index in marked)
        read = sum(tokens[:read_end])
        written = sum(tokens[read_end : last_marked + 1])
        return CacheAccount(sum(tokens) - read - written, read, written)


def _prefix_keys(model: str, blocks: list[PromptBlock]) -> list[str]:
    """For each block, a digest of the model and the prompt up to and including it."""
    digest = hashlib.sha256(model.encode())
    keys = []
    for block in blocks:
        digest.update(len(block.text).to_bytes(8, "big") + block.text.encode())
        keys.append(digest.copy().hexdigest())
    return keys
