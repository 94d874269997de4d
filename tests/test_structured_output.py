"""output_schema and llm_query(schema=...): every FINAL is validated; errors go back to the agent."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import fast_rlm
from fast_rlm.errors import SchemaError
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for


class Fruit(BaseModel):
    name: str
    r_count: int


class Basket(BaseModel):
    fruits: list[Fruit]
    total: int


def _script(*replies: str):
    def respond(request):
        return replies[min(call_number(request), len(replies)) - 1]

    return respond


def test_pydantic_model_rejects_a_bad_final_then_accepts_a_good_one(scripted_server):
    server = scripted_server(
        _script(
            repl("FINAL({'fruits': [{'name': 'cherry', 'r_count': 'two'}]})"),
            repl("FINAL({'fruits': [{'name': 'cherry', 'r_count': 2}], 'total': 2})"),
        )
    )
    result = fast_rlm.run(["cherry"], config=config_for(server), output_schema=Basket, verbosity=0)

    assert result["results"] == {"fruits": [{"name": "cherry", "r_count": 2}], "total": 2}
    assert Basket.model_validate(result["results"]).fruits[0].r_count == 2  # results stay plain JSON
    first_prompt = server.requests[0]["messages"][1]["content"]
    assert "must match this JSON Schema" in first_prompt and '"r_count"' in first_prompt
    rejection = server.requests[1]["messages"][-1]["content"]
    assert "FINAL was not accepted" in rejection
    assert "/fruits/0/r_count: must be integer" in rejection
    assert "(the value itself): must have required property 'total'" in rejection


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        (list[Fruit], "[{'name': 'fig', 'r_count': 0}]", "{'name': 'fig'}"),
        (int, "3", "'three'"),
        (str, "'three'", "3"),
        (float, "1.5", "None"),
        (bool, "True", "'yes'"),
        (dict, "{'a': 1}", "[1]"),
        (list, "[1]", "{'a': 1}"),
        ({"type": "array", "items": {"type": "string"}, "minItems": 2}, "['a', 'b']", "['a']"),
    ],
)
def test_every_kind_of_schema_is_enforced(scripted_server, schema, good, bad):
    server = scripted_server(_script(repl(f"FINAL({bad})"), repl(f"FINAL({good})")))
    result = fast_rlm.run("q", config=config_for(server), output_schema=schema, verbosity=0)
    assert result["results"] == eval(good)  # noqa: S307 - the literal the script sent
    assert server.request_count == 2


def test_a_run_that_never_satisfies_the_schema_raises_with_the_last_value(scripted_server):
    server = scripted_server(_script(repl("FINAL({'total': 'lots'})")))
    with pytest.raises(SchemaError) as raised:
        fast_rlm.run(
            "q", config=config_for(server, max_calls_per_subagent=3), output_schema=Basket, verbosity=0
        )
    message = str(raised.value)
    assert '{"total":"lots"}' in message and "/total: must be integer" in message
    assert server.request_count == 3


@pytest.mark.parametrize(
    ("schema", "match"),
    [
        ({"type": "no-such-type"}, "not a valid JSON Schema"),
        ({"properties": {"a": {"minimum": "five"}}}, "not a valid JSON Schema at properties/a/minimum"),
        (object(), "is a value \\(object\\), not a type"),
    ],
)
def test_invalid_schemas_fail_before_the_engine_starts(isolated_workdir, schema, match):
    with pytest.raises(SchemaError, match=match):
        fast_rlm.run("q", config={"api_key": "k"}, output_schema=schema)
    assert list(isolated_workdir.iterdir()) == []


def test_parent_demands_a_shape_from_a_child(scripted_server):
    def respond(request):
        task = first_user_message(request)
        if "count it" in task:
            return _script(repl("FINAL('three')"), repl("FINAL(len(context))"))(request)
        if "bad schema" in task:
            return repl("FINAL(1)")
        return repl(
            "n = await llm_query('abc', 'count it', schema=int)\n"
            "try:\n"
            "    await llm_query('x', 'bad schema', schema={'type': 'wrong'})\n"
            "except LLMQueryError as error:\n"
            "    problem = str(error)\n"
            "FINAL({'n': n, 'problem': problem})"
        )

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"]["n"] == 3
    assert result["results"]["problem"].startswith("SchemaError: the schema is not a valid JSON Schema")
    child_prompt = next(r for r in server.requests if "count it" in r["messages"][1]["content"])
    assert '{"type":"integer"}' in child_prompt["messages"][1]["content"]


def test_dict_and_list_queries_arrive_as_python_objects_with_a_compact_shape(scripted_server):
    query = {"users": [{"name": "ada", "age": 36}] * 50, "meta": {"source": "test"}, "note": "x" * 5000}
    server = scripted_server(
        _script(
            repl("FINAL([type(context).__name__, type(context['users'][0]).__name__, len(context['note'])])")
        )
    )
    result = fast_rlm.run(query, config=config_for(server), verbosity=0)

    assert result["results"] == ["dict", "dict", 5000]
    prompt = server.requests[0]["messages"][1]["content"]
    assert '"users": list (len 50)' in prompt and '"meta": dict (1 keys)' in prompt
    assert '"note": str (len 5000)' in prompt
    assert "x" * 1000 not in prompt  # the context itself is not pasted into the prompt
