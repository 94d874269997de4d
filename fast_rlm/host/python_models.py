"""Models that are Python callables: `model(messages, **llm_kwargs) -> str | {"content", "usage"}`,
sync or async, given as run(model=fn) or run(models={"name": fn}). A callable plugs in LiteLLM, a
local model or a test double with no HTTP server.

The engine calls them like host functions (a model_call message, answered with a model_result), in
a small thread pool here; `messages` are OpenAI chat messages (images as image_url parts with data
URLs). A callable that raises, or returns something else, fails that model call with an LLMError.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fast_rlm.errors import ModelCallableError
from fast_rlm.host.host_functions import MAX_PARALLEL_CALLS, Reply, called

SIGNATURE_HELP = "def my_model(messages, **llm_kwargs) -> str | dict  (sync or async)"
_USAGE_COUNTS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def check_model_callable(name: str, model: Any) -> None:
    """Raises ModelCallableError, naming the fix, unless `model` can be called as SIGNATURE_HELP."""
    if not callable(model):
        raise ModelCallableError(f"models[{name!r}] must be a callable ({SIGNATURE_HELP}); got {model!r}.")
    try:
        signature = inspect.signature(model)
    except (TypeError, ValueError):
        return  # a builtin or C callable without a readable signature: trusted as it is
    takes_keywords = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    try:
        signature.bind(["messages"])
    except TypeError:
        takes_keywords = False
    if not takes_keywords:
        raise ModelCallableError(
            f"the model {name!r} has the signature {signature}; a Python model must take the messages "
            f"as its one positional argument and the request's llm_kwargs as keywords: {SIGNATURE_HELP}."
        )


class ModelRunner:
    """Calls the run's Python models for the engine, several at once."""

    def __init__(self, models: dict[str, Callable[..., Any]]) -> None:
        self._models = dict(models)
        self._executor = ThreadPoolExecutor(MAX_PARALLEL_CALLS, thread_name_prefix="fast-rlm-model")

    def submit(self, call: dict[str, Any], reply: Reply) -> None:
        self._executor.submit(self._run, call, reply)

    def _run(self, call: dict[str, Any], reply: Reply) -> None:
        answer: dict[str, Any] = {"type": "model_result", "call_id": call["call_id"]}
        try:
            returned = called(self._models[call["model"]], call["messages"], **call["llm_kwargs"])
            content, usage = _reply_of(call["model"], returned)
            answer.update(ok=True, content=content, usage=usage)
        except Exception as error:  # any failure of the user's model fails that model call
            answer.update(ok=False, error={"type": type(error).__name__, "message": str(error)})
        reply(answer)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _reply_of(name: str, returned: Any) -> tuple[str, dict[str, Any] | None]:
    """The reply's text and its usage (None when the model reported none)."""
    if isinstance(returned, str):
        return returned, None
    if not isinstance(returned, dict) or not isinstance(returned.get("content"), str):
        raise TypeError(
            f"the model {name!r} returned {type(returned).__name__}; return the reply's text (str) or "
            '{"content": str, "usage": {"prompt_tokens": int, "completion_tokens": int, ...}}.'
        )
    usage = returned.get("usage")
    if usage is None:
        return returned["content"], None
    if not isinstance(usage, dict):
        raise TypeError(f"the model {name!r} returned a usage that is not a dict: {usage!r}.")
    counts = {}
    for key in _USAGE_COUNTS:
        value = usage.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError(
                f"the model {name!r} returned usage[{key!r}] = {value!r}; it must be an int >= 0."
            )
        counts[key] = value
    cost = usage.get("cost")
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost)
    ):
        raise TypeError(
            f"the model {name!r} returned usage['cost'] = {cost!r}; it must be a number (USD) or None."
        )
    return returned["content"], {**counts, "cost": cost}


def python_models_of(models: Any, model: Any) -> tuple[dict[str, Callable[..., Any]], str | None]:
    """run()'s `models` map checked, with run(model=fn) added to it. Returns the map and the name
    every agent's model takes from run(model=...) (None when it was not given)."""
    if models is None:
        models = {}
    if not isinstance(models, dict) or not all(isinstance(name, str) and name for name in models):
        raise ModelCallableError(
            'models must be a dict of model name -> callable, e.g. models={"local": my_model} '
            f"({SIGNATURE_HELP})."
        )
    checked = dict(models)
    for name, function in checked.items():
        check_model_callable(name, function)
    if model is None:
        return checked, None
    if isinstance(model, str):
        if not model:
            raise ModelCallableError("model must be a model name or a callable, not an empty str.")
        return checked, model
    function_name = getattr(model, "__name__", "")
    name = f"python:{function_name if function_name.isidentifier() else 'model'}"
    check_model_callable(name, model)
    if checked.get(name, model) is not model:
        raise ModelCallableError(f"models already has another callable named {name!r}; rename one of them.")
    checked[name] = model
    return checked, name
