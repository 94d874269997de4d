"""The two wire formats the scripted model server speaks: OpenAI chat completions
(POST .../chat/completions) and the Anthropic Messages API (POST .../v1/messages).

Either request is also read into one chat-completions view, with every message's content as one
string and the system prompt as the first message, so responders and tests read both alike; and
into prompt blocks with their cache_control marks for the prefix cache (scripted_prompt_cache.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from fast_rlm.scripted_prompt_cache import CacheAccount, PromptBlock, estimated_tokens

ANTHROPIC_PATH_SUFFIX = "/v1/messages"


@dataclass(frozen=True)
class ChatRequest:
    wire: Literal["openai", "anthropic"]
    view: dict[str, Any]  # the request body, its messages as {"role", "content": str}
    blocks: list[PromptBlock]


def read_request(path: str, body: dict[str, Any]) -> ChatRequest:
    if path.endswith(ANTHROPIC_PATH_SUFFIX):
        return _read_anthropic(body)
    blocks = [block for message in body["messages"] for block in _blocks(message["content"])]
    messages = [_flattened(message) for message in body["messages"]]
    return ChatRequest("openai", {**body, "messages": messages}, blocks)


def _read_anthropic(body: dict[str, Any]) -> ChatRequest:
    system = body.get("system")
    system_blocks = _blocks(system) if system is not None else []
    blocks = system_blocks + [block for message in body["messages"] for block in _blocks(message["content"])]
    messages = [_flattened(message) for message in body["messages"]]
    if system_blocks:
        messages.insert(0, {"role": "system", "content": "".join(block.text for block in system_blocks)})
    view = {key: value for key, value in body.items() if key != "system"}
    return ChatRequest("anthropic", {**view, "messages": messages}, blocks)


def _blocks(content: str | list[dict[str, Any]]) -> list[PromptBlock]:
    if isinstance(content, str):
        return [PromptBlock(content, marked=False)]
    return [PromptBlock(part.get("text", ""), marked="cache_control" in part) for part in content]


def _flattened(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    text = content if isinstance(content, str) else "".join(part.get("text", "") for part in content)
    return {"role": message["role"], "content": text}


def reply_body(
    request: ChatRequest,
    content: str,
    account: CacheAccount,
    reported: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reply in the request's wire format, and the usage block it carries. `reported` holds
    what the script says of usage beyond the token counts (cost, cached and reasoning tokens)."""
    completion_tokens = estimated_tokens(content)
    model = request.view.get("model", "scripted")
    if request.wire == "anthropic":
        usage = {
            "input_tokens": account.uncached_tokens,
            "output_tokens": completion_tokens,
            "cache_creation_input_tokens": account.cache_write_tokens,
            "cache_read_input_tokens": account.cache_read_tokens,
        }
        body = {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "usage": usage,
        }
        return body, usage
    usage: dict[str, Any] = {
        "prompt_tokens": account.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": account.prompt_tokens + completion_tokens,
    }
    if reported.get("cost") is not None:
        usage["cost"] = reported["cost"]
    if reported.get("cached_tokens") is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reported["cached_tokens"]}
    elif account.cache_read_tokens or account.cache_write_tokens:  # as OpenRouter reports them
        usage["prompt_tokens_details"] = {
            "cached_tokens": account.cache_read_tokens,
            "cache_write_tokens": account.cache_write_tokens,
        }
    if reported.get("reasoning_tokens") is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reported["reasoning_tokens"]}
    body = {
        "id": "scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }
    return body, usage
