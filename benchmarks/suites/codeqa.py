"""codeqa: questions over a generated Python code base (files concatenated, each after a
`# file: pkg/mod_N.py` line): where a function is defined, which functions call a function, and
what a function returns for 0, which means following calls across files. Functions only call
functions defined before them, so every call chain ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from benchmarks.suites.scoring import f1, names_in, numeric_score
from benchmarks.suites.task import CHARS_PER_TOKEN, Task, seeded_random, size_tokens

NAME = "codeqa"
KINDS = ("define", "callers", "value")
VERBS = ["load", "parse", "build", "merge", "score", "render", "check", "route", "store", "fetch"]
NOUNS = ["order", "user", "graph", "token", "report", "cache", "query", "frame", "batch", "ledger"]
FUNCTIONS_PER_FILE = 12
CALL_WINDOW = 40  # a function calls one of the 40 defined just before it
LEAF_SHARE = 0.3
APPROX_FUNCTION_CHARS = 64
FILE_PATTERN = re.compile(r"pkg/mod_\d+\.py")
FUNCTION_PATTERN = re.compile(r"\b[a-z]+_[a-z]+_\d+\b")


@dataclass(frozen=True)
class Function:
    name: str
    file: str
    callee: str | None  # None: a leaf, returning x + constant
    constant: int

    def source(self) -> str:
        body = f"{self.callee}(x)" if self.callee else "x"
        return f"def {self.name}(x):\n    return {body} + {self.constant}\n"


def build_code_base(size: str, index: int) -> list[Function]:
    rng = seeded_random(NAME, size, index)
    count = max(2 * FUNCTIONS_PER_FILE, size_tokens(size) * CHARS_PER_TOKEN // APPROX_FUNCTION_CHARS)
    functions: list[Function] = []
    for number in range(count):
        callee = None
        if number and rng.random() > LEAF_SHARE:
            callee = functions[rng.randrange(max(0, number - CALL_WINDOW), number)].name
        functions.append(
            Function(
                name=f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{number}",
                file=f"pkg/mod_{number // FUNCTIONS_PER_FILE}.py",
                callee=callee,
                constant=rng.randint(1, 9),
            )
        )
    return functions


def render(functions: list[Function]) -> str:
    parts: list[str] = []
    for function in functions:
        if not parts or not parts[-1].startswith(f"# file: {function.file}"):
            parts.append(f"# file: {function.file}\n")
        parts[-1] += "\n" + function.source()
    return "\n".join(parts)


def value_at_zero(functions: dict[str, Function], name: str) -> int:
    total = 0
    current: str | None = name
    while current is not None:
        total += functions[current].constant
        current = functions[current].callee
    return total


def generate(size: str, index: int) -> Task:
    kind = KINDS[index % len(KINDS)]
    rng = seeded_random(NAME, size, index, "question")
    functions = build_code_base(size, index)
    by_name = {function.name: function for function in functions}
    if kind == "define":
        asked = rng.choice(functions)
        question, gold = f"In which file is the function {asked.name} defined?", asked.file
    elif kind == "callers":
        callees = sorted({function.callee for function in functions if function.callee})
        asked_name = rng.choice(callees)
        question = f"Which functions call {asked_name} directly? List their names."
        gold = sorted(function.name for function in functions if function.callee == asked_name)
    else:
        asked = rng.choice(functions[len(functions) // 2 :])
        question, gold = f"What does {asked.name}(0) return?", value_at_zero(by_name, asked.name)
    return Task(
        id=f"{NAME}-{size}-{index}",
        suite=NAME,
        size=size,
        kind=kind,
        context=render(functions),
        question=f"The context is a Python code base; each file starts with a '# file:' line. {question}",
        gold=gold,
    )


def score(task: Task, answer: Any) -> float:
    if task.kind == "define":
        return 1.0 if names_in(answer, FILE_PATTERN) == {task.gold} else 0.0
    if task.kind == "callers":
        return f1(names_in(answer, FUNCTION_PATTERN), set(task.gold))
    return 1.0 if numeric_score(answer, task.gold) == 1.0 else 0.0
