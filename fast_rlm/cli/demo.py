"""`fast-rlm demo`: a real recursive run through the real engine, with a built-in scripted model
served on 127.0.0.1, so it needs no key, and runs offline after the first set-up.

The scripted model plays a small plan: the root splits a list of fruit names into chunks and fans
them out to children that count the letter r; it then hands the counts to a child that delegates
the sum to a grandchild (a chain); finally it answers with both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fast_rlm.run import run
from fast_rlm.run_arguments import EventCallback
from fast_rlm.scripted.server import Responder, ScriptedModelServer, call_number, first_user_message, repl

FRUITS = [
    "strawberry",
    "raspberry",
    "blackberry",
    "cherry",
    "apricot",
    "orange",
    "pear",
    "grape",
    "banana",
    "apple",
    "cranberry",
    "mulberry",
    "kiwi",
    "mango",
    "persimmon",
    "tangerine",
]
COUNT_TASK = "Count the letter r in each fruit name; FINAL a dict of name -> count."
SUM_TASK = "Add up these counts, delegating the arithmetic to a helper."
ADD_TASK = "Add these numbers."

ROOT_PLAN = [
    f"""
fruits = context["fruits"]
chunks = [fruits[i:i + 4] for i in range(0, len(fruits), 4)]
print(len(fruits), "fruits in", len(chunks), "chunks")
counts = {{}}
for part in await batch_llm_query(*[llm_query(chunk, {COUNT_TASK!r}) for chunk in chunks]):
    counts.update(part)
total = await llm_query(list(counts.values()), {SUM_TASK!r})
print("counted", len(counts), "fruits; total r's:", total)
""",
    """FINAL({"r_counts": counts, "total": total})""",
]


def demo_model(request: dict[str, Any]) -> str:
    task = first_user_message(request)
    if COUNT_TASK in task:
        return repl("FINAL({name: name.lower().count('r') for name in context})")
    if SUM_TASK in task:
        return repl(f"FINAL(await llm_query(context, {ADD_TASK!r}))")
    if ADD_TASK in task:
        return repl("FINAL(sum(context))")
    step = min(call_number(request), len(ROOT_PLAN)) - 1
    return repl(ROOT_PLAN[step])


# The scripted model costs nothing and reports no cost: there is no money to cap, and nothing to warn of.
FREE_MODEL = {"max_money_spent": None}


@contextmanager
def scripted_model_config(responder: Responder, use_scripted_model: bool) -> Iterator[dict[str, Any]]:
    """Config entries that point a run at a scripted model on 127.0.0.1 (for examples run with
    --demo), or none, so the run uses the real endpoint from the environment."""
    if not use_scripted_model:
        yield {}
        return
    with ScriptedModelServer(responder) as server:
        yield {"base_url": server.base_url, "api_key": "demo-key", **FREE_MODEL}


def run_demo(
    log_dir: str | Path | None = None, verbosity: int = 1, on_event: EventCallback | None = None
) -> dict[str, Any]:
    query = {"fruits": FRUITS, "question": "How many r's does each fruit name have, and in total?"}
    with ScriptedModelServer(demo_model) as server:
        result = run(
            query,
            prefix="demo",
            config={
                "base_url": server.base_url,
                "api_key": "demo-key",
                "primary_agent": "scripted-demo",
                "sub_agent": "scripted-demo",
                **FREE_MODEL,
            },
            instruction=query["question"],
            log_dir=log_dir,
            verbosity=verbosity,
            on_event=on_event,
        )
    result["requests"] = server.request_count
    return result
