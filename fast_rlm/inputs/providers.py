"""Which provider serves a model name, and what a run needs to reach each provider it uses.

"anthropic:claude-..." is the native Anthropic Messages API; "openai:name" and a name without a
provider prefix are models of the OpenAI-compatible endpoint at base_url (OpenRouter's
"anthropic/claude-..." included). engine/models/model_names.ts applies the same rules to the model=
of an llm_query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from fast_rlm.errors import UnknownProviderError

Provider = Literal["openai", "anthropic"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic")

_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.+)$", re.DOTALL)
# "llama3:8b" and "mistral:latest" are Ollama tags, not provider prefixes.
_OLLAMA_TAG = re.compile(r"^(latest|\d)")


def provider_of(model: str) -> Provider:
    match = _PREFIX.match(model)
    if match is None or _OLLAMA_TAG.match(match.group(2)):
        return "openai"
    prefix = match.group(1)
    if prefix in PROVIDERS:
        return prefix  # type: ignore[return-value]
    raise UnknownProviderError(
        f"unknown provider prefix '{prefix}:' in the model name {model!r}. Use 'anthropic:<model>' for "
        "the Anthropic API, or a model name of the OpenAI-compatible endpoint at base_url (written "
        f"'openai:{model}' if the name itself holds a colon)."
    )


def models_by_provider(models: Iterable[str]) -> dict[Provider, list[str]]:
    """The providers serving `models`, each with its models (sorted); UnknownProviderError for an
    unknown prefix."""
    served: dict[Provider, list[str]] = {}
    for model in sorted(set(models)):
        served.setdefault(provider_of(model), []).append(model)
    return served
