"""Provider options (llm_kwargs): the one list of known keys, and the checks run() makes on them.

Three layers, each overriding the one before key by key: `llm_kwargs` (every request of the run),
`root_llm_kwargs` or `sub_llm_kwargs` (the root's requests, or its helpers'), and the
`llm_kwargs=` of one llm_query call (that helper's requests). A known key goes into the request
body as it is; any other field goes under `extra_body`, whose entries are put into the request body
untouched (merged one level down across the layers), as the OpenAI SDK sends its extra_body: no
field named extra_body reaches the provider.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from fast_rlm.errors import ConfigError, ConfigTypeError
from fast_rlm.inputs.providers import PROVIDERS, Provider

EXTRA_BODY = "extra_body"
_BOTH: tuple[Provider, ...] = PROVIDERS
_OPENAI: tuple[Provider, ...] = ("openai",)
_ANTHROPIC: tuple[Provider, ...] = ("anthropic",)

# Known key -> the providers whose request body takes it (OpenAI-compatible: OpenAI's and
# OpenRouter's chat-completion fields; Anthropic: the Messages API's).
KNOWN_LLM_KWARGS: dict[str, tuple[Provider, ...]] = {
    "temperature": _BOTH,
    "top_p": _BOTH,
    "top_k": _BOTH,
    "max_tokens": _BOTH,
    "metadata": _BOTH,
    "service_tier": _BOTH,
    "max_completion_tokens": _OPENAI,
    "seed": _OPENAI,
    "stop": _OPENAI,
    "presence_penalty": _OPENAI,
    "frequency_penalty": _OPENAI,
    "repetition_penalty": _OPENAI,
    "min_p": _OPENAI,
    "top_a": _OPENAI,
    "logit_bias": _OPENAI,
    "logprobs": _OPENAI,
    "top_logprobs": _OPENAI,
    "user": _OPENAI,
    "response_format": _OPENAI,
    "verbosity": _OPENAI,
    "reasoning_effort": _OPENAI,
    "reasoning": _OPENAI,  # OpenRouter's reasoning settings
    "provider": _OPENAI,  # OpenRouter's provider routing
    "models": _OPENAI,  # OpenRouter's fallback models
    "route": _OPENAI,
    "transforms": _OPENAI,
    "stop_sequences": _ANTHROPIC,
    "thinking": _ANTHROPIC,
}

# Request-body keys the engine sets or relies on: it sends the model, the system prompt and the
# messages itself, reads one whole JSON reply, and budgets for a single completion per request.
ENGINE_REQUEST_KEYS = ("model", "messages", "system", "stream", "stream_options", "n")


def check_llm_kwargs(llm_kwargs: Any, argument: str, providers: set[Provider]) -> dict[str, Any]:
    """`llm_kwargs` as sent to the engine, checked for the providers of the models it applies to."""
    if llm_kwargs is None:
        return {}
    if not isinstance(llm_kwargs, dict) or not all(isinstance(name, str) for name in llm_kwargs):
        raise ConfigTypeError(
            f"{argument} must be a dict with str keys of model request parameters, e.g. {{'temperature': 0}}."
        )
    extra_body = llm_kwargs.get(EXTRA_BODY, {})
    if not isinstance(extra_body, dict) or not all(isinstance(name, str) for name in extra_body):
        raise ConfigTypeError(f"{argument}['extra_body'] must be a dict of request-body fields.")
    taken = [name for name in [*llm_kwargs, *extra_body] if name in ENGINE_REQUEST_KEYS]
    if taken:
        raise ConfigError(
            f"{argument} cannot set {', '.join(map(repr, taken))}: the engine sets "
            f"{', '.join(ENGINE_REQUEST_KEYS)} of every request itself. Choose models with "
            "primary_agent and sub_agent in the config."
        )
    for name in llm_kwargs:
        if name != EXTRA_BODY:
            _check_known(name, argument, providers)
    try:
        json.dumps(llm_kwargs, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{argument} must hold JSON values only (they go into the request body): {error}."
        ) from None
    return dict(llm_kwargs)


def _check_known(name: str, argument: str, providers: set[Provider]) -> None:
    takers = KNOWN_LLM_KWARGS.get(name)
    if takers is None:
        close = difflib.get_close_matches(name, KNOWN_LLM_KWARGS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{argument}: unknown key {name!r}.{hint} Known keys: {', '.join(KNOWN_LLM_KWARGS)}. "
            f"Send any other request field under {argument}['extra_body'] = {{{name!r}: ...}}; its "
            "entries go into the request body untouched."
        )
    refusing = sorted(provider for provider in providers if provider not in takers)
    if refusing:
        raise ConfigError(
            f"{argument}: {name!r} is not a parameter of the {' and '.join(refusing)} API, which a "
            "configured model uses. Remove it, set it per role (root_llm_kwargs / sub_llm_kwargs), or "
            f"send it under {argument}['extra_body']."
        )


def known_keys_for_engine() -> dict[str, list[str]]:
    """The known keys as the engine checks an llm_query's llm_kwargs against them."""
    return {name: list(takers) for name, takers in KNOWN_LLM_KWARGS.items()}
