"""`--model scripted`: a policy for the scripted model server (fast_rlm/scripted/server.py) that
solves the generated suites the way an RLM should, by writing real REPL code: the root splits
`context` into pieces, fans out one child per piece with llm_query, and aggregates what they
return; each child searches its piece with code. Every task kind of every suite has its plan.

A plain model call (`--baseline`) gets the same search code run on what fits a 32K-token window,
the part of the prompt such a model could read. Replies carry a nominal cost ($1 per million
prompt tokens) so that --max-cost can be exercised without a paid endpoint.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from benchmarks.suites.records import TOPIC_PHRASES, TOPICS
from fast_rlm.scripted.server import ScriptedReply, call_number, first_user_message, repl

LEAF_MARK = "[scripted leaf]"
PIECE_CHARS = 250_000
BASELINE_WINDOW_CHARS = 32_000 * 4
BASELINE_QUESTION_MARK = "\n\nQuestion: "  # as benchmarks/baseline.py puts it after the context
NOMINAL_DOLLARS_PER_PROMPT_TOKEN = 1e-6
TASK_LINE = re.compile(r"Task: (.*?)\n\n`context` holds", re.DOTALL)
NO_PLAN = "The scripted policy has no plan for this question."
UNEXPECTED = repl('FINAL("the scripted policy expected its code to finish in one step")')


class UnknownQuestionError(ValueError):
    """A question none of the generated suites asks."""


@dataclass(frozen=True)
class Plan:
    """Source defining leaf(text) (a child's search of its piece) and combine(parts) (the root's
    aggregation of the children's answers), and where pieces may be cut: after the first `keep`
    characters of an occurrence of `boundary`, so no record, needle or file is split."""

    leaf: str
    combine: str
    boundary: str
    keep: int


def sniah_plan(question: str) -> Plan:
    key = re.search(r"magic numbers? for (\S+) mentioned", question).group(1)
    pick = (
        "sorted(set(found))" if "all the special magic numbers" in question else "found[0] if found else None"
    )
    return Plan(
        leaf=(
            "import re\ndef leaf(text):\n"
            f"    return re.findall(r'special magic number for {re.escape(key)} is (\\d+)', text)"
        ),
        combine=(
            "def combine(parts):\n    found = [number for part in parts for number in part]\n"
            f"    return {pick}"
        ),
        boundary=". ",
        keep=2,
    )


TOPIC_OF = {phrase: topic for topic, phrases in TOPIC_PHRASES.items() for phrase in phrases}
RECORD_LEAF = f"""TOPIC_OF = {json.dumps(TOPIC_OF)}
def records(text):
    for line in text.splitlines():
        date, user, instance = line.split(" || ")
        topic = TOPIC_OF[instance.removeprefix("Instance: ")]
        yield date.removeprefix("Date: ")[:4], int(user.removeprefix("User: ")), topic
"""


def oolong_plan(question: str) -> Plan:
    leaf = RECORD_LEAF + (
        "def leaf(text):\n    counts = {}\n    for year, user, topic in records(text):\n"
        "        for key in (topic, topic + '@' + year):\n            counts[key] = counts.get(key, 0) + 1\n"
        "    return counts"
    )
    total = (
        f"def combine(parts):\n    total = {{topic: 0 for topic in {list(TOPICS)!r}}}\n"
        "    for part in parts:\n        for key, count in part.items():\n"
        "            total[key] = total.get(key, 0) + count\n"
    )
    if match := re.search(r"How many records have the topic (\w+)\?", question):
        answer = f"total[{match.group(1)!r}]"
    elif match := re.search(r"topic (\w+) are dated in (\d{4})", question):
        answer = f"total.get({match.group(1) + '@' + match.group(2)!r}, 0)"
    elif "most frequent" in question:
        answer = f"max({list(TOPICS)!r}, key=total.get)"
    elif "least frequent" in question:
        answer = f"min({list(TOPICS)!r}, key=total.get)"
    elif match := re.search(
        r"topic (\w+) more, less or same as common as records with the topic (\w+)", question
    ):
        first, second = match.group(1), match.group(2)
        answer = (
            f"'more' if total[{first!r}] > total[{second!r}] else "
            f"'less' if total[{first!r}] < total[{second!r}] else 'same'"
        )
    else:
        raise UnknownQuestionError(f"no oolong plan for: {question}")
    return Plan(leaf=leaf, combine=total + f"    return {answer}", boundary="\n", keep=1)


def pairs_plan(question: str) -> Plan:
    if match := re.search(r"both have at least one record with the topic (\w+)", question):
        first = second = match.group(1)
    elif match := re.search(
        r"one has a record with the topic (\w+) and the other has a record with the topic (\w+)", question
    ):
        first, second = match.group(1), match.group(2)
    else:
        raise UnknownQuestionError(f"no oolong-pairs plan for: {question}")
    leaf = RECORD_LEAF + (
        f"def leaf(text):\n    wrote = {{{first!r}: set(), {second!r}: set()}}\n"
        "    for year, user, topic in records(text):\n"
        "        if topic in wrote:\n            wrote[topic].add(user)\n"
        "    return {topic: sorted(users) for topic, users in wrote.items()}"
    )
    combine = (
        f"def combine(parts):\n    firsts = {{u for part in parts for u in part[{first!r}]}}\n"
        f"    seconds = {{u for part in parts for u in part[{second!r}]}}\n"
        "    return sorted({(min(a, b), max(a, b)) for a in firsts for b in seconds if a != b})"
    )
    return Plan(leaf=leaf, combine=combine, boundary="\n", keep=1)


CODE_LEAF = """import re
def functions(text):
    file = None
    for line in text.splitlines():
        if line.startswith("# file: "):
            file = line.removeprefix("# file: ")
        elif line.startswith("def "):
            name = line[4:line.index("(")]
        elif line.startswith("    return "):
            callee, constant = re.fullmatch(r"    return (?:(\\w+)\\(x\\)|x) \\+ (\\d+)", line).groups()
            yield name, file, callee, int(constant)
"""


def codeqa_plan(question: str) -> Plan:
    if match := re.search(r"function (\w+) defined\?", question):
        leaf = (
            "def leaf(text):\n"
            f"    return [file for name, file, _, _ in functions(text) if name == {match.group(1)!r}]"
        )
        combine = "def combine(parts):\n    return next(file for part in parts for file in part)"
    elif match := re.search(r"Which functions call (\w+) directly\?", question):
        leaf = (
            "def leaf(text):\n"
            f"    return [name for name, _, callee, _ in functions(text) if callee == {match.group(1)!r}]"
        )
        combine = "def combine(parts):\n    return sorted(name for part in parts for name in part)"
    elif match := re.search(r"What does (\w+)\(0\) return\?", question):
        leaf = (
            "def leaf(text):\n"
            "    return {name: [callee, constant] for name, _, callee, constant in functions(text)}"
        )
        combine = (
            "def combine(parts):\n    graph = {name: edge for part in parts for name, edge in part.items()}\n"
            f"    total, current = 0, {match.group(1)!r}\n    while current is not None:\n"
            "        callee, constant = graph[current]\n        total, current = total + constant, callee\n"
            "    return total"
        )
    else:
        raise UnknownQuestionError(f"no codeqa plan for: {question}")
    return Plan(leaf=CODE_LEAF + leaf, combine=combine, boundary="\n# file: ", keep=1)


def plan_for(question: str) -> Plan:
    if "special magic number" in question:
        return sniah_plan(question)
    if "List every pair" in question:
        return pairs_plan(question)
    if "Each line is a record" in question:
        return oolong_plan(question)
    if "Python code base" in question:
        return codeqa_plan(question)
    raise UnknownQuestionError(f"the scripted policy has no plan for: {question[:200]}")


def root_code(question: str, plan: Plan) -> str:
    return f"""{plan.combine}
def pieces_of(text, count):
    size, start, pieces = max(1, len(text) // count), 0, []
    while start < len(text):
        cut = text.find({plan.boundary!r}, start + size)
        end = len(text) if cut < 0 else cut + {plan.keep}
        pieces.append(text[start:end])
        start = end
    return pieces
pieces = pieces_of(context, max(2, -(-len(context) // {PIECE_CHARS})))
print(f"{{len(pieces)}} pieces")
parts = await batch_llm_query(*[llm_query(piece, {LEAF_MARK + " " + question!r}) for piece in pieces])
FINAL(combine(parts))"""


def leaf_code(plan: Plan) -> str:
    return f"{plan.leaf}\nFINAL(leaf(context))"


def baseline_answer(prompt: str) -> str:
    """What a plain model with a 32K-token window finds: the same search over the part it can read."""
    context, _, question = prompt.rpartition(BASELINE_QUESTION_MARK)
    plan = plan_for(question)
    namespace: dict[str, Any] = {}
    exec(plan.leaf + "\n" + plan.combine, namespace)  # the policy's own code, as the REPL would run it
    try:
        window = context[:BASELINE_WINDOW_CHARS]
        if len(window) < len(context):  # read up to the last whole record, needle or function
            window = window[: window.rfind(plan.boundary) + plan.keep]
        return str(namespace["combine"]([namespace["leaf"](window)]))
    except (StopIteration, KeyError, ValueError):  # the part it read lacks what the question needs
        return "I cannot tell from the text I can read."


def nominal_cost(request: dict[str, Any]) -> float:
    prompt_chars = sum(len(json.dumps(message["content"])) for message in request["messages"])
    return math.ceil(prompt_chars / 4) * NOMINAL_DOLLARS_PER_PROMPT_TOKEN


def respond(request: dict[str, Any]) -> ScriptedReply:
    """The scripted server's responder: a root plan, a leaf search, or a baseline answer."""
    cost = nominal_cost(request)
    plain_call = not any(message["role"] == "system" for message in request["messages"])
    try:
        if plain_call:
            return ScriptedReply(content=baseline_answer(first_user_message(request)), cost=cost)
        if call_number(request) > 1:
            return ScriptedReply(content=UNEXPECTED, cost=cost)
        task = TASK_LINE.search(first_user_message(request)).group(1)
        if task.startswith(LEAF_MARK):
            code = leaf_code(plan_for(task.removeprefix(LEAF_MARK + " ")))
        else:
            code = root_code(task, plan_for(task))
    except UnknownQuestionError:  # a public dataset's question: the policy answers that it cannot
        return ScriptedReply(content=NO_PLAN if plain_call else repl(f"FINAL({NO_PLAN!r})"), cost=cost)
    return ScriptedReply(content=repl(code), cost=cost)
