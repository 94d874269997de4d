"""The OpenAI-compatible and the Anthropic wire formats read a reply with one set of rules
(engine/reply_parts.ts assembledReply, engine/models/token_counts.ts reportedUsage): the same reply,
said in each format, reads the same."""

import json
import subprocess
from pathlib import Path

from fast_rlm.host.deno_setup import deno_binary, deno_environment
from fast_rlm.host.resources import deno_config_file, deno_lock_file, project_files_dir

HARNESS = Path(__file__).with_name("reply_parsing.ts")


def _openai(content, reasoning=None, usage=None):
    message = {
        "role": "assistant",
        "content": content,
        **({"reasoning_content": reasoning} if reasoning else {}),
    }
    return {"choices": [{"message": message, "finish_reason": "stop"}], **({"usage": usage} if usage else {})}


def _anthropic(text, thinking=None, usage=None):
    blocks = ([{"type": "thinking", "thinking": thinking}] if thinking else []) + [
        {"type": "text", "text": text}
    ]
    return {"content": blocks, "stop_reason": "end_turn", **({"usage": usage} if usage else {})}


def _parsed(pairs):
    command = [
        deno_binary(), "run", "--cached-only", "--frozen", "--no-remote", "--no-prompt",
        "--config", str(deno_config_file()), "--lock", str(deno_lock_file()), str(HARNESS),
    ]  # fmt: skip
    finished = subprocess.run(
        command, input=json.dumps(pairs), env=deno_environment(), cwd=project_files_dir(),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout)


def test_the_same_reply_reads_the_same_in_both_formats():
    pairs = [
        # Reasoning that is only whitespace is no reasoning; a leading think block is reasoning.
        {"openai": _openai("<think>plan</think>answer", reasoning="  \n"),
         "anthropic": _anthropic("<think>plan</think>answer", thinking="  \n")},
        {"openai": _openai("answer", reasoning="thought"),
         "anthropic": _anthropic("answer", thinking="thought")},
        {"openai": _openai(""), "anthropic": _anthropic("")},
        # A usage block without token counts says nothing, in either format.
        {"openai": _openai("a", usage={"cost": 1}),
         "anthropic": _anthropic("a", usage={"service_tier": "x"})},
        {"openai": _openai("a", usage={"prompt_tokens": 7, "completion_tokens": -1}),
         "anthropic": _anthropic("a", usage={"input_tokens": 7, "output_tokens": "x"})},
    ]  # fmt: skip
    for pair in _parsed(pairs):
        assert pair["openai"] == pair["anthropic"]
    first = _parsed(pairs[:1])[0]["openai"]["reply"]
    assert first == {"text": "answer", "reasoning": "plan", "finishReason": "stop"}
