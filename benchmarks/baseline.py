"""`--baseline`: a task as one plain chat-completions call, the whole context in the prompt (what
the RLM paper compares against). A model whose window the prompt overflows fails the call; the
runner scores that 0, as the paper does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from benchmarks.suites import Task

QUESTION_MARK = "\n\nQuestion: "
TIMEOUT_S = 600


class EndpointUnreachableError(ConnectionError):
    """Nothing answered at the base URL."""


class PlainCallError(RuntimeError):
    """The endpoint answered with an error (a prompt over the model's window, a bad model name...)."""


@dataclass
class PlainReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None


def prompt_of(task: Task) -> str:
    return f"{task.context}{QUESTION_MARK}{task.question}"


def plain_call(base_url: str, api_key: str, model: str, task: Task) -> PlainReply:
    body = {"model": model, "messages": [{"role": "user", "content": prompt_of(task)}]}
    request = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            reply: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise PlainCallError(f"HTTP {error.code} from {base_url}: {detail}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise EndpointUnreachableError(f"cannot reach {base_url}: {error}") from None
    usage = reply.get("usage") or {}
    return PlainReply(
        text=reply["choices"][0]["message"].get("content") or "",
        prompt_tokens=usage.get("prompt_tokens", 0),
        completion_tokens=usage.get("completion_tokens", 0),
        cost=usage.get("cost"),
    )
