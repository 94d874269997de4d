"""Issue 10, attack 2 (values): FINAL values and request payloads are capped by max_value_mb.

Before containment, `FINAL` of a 500 MB string hit V8's fatal out-of-memory and took the engine down.
Now a value over max_value_mb gets a clear error naming the limit, in the agent's REPL; and since
agent code can patch the runtime that checks it, the engine checks again on its side of the pipe.
(A REPL process growing past repl_memory_mb is pinned in tests/test_repl_recovery.py.)
"""

from __future__ import annotations

from tests.security.containment_probes import assert_the_root_kept_working, run_probes

LIMIT = "over max_value_mb=1."

OVER_THE_CAP = """
big = "v" * (2 << 20)
await probe("FINAL", lambda: FINAL(big))
await probe("llm_query", lambda: llm_query(big, "never started"))
await probe("batch_llm_query", lambda: batch_llm_query(llm_query(big, "never started")))
await probe("host function", lambda: echo_on_host(big))
"""

PAST_A_PATCHED_RUNTIME = """
import _rlm_runtime
_rlm_runtime._max_value_bytes[0] = 10 ** 12
big = "v" * (3 << 20)
await probe("llm_query", lambda: llm_query(big, "never started"))
await probe("host function", lambda: echo_on_host(big))
FINAL(big)
"""


def echo_on_host(value: str) -> int:
    """Returns the length of its argument, from the host."""
    return len(value)


def test_values_over_max_value_mb_get_an_error_naming_it(scripted_server):
    run = run_probes(scripted_server, OVER_THE_CAP, config={"max_value_mb": 1}, host_functions=[echo_on_host])

    assert run.outcomes["FINAL"].startswith("ValueError: the FINAL value is 2.0 MB as JSON")
    assert run.outcomes["llm_query"].startswith("LLMQueryError: the llm_query request is 2.0 MB")
    assert run.outcomes["batch_llm_query"].startswith("LLMQueryError: the llm_query request is 2.0 MB")
    assert run.outcomes["host function"].startswith("HostFunctionError: the host_function request is 2.0 MB")
    assert all(LIMIT in outcome for outcome in run.outcomes.values()), run.outcomes
    assert run.result["usage"]["agents"] == 1
    assert_the_root_kept_working(run)


def test_the_engine_enforces_max_value_mb_when_agent_code_patched_the_runtime(scripted_server):
    run = run_probes(
        scripted_server, PAST_A_PATCHED_RUNTIME, config={"max_value_mb": 1}, host_functions=[echo_on_host]
    )

    assert run.outcomes["llm_query"].startswith("LLMQueryError:") and LIMIT in run.outcomes["llm_query"]
    assert run.outcomes["host function"].startswith("HostFunctionError:")
    assert LIMIT in run.outcomes["host function"]
    first_observation = run.root_requests[1]["messages"][-1]["content"]
    assert "FINAL value is 3.0 MB" in first_observation and LIMIT in first_observation
    assert run.result["usage"]["agents"] == 1
    assert_the_root_kept_working(run)  # the 3 MB FINAL was refused: the run went on to its real one
