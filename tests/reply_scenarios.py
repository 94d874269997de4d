"""Named scenarios of replies as weaker and open models write them (issue 13 item 7).

Each scenario is a responder for the scripted server: the n-th model call of the (single) agent
gets the n-th reply of the scenario, and the last reply repeats.
"""

from __future__ import annotations

from typing import Any

from fast_rlm.scripted.server import Responder, ScriptedReply, call_number, repl


def _script(*replies: str | ScriptedReply) -> Responder:
    def respond(request: dict[str, Any]) -> str | ScriptedReply:
        return replies[min(call_number(request), len(replies)) - 1]

    return respond


# Reasoning in <think> tags holds a block of its own that must not run; the reasoning must not go
# back to the model either.
think_tags_with_a_decoy_block = _script(
    "<think>Plan: peek first. Maybe ```repl\nFINAL('from the reasoning')\n``` would do.</think>\n"
    + repl("print('peeked')"),
    repl("FINAL('from the answer')"),
)

# A chat template opened the think block for the model: only the closing tag is in the reply.
think_block_opened_by_the_template = _script(
    "I should answer at once.\n</think>\n\n" + repl("FINAL('after the closing tag')"),
)

# A block at the start of the reply that never closes: everything is reasoning.
unclosed_think_block = _script(
    "<think>Let me consider ```repl\nFINAL('half-thought')\n``` and then",
    repl("FINAL('second try')"),
)

# Code that merely handles think tags is code, not reasoning.
code_that_handles_think_tags = _script(
    repl("reply = '<think>x</think>answer'\nFINAL(reply.split('</think>')[-1])"),
)

# DeepSeek/vLLM put reasoning in reasoning_content; OpenRouter-style providers in reasoning.
reasoning_fields = _script(
    ScriptedReply(content=repl("x = 6"), reasoning_content="Plan A: set x first."),
    ScriptedReply(content=repl("FINAL(x * 7)"), reasoning="Plan B: multiply."),
)

# Content as a list of parts: text split over two parts, with a thinking part before them.
content_as_parts = _script(
    ScriptedReply(
        content=[
            {"type": "thinking", "thinking": "The parts hold it."},
            {"type": "text", "text": "```repl\nFINAL('from "},
            {"type": "text", "text": "parts')\n```"},
        ]
    ),
)

# ```py and ```python blocks both run, in the order written.
py_and_python_fences = _script("```py\nx = 6\n```\nthen\n```python\nFINAL(x * 7)\n```")

# An unlabelled fence runs when there is no repl or python block.
unlabelled_fence = _script("Here:\n```\nFINAL('unlabelled')\n```")

# A repl block wins: the unlabelled block beside it is an example, not code to run.
repl_block_beside_an_unlabelled_one = _script(
    "Output looks like:\n```\nFINAL('unlabelled')\n```\n" + repl("FINAL('repl')"),
)

# FINAL(...) and FINAL_VAR(name) written as lines of their own outside any block.
final_line_outside_a_block = _script("The answer is computed.\nFINAL(6 * 7)")
final_var_line_outside_a_block = _script(
    repl("answer = {'total': 42}"),
    "I have it now.\n\n  FINAL_VAR(answer)  \n",
)

# FINAL written in prose, inline code, reasoning, or beside a code block: none of it ends the agent.
final_in_prose = _script(
    "I will call FINAL(42) once done.",
    "Next I run `FINAL(1)`.\nFINAL(1) or FINAL(2)",
    "<think>\nFINAL('thought')\n</think>\nLet me look first.",
    repl("print('looking')") + "\nFINAL('beside a block')",
    repl("FINAL('real')"),
)

# FINAL_VAR inside a block: by name; a missing name and a value are refused with the fix.
final_var_in_a_block = _script(
    repl("FINAL_VAR('not_set')"),
    repl("FINAL_VAR(3)"),
    repl("result = [1, 2]\nFINAL_VAR('result')"),
)

# An empty reply, then one with only reasoning (content null), then a good one.
empty_then_reasoning_only = _script(
    ScriptedReply(content=""),
    ScriptedReply(null_content=True, reasoning_content="Still thinking about it."),
    repl("FINAL('answered')"),
)

# A reply cut at the output token limit: its (complete-looking) block must not run.
cut_at_the_token_limit = _script(
    ScriptedReply(content=repl("FINAL('cut')") + "\nand then I would", finish_reason="length"),
    repl("FINAL('whole')"),
)

# Every reply is empty: the empty replies use up the agent's calls.
always_empty = _script(ScriptedReply(content=""))

# For the viewer: a cut reply that carried reasoning, then a whole one.
reasoning_and_a_cut_reply = _script(
    ScriptedReply(content=repl("print('x'"), reasoning_content="A long plan.", finish_reason="length"),
    repl("FINAL('done')"),
)
