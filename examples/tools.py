"""Tools: your own Python functions, available by name inside the sandboxed REPL.

    python examples/tools.py --demo

The root agent gets every tool; a child gets a tool only when its parent passes it with
llm_query(..., tools=[...]). Tools run inside the sandbox, so they must be self-contained
module-level functions (the modules they use are imported for them).
"""

import re
import sys

import fast_rlm
from fast_rlm.cli.demo import scripted_model_config
from fast_rlm.scripted.server import first_user_message, repl

REVIEWS = [
    "Great battery, terrible screen.",
    "Screen is fine; battery died in a day. Terrible.",
    "Great value. Great camera.",
    "Camera is terrible in low light.",
]


def word_counts(text: str) -> dict:
    """How often each lower-cased word occurs in text."""
    counts = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts


def scripted_model(request):
    if "Count the words" in first_user_message(request):
        return repl("FINAL(word_counts(context))")
    return repl("""
parts = await batch_llm_query(*[llm_query(review, "Count the words of this review.", tools=[word_counts])
                                for review in context])
totals = {}
for part in parts:
    for word, count in part.items():
        totals[word] = totals.get(word, 0) + count
FINAL({word: totals[word] for word in ("great", "terrible", "battery", "screen", "camera")})
""")


def main() -> None:
    with scripted_model_config(scripted_model, "--demo" in sys.argv) as model:
        result = fast_rlm.run(
            REVIEWS,
            instruction="How often do the reviews say great, terrible, battery, screen and camera?",
            tools=[word_counts],
            config=model,
            verbosity=0,
        )
    print(result["results"])


if __name__ == "__main__":
    main()
