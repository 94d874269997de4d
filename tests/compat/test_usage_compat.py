"""cached_tokens and reasoning_tokens, as the original reported them (issue 12, item 5): summed over
the tree from each reply's prompt_tokens_details / completion_tokens_details, 0 when none are given."""

from __future__ import annotations

import json
from typing import Any

import fast_rlm
from fast_rlm.events import LlmCall, RunEnd, parse_event
from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.stats import format_report, run_totals
from fast_rlm.scripted.server import ScriptedReply, first_user_message, repl
from tests import scripted_server as scenarios
from tests.conftest import config_for, events_of, read_log


def _tree_with_details(request: dict[str, Any]) -> ScriptedReply:
    """The root fans out to three children; each kind of agent reports different details, and the
    child given 2 reports none at all."""
    if scenarios.is_root(request):
        code = "FINAL(await batch_llm_query(*[llm_query(n, f'double number {n}') for n in range(3)]))"
        return ScriptedReply(content=repl(code), cached_tokens=40, reasoning_tokens=9)
    if "double number 2" in first_user_message(request):
        return ScriptedReply(content=repl("FINAL(context * 2)"))
    return ScriptedReply(content=repl("FINAL(context * 2)"), cached_tokens=6, reasoning_tokens=4)


def _sent(server: Any, section: str, key: str) -> int:
    return sum(usage.get(section, {}).get(key, 0) for usage in server.reported_usage)


def test_usage_sums_cached_and_reasoning_tokens_over_the_tree(scripted_server):
    server = scripted_server(_tree_with_details)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == [0, 2, 4]
    cached = _sent(server, "prompt_tokens_details", "cached_tokens")
    reasoning = _sent(server, "completion_tokens_details", "reasoning_tokens")
    assert (cached, reasoning) == (40 + 6 + 6, 9 + 4 + 4)  # the scenario's arithmetic, as sent
    assert result["usage"]["cached_tokens"] == cached
    assert result["usage"]["reasoning_tokens"] == reasoning

    log = read_log(result["log_file"])
    calls = events_of(log, "llm_call")
    assert sorted((call["usage"]["cached_tokens"], call["usage"]["reasoning_tokens"]) for call in calls) == [
        (0, 0),
        (6, 4),
        (6, 4),
        (40, 9),
    ]
    run_end = events_of(log, "run_end")[0]
    assert (run_end["usage"]["cached_tokens"], run_end["usage"]["reasoning_tokens"]) == (cached, reasoning)

    index = LogIndex.open(result["log_file"])
    totals = run_totals(index)
    assert (totals.cached_tokens, totals.reasoning_tokens) == (cached, reasoning)
    assert f"({cached} cached, {reasoning} reasoning)" in format_report(index)


def test_replies_without_details_count_zero(scripted_server):
    server = scripted_server(scenarios.final_none)
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert (result["usage"]["cached_tokens"], result["usage"]["reasoning_tokens"]) == (0, 0)
    assert "cached" not in format_report(LogIndex.open(result["log_file"]))


def test_logs_written_before_the_fields_existed_still_load(tmp_path):
    common = {"v": 1, "ts": 1.0, "run_id": "r"}
    old_call = {
        **common,
        "event": "llm_call",
        "agent_id": "root",
        "call": 1,
        "model": "m",
        "new_messages": [],
        "completion": "x",
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "cost": None},
        "duration_s": 0.1,
        "attempts": 1,
    }
    old_end = {
        **common,
        "event": "run_end",
        "status": "ok",
        "results": 1,
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "llm_calls": 1, "agents": 1},
        "duration_s": 0.2,
    }
    call, end = parse_event(old_call), parse_event(old_end)
    assert isinstance(call, LlmCall) and (call.usage.cached_tokens, call.usage.reasoning_tokens) == (0, 0)
    assert isinstance(end, RunEnd) and (end.usage.cached_tokens, end.usage.reasoning_tokens) == (0, 0)
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in (old_call, old_end)))
    assert run_totals(LogIndex.open(path)).cached_tokens == 0
