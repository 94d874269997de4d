"""Replies from weaker and open models (issue 13 item 7): reasoning kept apart, code in other fences,
FINAL outside a block, content as parts, empty and cut replies. Scenarios: tests/reply_scenarios.py."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Collapsible, Static

import fast_rlm
from fast_rlm.errors import BudgetExceededError
from fast_rlm.events import LlmCall, parse_event
from tests import reply_scenarios
from tests.conftest import config_for, events_of, read_log
from tests.test_tui import SIZE, in_event_loop, screen_text, shown_text
from tui import LogViewerApp


def _run(scripted_server, scenario, **config: Any) -> tuple[Any, list[dict[str, Any]]]:
    server = scripted_server(scenario)
    result = fast_rlm.run("q", config=config_for(server, **config), verbosity=0)
    return server, result


def _observations(server) -> list[str]:
    """What the agent was told after each reply (the last user message of each later request)."""
    return [request["messages"][-1]["content"] for request in server.requests[1:]]


def _calls(result) -> list[dict[str, Any]]:
    return events_of(read_log(result["log_file"]), "llm_call")


def _steps(result) -> list[dict[str, Any]]:
    return events_of(read_log(result["log_file"]), "code_step")


def test_think_tags_are_logged_apart_and_their_code_never_runs(scripted_server):
    server, result = _run(scripted_server, reply_scenarios.think_tags_with_a_decoy_block)

    assert result["results"] == "from the answer"
    assert [step["code"].strip() for step in _steps(result)] == [
        "print('peeked')",
        "FINAL('from the answer')",
    ]
    first = _calls(result)[0]
    assert first["reasoning"].startswith("Plan: peek first.") and "from the reasoning" in first["reasoning"]
    assert "<think>" not in first["completion"] and "Plan" not in first["completion"]
    # The model is not sent its own reasoning back.
    sent_back = server.requests[1]["messages"][-2]
    assert sent_back["role"] == "assistant" and "Plan" not in sent_back["content"]


def test_a_closing_think_tag_alone_ends_the_reasoning(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.think_block_opened_by_the_template)

    assert result["results"] == "after the closing tag"
    assert _calls(result)[0]["reasoning"] == "I should answer at once."


def test_an_unclosed_think_block_is_all_reasoning(scripted_server):
    server, result = _run(scripted_server, reply_scenarios.unclosed_think_block)

    assert result["results"] == "second try"
    assert "held only reasoning" in _observations(server)[0]
    assert "half-thought" in _calls(result)[0]["reasoning"]


def test_think_tags_inside_code_are_code(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.code_that_handles_think_tags)

    assert result["results"] == "answer"
    assert _calls(result)[0]["reasoning"] is None


def test_reasoning_fields_are_logged_and_not_sent_back(scripted_server):
    server, result = _run(scripted_server, reply_scenarios.reasoning_fields)

    assert result["results"] == 42
    assert [call["reasoning"] for call in _calls(result)] == ["Plan A: set x first.", "Plan B: multiply."]
    assert all("Plan A" not in message["content"] for message in server.requests[1]["messages"])
    typed = parse_event(_calls(result)[0])
    assert isinstance(typed, LlmCall) and typed.reasoning == "Plan A: set x first."


def test_content_as_a_list_of_parts(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.content_as_parts)

    assert result["results"] == "from parts"
    call = _calls(result)[0]
    assert call["completion"] == "```repl\nFINAL('from parts')\n```"
    assert call["reasoning"] == "The parts hold it."


def test_py_and_python_fences_run_in_order(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.py_and_python_fences)

    assert result["results"] == 42
    assert [step["code"] for step in _steps(result)] == ["x = 6\n", "FINAL(x * 7)\n"]


def test_an_unlabelled_fence_runs_when_there_is_no_repl_block(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.unlabelled_fence)
    assert result["results"] == "unlabelled"


def test_a_repl_block_wins_over_an_unlabelled_one(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.repl_block_beside_an_unlabelled_one)

    assert result["results"] == "repl"
    assert len(_steps(result)) == 1


def test_a_final_line_outside_a_block_ends_the_agent(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.final_line_outside_a_block)

    assert result["results"] == 42
    assert [step["code"] for step in _steps(result)] == ["FINAL(6 * 7)"]


def test_a_final_var_line_outside_a_block_returns_the_repl_variable(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.final_var_line_outside_a_block)

    assert result["results"] == {"total": 42}
    assert _steps(result)[-1]["code"] == 'FINAL_VAR("answer")'


def test_final_in_prose_inline_code_reasoning_or_beside_a_block_is_not_run(scripted_server):
    server, result = _run(scripted_server, reply_scenarios.final_in_prose)

    assert result["results"] == "real"
    observations = _observations(server)
    assert all("no ```repl code block" in text for text in observations[:3])
    assert observations[3] == "looking"  # the block ran; the FINAL line beside it did not
    assert [step["code"].strip() for step in _steps(result)] == ["print('looking')", "FINAL('real')"]
    assert _calls(result)[2]["reasoning"] == "FINAL('thought')"


def test_final_var_in_a_block_takes_a_name_and_names_the_fix(scripted_server):
    server, result = _run(scripted_server, reply_scenarios.final_var_in_a_block)

    assert result["results"] == [1, 2]
    missing, not_a_name = _observations(server)[:2]
    assert "NameError" in missing and "no variable 'not_set'" in missing and "FINAL(value)" in missing
    assert "TypeError" in not_a_name and "FINAL_VAR('answer')" in not_a_name


def test_empty_and_reasoning_only_replies_get_a_corrective_observation(scripted_server):
    server, result = _run(
        scripted_server, reply_scenarios.empty_then_reasoning_only, max_calls_per_subagent=5
    )

    assert result["results"] == "answered"
    empty, reasoning_only = _observations(server)[:2]
    assert empty.startswith("Your reply was empty") and "4 left" in empty
    assert reasoning_only.startswith("Your reply held only reasoning") and "3 left" in reasoning_only
    # Providers that refuse an assistant message without content get a placeholder.
    assert server.requests[1]["messages"][-2] == {"role": "assistant", "content": "(empty reply)"}
    calls = _calls(result)
    assert calls[0]["completion"] == "" and calls[1]["reasoning"] == "Still thinking about it."
    assert _steps(result)[0]["code"].strip() == "FINAL('answered')"


def test_a_reply_cut_at_the_token_limit_runs_nothing(scripted_server):
    server, result = _run(scripted_server, reply_scenarios.cut_at_the_token_limit, max_calls_per_subagent=4)

    assert result["results"] == "whole"
    cut = _observations(server)[0]
    assert "cut off at the output token limit" in cut and "3 left" in cut
    assert [call["finish_reason"] for call in _calls(result)] == ["length", "stop"]
    assert [step["code"].strip() for step in _steps(result)] == ["FINAL('whole')"]


def test_empty_replies_count_against_max_calls_per_subagent(scripted_server):
    server = scripted_server(reply_scenarios.always_empty)
    with pytest.raises(BudgetExceededError, match="max_calls_per_subagent=3"):
        fast_rlm.run("q", config=config_for(server, max_calls_per_subagent=3), verbosity=0)
    assert server.request_count == 3
    assert "1 left" in server.requests[-1]["messages"][-1]["content"]


@in_event_loop
async def test_the_viewer_folds_the_reasoning_and_marks_a_cut_reply(scripted_server):
    _, result = _run(scripted_server, reply_scenarios.reasoning_and_a_cut_reply)
    app = LogViewerApp(result["log_file"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [shown_text(widget) for widget in app.query(Static).filter(".turn-title")]
        assert "cut at the output token limit" in titles[0] and "cut" not in titles[1]
        (reasoning,) = [fold for fold in app.query(Collapsible) if str(fold.title).startswith("reasoning")]
        assert reasoning.title == "reasoning: 12 characters" and reasoning.collapsed
        assert "A long plan." not in screen_text(app)
        reasoning.collapsed = False
        await pilot.pause()
        assert "A long plan." in screen_text(app)
