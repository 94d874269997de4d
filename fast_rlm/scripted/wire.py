"""The two wire formats the scripted model server speaks: OpenAI chat completions
(POST .../chat/completions) and the Anthropic Messages API (POST .../v1/messages).

Either request is also read into one chat-completions view, the system prompt as the first message,
so responders and tests read both alike: a message's content is one string, or OpenAI parts (text
and image_url) when it carries images. And into prompt blocks with their cache_control marks for the
prefix cache (scripted_prompt_cache.py). A reply honours the script's fields on either wire:
reasoning as reasoning fields or a thinking block, finish_reason as finish_reason or stop_reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fast_rlm.scripted.prompt_cache import CacheAccount, PromptBlock, estimated_tokens

if TYPE_CHECKING:
    from fast_rlm.scripted.server import ScriptedReply

ANTHROPIC_PATH_SUFFIX = "/v1/messages"
# finish_reason as the Messages API spells it in stop_reason.
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


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
    """The message as the chat-completions view holds it: its text, or text and image_url parts."""
    content = message["content"]
    if isinstance(content, str):
        return {"role": message["role"], "content": content}
    parts = [_openai_part(part) for part in content]
    if all(part["type"] == "text" for part in parts):
        return {"role": message["role"], "content": "".join(part["text"] for part in parts)}
    return {"role": message["role"], "content": parts}


def _openai_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image_url":
        return {"type": "image_url", "image_url": part["image_url"]}
    if part.get("type") == "image":  # Anthropic's base64 image block
        source = part["source"]
        url = f"data:{source['media_type']};base64,{source['data']}"
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "text", "text": part.get("text", "")}


def reply_body(
    request: ChatRequest, reply: ScriptedReply, account: CacheAccount
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reply in the request's wire format, and the usage block it carries."""
    content = reply.content or ""
    completion_tokens = estimated_tokens(content if isinstance(content, str) else json.dumps(content))
    model = request.view.get("model", "scripted")
    if request.wire == "anthropic":
        return _anthropic_body(reply, content, model, account, completion_tokens)
    usage: dict[str, Any] = {
        "prompt_tokens": account.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": account.prompt_tokens + completion_tokens,
    }
    if reply.cost is not None:
        usage["cost"] = reply.cost
    if reply.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    elif account.cache_read_tokens or account.cache_write_tokens:  # as OpenRouter reports them
        usage["prompt_tokens_details"] = {
            "cached_tokens": account.cache_read_tokens,
            "cache_write_tokens": account.cache_write_tokens,
        }
    if reply.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
    message: dict[str, Any] = {"role": "assistant", "content": None if reply.null_content else content}
    if reply.reasoning_content is not None:
        message["reasoning_content"] = reply.reasoning_content
    if reply.reasoning is not None:
        message["reasoning"] = reply.reasoning
    body = {
        "id": "scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": usage,
    }
    return body, usage


def _anthropic_body(
    reply: ScriptedReply,
    content: str | list[dict[str, Any]],
    model: str,
    account: CacheAccount,
    completion_tokens: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    usage = {
        "input_tokens": account.uncached_tokens,
        "output_tokens": completion_tokens,
        "cache_creation_input_tokens": account.cache_write_tokens,
        "cache_read_input_tokens": account.cache_read_tokens,
    }
    # The Messages API has one place for reasoning: thinking blocks ahead of the text.
    reasoning = [text for text in (reply.reasoning_content, reply.reasoning) if text is not None]
    blocks: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": text, "signature": "scripted"} for text in reasoning
    ]
    if not reply.null_content:
        blocks += [{"type": "text", "text": content}] if isinstance(content, str) else content
    body = {
        "id": "msg_scripted",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": _STOP_REASONS.get(reply.finish_reason, reply.finish_reason),
        "usage": usage,
    }
    return body, usage
