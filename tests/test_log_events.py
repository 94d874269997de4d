"""fast_rlm.events mirrors engine/log_events.ts and parses every line a real run writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fast_rlm.events import (
    EVENT_MODELS,
    KNOWN_EVENT_TYPES,
    EventFormatError,
    LlmCall,
    UnknownEvent,
    parse_event,
    parse_event_json,
)

pytest_plugins = ["tests.log_fixtures"]  # the session's real and broken logs

ENGINE_SCHEMA = Path(__file__).parent.parent / "engine" / "log_events.ts"
COMMON_FIELDS = {"v", "ts", "run_id"}


def typescript_event_fields() -> dict[str, set[str]]:
    """event name -> field names, read from the TypeScript type declarations."""
    source = ENGINE_SCHEMA.read_text(encoding="utf-8")
    found = {}
    for body in re.findall(r"export type \w+ = Common & \{\n(.*?)\n\};", source, re.DOTALL):
        fields = set(re.findall(r"^  (\w+)\??:", body, re.MULTILINE))
        event_name = re.search(r'^  event: "(\w+)";', body, re.MULTILINE).group(1)
        found[event_name] = fields - {"event"}
    return found


def test_every_engine_event_type_has_a_model_with_the_same_fields():
    engine_events = typescript_event_fields()

    assert set(engine_events) == KNOWN_EVENT_TYPES == set(EVENT_MODELS)
    for event_name, fields in engine_events.items():
        python_fields = set(EVENT_MODELS[event_name].model_fields) - COMMON_FIELDS - {"event"}
        assert python_fields == fields, event_name


def test_each_line_of_a_real_run_parses_to_the_model_of_its_type(scripted_logs):
    seen = set()
    for line in scripted_logs.fan_out_and_chain.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        event = parse_event(raw)
        assert isinstance(event, EVENT_MODELS[raw["event"]])
        assert parse_event_json(line) == event
        seen.add(raw["event"])
    # The scenario exercises every event type, the 429 retry and the host function call included,
    # except planner mode's plan (tests/test_planner.py parses a planner run's log).
    assert seen == KNOWN_EVENT_TYPES - {"plan"}


def test_cost_is_none_when_the_provider_did_not_report_it(scripted_logs):
    calls = [
        parse_event(json.loads(line))
        for line in scripted_logs.no_cost.read_text(encoding="utf-8").splitlines()
        if '"llm_call"' in line
    ]
    assert calls and all(isinstance(call, LlmCall) and call.usage.cost is None for call in calls)
    costed = [
        parse_event(json.loads(line))
        for line in scripted_logs.fan_out_and_chain.read_text(encoding="utf-8").splitlines()
        if '"llm_call"' in line
    ]
    assert all(call.usage.cost == pytest.approx(0.00025) for call in costed)


def test_an_unknown_event_type_is_kept_raw_instead_of_failing():
    raw = {"v": 1, "ts": 5.0, "run_id": "r", "event": "tool_call", "agent_id": "root.2", "tool": "grep"}

    event = parse_event(raw)

    assert isinstance(event, UnknownEvent)
    assert event.event == "tool_call" and event.raw == raw
    assert event.agent_id == "root.2" and event.ts == 5.0
    assert parse_event_json(json.dumps(raw)) == event


def test_a_known_event_with_a_missing_field_names_the_field():
    raw = {"v": 1, "ts": 1.0, "run_id": "r", "event": "code_step", "agent_id": "root", "step": 1}

    with pytest.raises(EventFormatError, match=r"code_step event: code: Field required"):
        parse_event(raw)


def test_final_none_is_told_apart_from_no_result():
    common = {"v": 1, "ts": 1.0, "run_id": "r", "event": "agent_end", "agent_id": "root", "llm_calls": 1}
    with_none = parse_event({**common, "status": "done", "result": None, "duration_s": 0.1})
    without = parse_event(
        {**common, "status": "failed", "error": {"type": "E", "message": "m"}, "duration_s": 0.1}
    )

    assert "result" in with_none.model_fields_set
    assert "result" not in without.model_fields_set and without.error.type == "E"


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"no_event": 1}', '{"event": 3}', ""])
def test_lines_that_are_not_events_raise_event_format_error(line):
    with pytest.raises(EventFormatError):
        parse_event_json(line)


def test_logs_written_before_the_budget_fields_still_parse(scripted_logs):
    """`run_start.unpriced_models` and `usage.limits` came later within schema version 1."""
    lines = [json.loads(line) for line in scripted_logs.fan_out_and_chain.read_text().splitlines()]
    run_start, run_end = lines[0], lines[-1]
    assert run_start["event"] == "run_start" and run_end["event"] == "run_end"
    assert "limits" in run_end["usage"]

    older_start = {key: value for key, value in run_start.items() if key != "unpriced_models"}
    older_end = {**run_end, "usage": {k: v for k, v in run_end["usage"].items() if k != "limits"}}
    assert parse_event(older_start).unpriced_models == []
    assert parse_event(older_end).usage.limits is None
    limits = parse_event(run_end).usage.limits
    assert set(limits) == {"max_llm_calls", "max_prompt_tokens", "max_completion_tokens", "max_money_spent"}
    assert limits["max_llm_calls"].used == run_end["usage"]["llm_calls"] + 1  # its 429 was sent too
