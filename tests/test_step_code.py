"""How a code step runs in the REPL (engine/repl/step_code.py): as a notebook cell. A last expression's
value is shown, a trailing semicolon hides it, top-level await works anywhere, an indented block runs,
and an error names the line it happened on."""

from __future__ import annotations

import fast_rlm
from fast_rlm.scripted.server import call_number, first_user_message, repl
from tests.conftest import config_for, events_of, read_log


def _steps_of(scripted_server, blocks: tuple[str, ...]) -> list[dict]:
    """Runs each block as one step of the root, then FINAL; returns the blocks' code_step events."""

    def respond(request):
        number = call_number(request)
        # Not repl(): it strips the block, and one block here must stay indented as a whole.
        return f"```repl\n{blocks[number - 1]}\n```" if number <= len(blocks) else repl("FINAL('done')")

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == "done"
    return events_of(read_log(result["log_file"]), "code_step")[: len(blocks)]


def test_a_step_shows_its_last_expression_unless_a_semicolon_ends_it(scripted_server):
    blocks = (
        "x = 6\nx * 7",
        "x * 7;",
        "x * 7  ;  # quiet, even before a comment",
        "print('printed')\nNone",
        "import asyncio\nawait asyncio.sleep(0)\nx + 1",
        "import asyncio\nasync def twice(v):\n    await asyncio.sleep(0)\n    return 2 * v\nawait twice(x)",
        "    y = x + 100\n    y",
        "[n for n in range(3)]",
        "x = 1",
    )
    steps = _steps_of(scripted_server, blocks)

    assert [step["stdout"] for step in steps] == [
        "42\n",
        "",
        "",
        "printed\n",
        "7\n",
        "12\n",
        "106\n",
        "[0, 1, 2]\n",
        "",
    ]
    assert all(step["error"] is None for step in steps)


def test_an_error_names_its_line_and_a_syntax_error_is_reported(scripted_server):
    blocks = (
        "a = 1\nb = 2\nraise ValueError('third line')",
        "a = (",
        "import asyncio\nawait asyncio.sleep(0)\n1 / 0",
    )
    steps = _steps_of(scripted_server, blocks)

    assert 'File "<agent root step 1>", line 3, in <module>' in steps[0]["error"]
    assert steps[0]["error"].endswith("ValueError: third line")
    assert 'File "<agent root step 2>", line 1' in steps[1]["error"] and "SyntaxError" in steps[1]["error"]
    assert 'File "<agent root step 3>", line 3, in <module>' in steps[2]["error"]
    assert steps[2]["error"].endswith("ZeroDivisionError: division by zero")


# The same code in every child, failing inside a function it defines: compiled once, it must still
# name each agent's own step, in the step's frame and in the function's.
SHARED_FAILING_CODE = "def half(n):\n    return n / 0\nFINAL(half(context))"


def test_agents_running_the_same_code_each_see_their_own_step_in_tracebacks(scripted_server):
    def respond(request):
        if "half" in first_user_message(request):
            return repl(SHARED_FAILING_CODE) if call_number(request) == 1 else repl("FINAL('seen')")
        return repl("FINAL(await batch_llm_query(*[llm_query(n, 'half it') for n in range(3)]))")

    server = scripted_server(respond)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == ["seen"] * 3
    steps = events_of(read_log(result["log_file"]), "code_step")
    errors = {step["agent_id"]: step["error"] for step in steps if step["error"]}
    for child in ("root.0", "root.1", "root.2"):
        assert f'File "<agent {child} step 1>", line 3, in <module>' in errors[child]
        assert f'File "<agent {child} step 1>", line 2, in half' in errors[child]
        assert errors[child].endswith("ZeroDivisionError: division by zero")
