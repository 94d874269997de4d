"""input_file as the original fast-rlm read it: JSON, JSON Lines and YAML parsed, anything else text."""

from __future__ import annotations

from pathlib import Path

import pytest

import fast_rlm
from fast_rlm.errors import QueryError
from fast_rlm.scripted.server import repl
from tests.conftest import config_for

SHOW_CONTEXT = repl("FINAL([type(context).__name__, context])")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("rows.jsonl", '{"n": 1}\n\n{"n": 2}\n', ["list", [{"n": 1}, {"n": 2}]]),
        ("rows.ndjson", '{"n": 3}\n', ["list", [{"n": 3}]]),
        ("facts.yaml", "name: ledger\nnumbers: [3, 4]\n", ["dict", {"name": "ledger", "numbers": [3, 4]}]),
        ("facts.YML", "- a\n- b\n", ["list", ["a", "b"]]),
        ("table.csv", "a,b\n1,2\n", ["str", "a,b\n1,2\n"]),
    ],
)
def test_structured_files_are_parsed_and_the_rest_is_text(scripted_server, name, content, expected):
    server = scripted_server(lambda request: SHOW_CONTEXT)
    Path(name).write_text(content)
    result = fast_rlm.run(input_file=name, instruction="look", config=config_for(server), verbosity=0)
    assert result["results"] == expected


@pytest.mark.parametrize(
    ("name", "content", "format_name"),
    [("bad.jsonl", "{nope\n", "JSON Lines"), ("bad.yaml", "a: [1,\n", "YAML")],
)
def test_a_malformed_structured_file_names_its_format(name, content, format_name):
    Path(name).write_text(content)
    with pytest.raises(QueryError, match=f"{name}' is not valid {format_name}"):
        fast_rlm.run(input_file=name, config={"api_key": "k"})
