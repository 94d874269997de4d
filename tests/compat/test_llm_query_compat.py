"""llm_query as fast-rlm 0.5.0's users call it: the schema as the second positional argument, the
instruction by keyword, batch_llm_query; and every wrong argument a TypeError in the agent's REPL
that never ends the run (the patterns of 0.5.0's parallel_r_count and tools_market_scanner examples).
"""

from __future__ import annotations

import json

import fast_rlm
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log

ROOT_QUERY = "the root's query"


def is_root(request) -> bool:
    # Helpers started without an instruction get the root's default task too, so the query tells.
    return f'Start: "{ROOT_QUERY}"' in first_user_message(request)


NAMES = {"fruit": ["cherry", "pear", "fig"], "animal": ["horse", "cat", "parrot"]}

R_COUNT_ROOT = """
import asyncio
schema = {"type": "array", "items": {"type": "string"}}
fruits, animals = await asyncio.gather(
    llm_query("Generate exactly 3 fruit names.", schema),
    llm_query("Generate exactly 3 animal names.", schema),
)
FINAL([{"name": name, "r_count": name.lower().count("r")} for name in fruits + animals])
"""


def test_schema_as_second_positional_argument_with_gather(scripted_server):
    def respond(request):
        if is_root(request):
            return repl(R_COUNT_ROOT)
        kind = "fruit" if "fruit" in first_user_message(request) else "animal"
        if call_number(request) == 1:
            return repl(f"FINAL({', '.join(NAMES[kind])!r})")  # a str: the schema must reject it
        return repl(f"FINAL({NAMES[kind]!r})")

    server = scripted_server(respond)
    output_schema = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "r_count": {"type": "integer"}},
            "required": ["name", "r_count"],
        },
    }
    result = fast_rlm.run(ROOT_QUERY, config=config_for(server), output_schema=output_schema, verbosity=0)

    assert result["results"] == [
        {"name": "cherry", "r_count": 2},
        {"name": "pear", "r_count": 1},
        {"name": "fig", "r_count": 0},
        {"name": "horse", "r_count": 1},
        {"name": "cat", "r_count": 0},
        {"name": "parrot", "r_count": 2},
    ]
    log = read_log(result["log_file"])
    children = [event for event in events_of(log, "agent_start") if event["parent_id"] == "root"]
    assert [child["instruction"] for child in children] == [None, None]  # the dict was no instruction
    child_prompts = [first_user_message(request) for request in server.requests if not is_root(request)]
    assert all('{"type":"array","items":{"type":"string"}}' in prompt for prompt in child_prompts)
    rejections = [
        request["messages"][-1]["content"]
        for request in server.requests
        if not is_root(request) and call_number(request) == 2
    ]
    assert len(rejections) == 2 and all("FINAL was not accepted" in text for text in rejections)


def fetch_prices(symbol: str) -> list:
    """Closing prices of `symbol`, oldest first."""
    return {"ACME": [1.0, 2.0, 3.0], "BLOB": [9.0, 6.0, 3.0]}[symbol]


def mean(values: list) -> float:
    """The arithmetic mean."""
    return sum(values) / len(values)


SCANNER_ROOT = """
import asyncio
verdict_schema = {
    "type": "object",
    "properties": {"symbol": {"type": "string"}, "mean": {"type": "number"}, "trend": {"type": "string"}},
    "required": ["symbol", "mean", "trend"],
}
verdicts = await asyncio.gather(*[
    llm_query(symbol, verdict_schema, tools=[fetch_prices, mean], instruction="Scan this symbol.")
    for symbol in ["ACME", "BLOB"]
])
FINAL(sorted(verdicts, key=lambda verdict: verdict["mean"], reverse=True))
"""

SCANNER_CHILD = """
closes = fetch_prices(context)
FINAL({"symbol": context, "mean": mean(closes), "trend": "up" if closes[-1] > closes[0] else "down"})
"""


def test_market_scanner_pattern_tools_handed_to_children(scripted_server):
    server = scripted_server(lambda request: repl(SCANNER_ROOT if is_root(request) else SCANNER_CHILD))
    result = fast_rlm.run(
        ROOT_QUERY, config=config_for(server), tools=[fetch_prices, mean], output_schema=list, verbosity=0
    )

    assert result["results"] == [
        {"symbol": "BLOB", "mean": 6.0, "trend": "down"},
        {"symbol": "ACME", "mean": 2.0, "trend": "up"},
    ]
    children = [
        event for event in events_of(read_log(result["log_file"]), "agent_start") if event["depth"] == 1
    ]
    assert [child["instruction"] for child in children] == ["Scan this symbol.", "Scan this symbol."]


BATCH_ROOT = """
results = await batch_llm_query(
    llm_query("a", int),
    llm_query("bb", "Measure it.", list[int]),
    llm_query("ccc", schema=int, instruction="Measure it."),
)
FINAL(results)
"""


def test_batch_llm_query_with_every_spelling(scripted_server):
    def respond(request):
        if is_root(request):
            return repl(BATCH_ROOT)
        if '"items":{"type":"integer"}' in first_user_message(request):
            return repl("FINAL([len(context)])")
        return repl("FINAL(len(context))")

    server = scripted_server(respond)
    result = fast_rlm.run(ROOT_QUERY, config=config_for(server), verbosity=0)

    assert result["results"] == [1, [2], 3]
    children = [
        event for event in events_of(read_log(result["log_file"]), "agent_start") if event["depth"] == 1
    ]
    assert sorted(str(child["instruction"]) for child in children) == ["Measure it.", "Measure it.", "None"]


BAD_CALLS_ROOT = """
class Point:
    pass

def my_tool():
    return 1

attempts = {
    "number as schema": lambda: llm_query("x", 5),
    "two instructions": lambda: llm_query("x", "a", "b"),
    "schema twice": lambda: llm_query("x", int, schema=str),
    "dict instruction": lambda: llm_query("x", instruction={"task": 1}),
    "unknown class": lambda: llm_query("x", Point),
    "bare tool": lambda: llm_query("x", "go", tools=my_tool),
    "bad tool entry": lambda: llm_query("x", "go", tools=[3]),
    "mcp twice": lambda: llm_query("x", "go", mcp=["a"], mcp_servers=["a"]),
    "mcp as str": lambda: llm_query("x", "go", mcp="notes"),
    "model number": lambda: llm_query("x", "go", model=7),
    "set data": lambda: llm_query({1, 2}, "go"),
    "too many": lambda: llm_query("x", "a", int, str),
}
errors = {}
for name, attempt in attempts.items():
    try:
        attempt()
    except TypeError as error:
        errors[name] = str(error)
FINAL(errors)
"""


def test_every_bad_argument_is_a_type_error_in_the_repl(scripted_server):
    server = scripted_server(lambda request: repl(BAD_CALLS_ROOT))
    result = fast_rlm.run(ROOT_QUERY, config=config_for(server), verbosity=0)

    errors = result["results"]
    assert set(errors) == {
        "number as schema",
        "two instructions",
        "schema twice",
        "dict instruction",
        "unknown class",
        "bare tool",
        "bad tool entry",
        "mcp twice",
        "mcp as str",
        "model number",
        "set data",
        "too many",
    }
    assert "instruction (a str) and/or the schema" in errors["number as schema"]
    assert "instruction was given twice" in errors["two instructions"]
    assert "schema was given twice" in errors["schema twice"]
    assert "instruction must be a str" in errors["dict instruction"]
    assert "schema must be a JSON Schema dict" in errors["unknown class"]
    assert "tools=[my_tool]" in errors["bare tool"]
    assert "each entry of tools" in errors["bad tool entry"]
    assert "mcp_servers= or as mcp=" in errors["mcp twice"]
    assert 'mcp=["notes"]' in errors["mcp as str"]
    assert "model must be a model name" in errors["model number"]
    assert (
        "data must be JSON-like" in errors["set data"]
        and "set is not JSON serializable" in errors["set data"]
    )
    assert "at most 3 positional arguments" in errors["too many"]
    assert server.request_count == 1  # no helper was started
    assert events_of(read_log(result["log_file"]), "agent_start") == [
        event
        for event in events_of(read_log(result["log_file"]), "agent_start")
        if event["agent_id"] == "root"
    ]


FORGED_REQUEST_ROOT = """
channel = llm_query.__closure__[0].cell_contents
reply = json.loads(await channel.request("llm_query", json.dumps({"data": "x", "instruction": {"task": 1}})))
FINAL(reply)
"""


def test_engine_refuses_a_malformed_request_without_ending_the_run(scripted_server):
    # Agent code can reach its own channel and skip the REPL's checks; the engine checks again.
    server = scripted_server(lambda request: repl("import json\n" + FORGED_REQUEST_ROOT))
    result = fast_rlm.run(ROOT_QUERY, config=config_for(server), verbosity=0)

    reply = result["results"]
    assert reply["ok"] is False
    assert reply["error"]["type"] == "AgentError"
    assert "instruction must be a string or null, not a object" in reply["error"]["message"]
    assert [event["agent_id"] for event in events_of(read_log(result["log_file"]), "agent_start")] == ["root"]
    assert json.loads(json.dumps(result["usage"]))["agents"] == 1
