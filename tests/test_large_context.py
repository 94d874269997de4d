"""A large context reaches the root's REPL whole; one too large for repl_memory_mb fails the run with
a ReplError that says so, instead of ending every replacement REPL process in turn."""

from __future__ import annotations

import pytest

import fast_rlm
from fast_rlm.scripted.server import repl
from tests.conftest import config_for, read_log

BYTES_PER_MB = 1024 * 1024


def test_a_large_context_arrives_whole(scripted_server):
    text = ("0123456789abcdef" * (40 * BYTES_PER_MB // 16)) + "end"
    server = scripted_server(lambda request: repl("FINAL([len(context), context[-3:], context.count('f')])"))
    result = fast_rlm.run(text, config=config_for(server), verbosity=0)

    assert result["results"] == [len(text), "end", text.count("f")]


@pytest.mark.timeout(120)
def test_a_context_over_repl_memory_fails_the_run_once(scripted_server):
    # Restored, a REPL process holds about 170 MB; a 150 MB context needs about twice its size in the
    # interpreter while it is decoded, past 300 MB, in every process that tries.
    text = "x" * (150 * BYTES_PER_MB)
    server = scripted_server(lambda request: repl("FINAL(len(context))"))
    with pytest.raises(fast_rlm.errors.AgentError) as raised:
        fast_rlm.run(text, config=config_for(server, repl_memory_mb=300), verbosity=0)

    assert "repl_memory_mb=300" in str(raised.value)
    assert server.request_count <= 1  # the root never got a REPL to run its first reply in


@pytest.mark.parametrize("lead", ["", "a", "ab", "abc"])
def test_the_size_an_agent_is_told_counts_characters_as_python_does(scripted_server, lead):
    # 1-, 2-, 3- and 4-byte UTF-8 characters, after a lead that moves them across 4-byte boundaries:
    # the engine counts code points a word at a time, and must agree with len() in the REPL.
    text = lead + "é日𝄞x" * 1001 + "ß"
    server = scripted_server(lambda request: repl("FINAL(len(context))"))
    result = fast_rlm.run(text, config=config_for(server), verbosity=0)

    start = read_log(result["log_file"])[0]
    assert start["query_chars"] == len(text) == result["results"]
    assert f"a str of {len(text)} characters" in server.requests[0]["messages"][1]["content"]
