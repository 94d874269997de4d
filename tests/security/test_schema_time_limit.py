"""A schema's `pattern` that backtracks catastrophically cannot stall the engine.

`^(a+)+$` against "a" * 34 + "!" takes hours in a backtracking regex engine. Schemas come from agent
code (llm_query(schema=...)) or from the user (output_schema=); either way validation runs in a
worker under schema_timeout_s, so the engine's main isolate keeps its timers and other agents.

Each run goes through `_run_within`, which cancels it at a deadline: where validation blocks the
main isolate, the test fails there instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import fast_rlm
from fast_rlm.errors import RunTimeoutError, SchemaError
from fast_rlm.scripted.server import call_number, first_user_message, last_user_message, repl
from tests.conftest import config_for

BACKTRACKING_SCHEMA = {"type": "string", "pattern": "^(a+)+$"}
BACKTRACKING_VALUE = "a" * 34 + "!"
SCHEMA_TIMEOUT_S = 1
DEADLINE_S = 30  # far beyond what each run needs when validation is contained
TIMED_OUT = f"validation did not finish within schema_timeout_s={SCHEMA_TIMEOUT_S}"


def _run_within(query: Any, **options: Any) -> dict[str, Any]:
    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(fast_rlm.arun(query, verbosity=0, **options), DEADLINE_S)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        pytest.fail(f"the run did not end within {DEADLINE_S} s: schema validation blocked the engine")


def test_a_backtracking_pattern_in_a_childs_schema_fails_that_child_alone(scripted_server):
    def respond(request):
        task = first_user_message(request)
        if "backtrack" in task:
            return repl(f"FINAL({BACKTRACKING_VALUE!r})")
        if "double" in task:
            return repl("FINAL(context * 2)")
        return repl(
            "results = await batch_llm_query(\n"
            f"    llm_query('x', 'backtrack', schema={BACKTRACKING_SCHEMA!r}),\n"
            "    *[llm_query(n, 'double', schema=int) for n in range(3)],\n"
            "    return_exceptions=True,\n"
            ")\n"
            "FINAL([str(r) if isinstance(r, Exception) else r for r in results])"
        )

    server = scripted_server(respond)
    started = time.monotonic()
    result = _run_within(
        "q",
        config=config_for(server, schema_timeout_s=SCHEMA_TIMEOUT_S, max_calls_per_subagent=2),
    )

    assert time.monotonic() - started < 15
    problem, *others = result["results"]
    assert others == [0, 2, 4]
    assert problem.startswith("SchemaError: agent root.0 never produced a FINAL value matching")
    assert TIMED_OUT in problem
    rejection = next(
        last_user_message(r)
        for r in server.requests
        if "backtrack" in first_user_message(r) and call_number(r) == 2
    )
    assert "FINAL was not accepted" in rejection and TIMED_OUT in rejection


def test_a_backtracking_root_output_schema_raises_schema_error_naming_the_limit(scripted_server):
    server = scripted_server(lambda request: repl(f"FINAL({BACKTRACKING_VALUE!r})"))
    config = config_for(server, schema_timeout_s=SCHEMA_TIMEOUT_S, max_calls_per_subagent=2)
    with pytest.raises(SchemaError, match=TIMED_OUT):
        _run_within("q", config=config, output_schema=BACKTRACKING_SCHEMA)
    assert server.request_count == 2


def test_after_a_timed_out_validation_the_agent_can_final_a_simpler_value(scripted_server):
    def respond(request):
        if call_number(request) == 1:
            return repl(f"FINAL({BACKTRACKING_VALUE!r})")
        return repl("FINAL('aaaa')")

    server = scripted_server(respond)
    config = config_for(server, schema_timeout_s=SCHEMA_TIMEOUT_S)
    result = _run_within("q", config=config, output_schema=BACKTRACKING_SCHEMA)

    assert result["results"] == "aaaa"
    assert TIMED_OUT in last_user_message(server.requests[1])


def test_run_timeout_still_fires_while_a_validation_is_slow(scripted_server):
    server = scripted_server(lambda request: repl(f"FINAL({BACKTRACKING_VALUE!r})"))
    config = config_for(server, schema_timeout_s=3600, run_timeout_s=2)
    started = time.monotonic()
    with pytest.raises(RunTimeoutError, match="run_timeout_s=2"):
        _run_within("q", config=config, output_schema=BACKTRACKING_SCHEMA)
    assert time.monotonic() - started < 10


def test_an_oversized_schema_from_llm_query_is_refused(scripted_server):
    server = scripted_server(
        lambda request: repl(
            "try:\n"
            "    await llm_query('x', 'never started', schema={'enum': ['x' * 1000] * 1100})\n"
            "except LLMQueryError as error:\n"
            "    FINAL(str(error))"
        )
    )
    result = _run_within("q", config=config_for(server))
    assert result["results"] == (
        "SchemaError: the schema is 1103310 characters of JSON; schemas are limited to 1000000"
    )
    assert server.request_count == 1  # no child was started
