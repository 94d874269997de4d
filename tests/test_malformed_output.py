"""Whatever the model writes, the agent gets a clear observation and the engine does not crash."""

from __future__ import annotations

import fast_rlm
from fast_rlm.scripted.server import call_number, repl
from tests.conftest import config_for, events_of, read_log


def _script(*replies: str):
    """The n-th call of the (single) agent gets the n-th reply."""

    def respond(request):
        return replies[min(call_number(request), len(replies)) - 1]

    return respond


def _observations(server) -> list[str]:
    return [request["messages"][-1]["content"] for request in server.requests[1:]]


def test_several_blocks_all_run_in_order(scripted_server):
    two_blocks = repl("print('first ran')") + "\nand also\n" + repl("print('second ran')")
    server = scripted_server(_script(two_blocks, repl("FINAL('ok')")))
    fast_rlm.run("q", config=config_for(server), verbosity=0)

    observation = _observations(server)[0]
    assert observation == "[block 1]\nfirst ran\n[block 2]\nsecond ran"


def test_syntax_error_is_shown_and_the_agent_continues(scripted_server):
    server = scripted_server(_script(repl("def broken(:\n    pass"), repl("FINAL('fixed')")))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "fixed"
    assert "SyntaxError" in _observations(server)[0]


def test_exception_traceback_shows_only_agent_frames(scripted_server):
    server = scripted_server(_script(repl("def f():\n    return 1 / 0\nf()"), repl("FINAL(0)")))
    fast_rlm.run("q", config=config_for(server), verbosity=0)

    observation = _observations(server)[0]
    assert "ZeroDivisionError: division by zero" in observation
    assert 'File "<agent root step 1>", line 2, in f' in observation
    assert "_rlm_runtime" not in observation and "pyodide" not in observation


def test_huge_output_is_capped(scripted_server):
    server = scripted_server(
        _script(repl("for _ in range(60):\n    print('y' * 100_000)"), repl("FINAL('survived')"))
    )
    result = fast_rlm.run("q", config=config_for(server, truncate_len=500), verbosity=0)

    assert result["results"] == "survived"
    step = events_of(read_log(result["log_file"]), "code_step")[0]
    assert len(step["stdout"]) < 1_100_000  # 6 MB printed, about 1 MB kept
    assert "output beyond 1000000 characters dropped" in step["stdout"]
    assert len(_observations(server)[0]) < 700


def test_unencodable_text_comes_through(scripted_server):
    code = (
        "import sys\nprint('lone surrogate: \\udcff')\n"
        "sys.stdout.write('bytes: ' + bytes([255, 254]).decode('latin-1'))"
    )
    server = scripted_server(_script(repl(code), repl("FINAL('done')")))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "done"
    observation = _observations(server)[0]
    assert "lone surrogate:" in observation and "bytes: ÿþ" in observation


def test_final_called_twice_keeps_the_first_value(scripted_server):
    code = "try:\n    FINAL('first')\nexcept BaseException:\n    pass\nFINAL('second')"
    server = scripted_server(_script(repl(code)))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == "first"
    step = events_of(read_log(result["log_file"]), "code_step")[0]
    assert "FINAL was already called" in step["error"]


def test_final_with_an_unserialisable_value_is_refused_with_a_reason(scripted_server):
    server = scripted_server(_script(repl("FINAL({1, 2, 3})"), repl("FINAL(sorted({1, 2, 3}))")))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] == [1, 2, 3]
    assert "FINAL needs a JSON value" in _observations(server)[0] and "set" in _observations(server)[0]


def test_empty_reply_and_prose_get_the_no_code_observation(scripted_server):
    server = scripted_server(_script("", "Let me think about it.", repl("FINAL(None)")))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)

    assert result["results"] is None
    assert all("no ```repl code block" in text for text in _observations(server)[:2])


def test_python_fence_is_accepted_when_there_is_no_repl_block(scripted_server):
    server = scripted_server(_script("```python\nFINAL(7 * 6)\n```"))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == 42
