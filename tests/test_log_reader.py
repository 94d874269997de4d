"""fast_rlm.logs.reader on real logs, on broken ones, on a log still being written and on 100 MB."""

from __future__ import annotations

import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from fast_rlm.errors import LogFileError
from fast_rlm.events import UnknownEvent
from fast_rlm.logs.reader import LogIndex, agent_sort_key

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import BIG_STDOUT, iter_events, with_host_calls  # noqa: E402

pytest_plugins = ["tests.log_fixtures"]  # the session's real, broken and big logs


def agent_with_instruction(index: LogIndex, instruction: str) -> str:
    return next(agent_id for agent_id, record in index.agents.items() if record.instruction == instruction)


def test_the_index_of_a_real_run_agrees_with_its_events(scripted_logs):
    events = list(iter_events(scripted_logs.fan_out_and_chain))
    index = LogIndex.open(scripted_logs.fan_out_and_chain)

    calls = Counter(event["agent_id"] for event in events if event["event"] == "llm_call")
    steps = Counter(event["agent_id"] for event in events if event["event"] == "code_step")
    prompt_tokens: dict[str, int] = defaultdict(int)
    for event in events:
        if event["event"] == "llm_call":
            prompt_tokens[event["agent_id"]] += event["usage"]["prompt_tokens"]
    starts = {event["agent_id"]: event for event in events if event["event"] == "agent_start"}
    assert set(index.agents) == set(starts)
    for agent_id, record in index.agents.items():
        assert record.parent_id == starts[agent_id]["parent_id"]
        assert record.depth == starts[agent_id]["depth"]
        assert record.llm_calls == calls[agent_id]
        assert record.code_steps == steps[agent_id]
        assert record.prompt_tokens == prompt_tokens[agent_id]
        assert record.cost == pytest.approx(0.00025 * calls[agent_id])
        assert record.children == sorted(record.children, key=agent_sort_key)
    assert index.root_ids == ["root"]
    assert index.run_end is not None and index.run_end.status == "ok"
    assert index.event_count == len(events) and index.notices == []


def test_statuses_errors_and_depth_of_the_scripted_scenario(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)

    dawdler = index.agents[agent_with_instruction(index, "dawdle forever")]
    assert dawdler.status == "failed" and dawdler.error.type == "BudgetExceededError"
    assert {record.status for agent_id, record in index.agents.items() if record is not dawdler} == {"done"}
    assert max(record.depth for record in index.agents.values()) == 3
    summing = agent_with_instruction(index, "sum the numbers")
    assert sorted((error.agent_id, error.summary.split(":")[0]) for error in index.errors) == sorted(
        [
            ("root", "host function unit_of"),
            (summing, "step 1"),
            (dawdler.agent_id, "agent failed"),
        ]
    )
    assert index.agents["root"].host_calls == 2
    assert index.agents[agent_with_instruction(index, "reverse the word")].retries == 1


def test_turns_pair_each_model_call_with_the_code_it_ran(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)

    reverse = index.agent_turns(agent_with_instruction(index, "reverse the word"))
    assert len(reverse) == 1
    assert [retry.reason for retry in reverse[0].retries] == ["HTTP 429"]
    assert reverse[0].call.attempts == 2 and reverse[0].steps[-1].final
    bottom = index.agent_turns(
        next(agent_id for agent_id, record in index.agents.items() if record.depth == 3)
    )
    assert bottom[0].call is not None and bottom[0].steps == []  # a reply without a code block
    assert bottom[1].steps[0].code.strip() == "FINAL('bottom')"
    root = index.agent_turns("root")
    assert [turn.number for turn in root] == [1, 2]
    assert "items: four jobs" in root[0].steps[0].stdout


def test_totals_cost_is_none_when_the_provider_reports_none(scripted_logs):
    index = LogIndex.open(scripted_logs.no_cost)

    assert all(record.cost is None for record in index.agents.values())
    assert index.run_end.usage.cost is None


def test_search_matches_texts_not_json_keys(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)
    reverser = agent_with_instruction(index, "reverse the word")

    hits = index.search("DESSERTS")
    assert {hit.agent_id for hit in hits} == {"root", reverser}
    assert index.search("agent_id") == [] and index.search("completion_tokens") == []
    # Quotes and newlines are escaped in the file; the search is over the decoded text.
    quoted = index.search('print("no unit:", error)\nanswers')
    assert [hit.agent_id for hit in quoted] == ["root", "root"]  # the reply and the step that ran it
    assert index.search("") == []


def test_a_truncated_last_line_is_reported_and_the_rest_is_read(broken_logs):
    index = LogIndex.open(broken_logs.truncated_last_line)

    assert index.run_end is None and len(index.agents) == 7
    messages = [str(notice) for notice in index.notices]
    assert any("last line is incomplete" in message for message in messages)
    assert any(message.startswith("no run_end") for message in messages)


def test_an_unknown_event_type_is_kept_and_reported(broken_logs):
    index = LogIndex.open(broken_logs.unknown_event)

    [notice] = index.notices
    assert notice.line == 4 and "unknown event type 'tool_call'" in notice.message
    unknown = [event for _, event in index.agent_events("root") if isinstance(event, UnknownEvent)]
    assert [event.raw["tool"] for event in unknown] == ["grep"]
    assert index.run_end is not None


def test_a_crashed_run_shows_which_agents_never_finished(broken_logs):
    index = LogIndex.open(broken_logs.crashed)

    running = [agent_id for agent_id, record in index.agents.items() if record.status == "running"]
    assert "root" in running
    assert index.notices[-1].message == (
        f"no run_end: the run crashed or is still being written; {len(running)} agents never finished"
    )


def test_an_empty_log_says_so(broken_logs):
    index = LogIndex.open(broken_logs.empty)

    assert index.agents == {} and index.event_count == 0
    assert [str(notice) for notice in index.notices] == [
        "the log is empty: the run wrote nothing (did it start?)"
    ]


def test_a_line_that_is_not_json_is_skipped_with_its_line_number(broken_logs):
    index = LogIndex.open(broken_logs.garbage_line)

    [notice] = index.notices
    assert notice.line == 3 and "not valid JSON" in notice.message
    assert len(index.agents) == 7 and index.run_end is not None


def test_a_missing_file_or_a_directory_is_a_clear_error(tmp_path):
    with pytest.raises(LogFileError, match="No log file at .*result\\['log_file'\\]"):
        LogIndex.open(tmp_path / "nope.jsonl")
    (tmp_path / "run_1.jsonl").write_text("")
    with pytest.raises(
        LogFileError, match="is a directory, not a log file. The newest log there is .*run_1.jsonl"
    ):
        LogIndex.open(tmp_path)


def test_refresh_reads_appended_lines_and_waits_for_a_line_being_written(scripted_logs, tmp_path):
    lines = scripted_logs.fan_out_and_chain.read_text(encoding="utf-8").splitlines(keepends=True)
    growing = tmp_path / "growing.jsonl"
    half = len(lines) // 2
    growing.write_text("".join(lines[:half]), encoding="utf-8")
    index = LogIndex.open(growing)
    assert index.run_end is None and index.event_count == half

    with growing.open("a", encoding="utf-8") as handle:
        handle.write(lines[half][:25])  # the writer is in the middle of a line
    update = index.refresh()
    assert update.new_events == 0 and index.event_count == half
    assert any("incomplete" in notice.message for notice in index.notices)

    with growing.open("a", encoding="utf-8") as handle:
        handle.write(lines[half][25:] + "".join(lines[half + 1 :]))
    update = index.refresh()
    assert update.new_events == len(lines) - half
    assert index.run_end is not None and index.notices == []
    complete = LogIndex.open(scripted_logs.fan_out_and_chain)
    assert {agent_id: record.status for agent_id, record in index.agents.items()} == {
        agent_id: record.status for agent_id, record in complete.agents.items()
    }
    assert set(update.changed_agents) >= {"root"}


def test_a_100_mb_log_is_indexed_without_keeping_its_texts(big_log: Path):
    size = big_log.stat().st_size
    assert size >= 100_000_000

    tracemalloc.start()
    try:
        index = LogIndex.open(big_log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    children = len(index.agents) - 1
    assert children * len(BIG_STDOUT) > 0.9 * size
    assert peak < 40_000_000  # a few MB of counters and offsets, not the 100 MB of output
    last = index.agents["root"].children[-1]
    [turn] = index.agent_turns(last)
    assert turn.steps[0].stdout == BIG_STDOUT  # read back from disk on demand


def test_a_log_rewritten_after_it_was_read_is_reported_not_misread(scripted_logs, tmp_path):
    copy = tmp_path / "rewritten.jsonl"
    copy.write_bytes(scripted_logs.no_cost.read_bytes())
    index = LogIndex.open(copy)

    copy.write_text('{"v": 1}\n', encoding="utf-8")
    index.refresh()
    assert "the file shrank since it was read (rewritten?); open it again" in [str(n) for n in index.notices]
    with pytest.raises(LogFileError, match="changed since it was read"):
        index.agent_turns("root.0")
    copy.unlink()
    with pytest.raises(LogFileError, match="Cannot read the log"):
        index.search("anything")


def test_host_function_calls_belong_to_the_step_that_made_them(scripted_logs, tmp_path):
    index = LogIndex.open(with_host_calls(scripted_logs.no_cost, tmp_path / "tools.jsonl"))

    assert index.notices == [] and index.agents["root.0"].host_calls == 2
    [turn] = index.agent_turns("root.0")
    assert [(call.name, call.ok) for call in turn.host_calls] == [("lookup", True), ("grep", False)]
    assert turn.steps and turn.call is not None
    assert [error.summary for error in index.errors] == ["host function grep: ToolError: boom"]
