"""The viewer's keys, driven by a Pilot: Enter keeps the cursor in the tree, tab moves between the
panes in one press, `p` unfolds the prompts, a search hit in a folded prompt unfolds it; the header
shows the run's caps; the timeline starts at run_start, draws the engine start apart and labels gaps."""

from __future__ import annotations

import json
import re

import pytest
from textual.widgets import Collapsible, Input, Static

from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.timeline import run_timeline
from tui import LogViewerApp
from tui.agent_tree import AgentTree
from tui.info_screen import InfoScreen
from tui.steps import AgentSteps, TurnView
from tui.timeline import ENGINE_START, GAP, Timeline

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import NORMALISED_LOG, iter_events, write_lines  # noqa: E402
from tests.test_tui import SIZE, in_event_loop, screen_text, shown_text  # noqa: E402

pytest_plugins = ["tests.log_fixtures"]  # the session's real logs


def prompt_folds(widget: LogViewerApp | TurnView) -> list[Collapsible]:
    """The folds of the prompts shown (the whole steps pane, or one turn)."""
    pane = widget.query_one(AgentSteps) if isinstance(widget, LogViewerApp) else widget
    return [fold for fold in pane.query(Collapsible) if fold.title.startswith("prompt:")]


@in_event_loop
async def test_enter_on_the_tree_shows_the_agent_and_keeps_the_cursor_in_the_tree(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tree = app.query_one(AgentTree)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.selected_agent == tree.cursor_node.data == "root.0"
        assert app.focused is tree
        await pilot.press("down")  # the next agent, without coming back to the tree first
        await pilot.pause()
        assert app.selected_agent == "root.1"


@in_event_loop
async def test_tab_moves_between_the_tree_and_the_steps_in_one_press(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tree, steps = app.query_one(AgentTree), app.query_one(AgentSteps)
        assert prompt_folds(app), "the root's turns have folded prompts, which can take the focus"
        for expected in (steps, tree, steps, tree):
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is expected
        await pilot.press("shift+tab")
        assert app.focused is steps
        await pilot.press("t", "tab")  # with the timeline on the right, tab reaches the timeline
        await pilot.pause()
        assert app.focused is tree
        await pilot.press("tab")
        assert app.focused is app.query_one(Timeline)


@in_event_loop
async def test_p_unfolds_every_prompt_and_the_help_names_it(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert prompt_folds(app) and all(fold.collapsed for fold in prompt_folds(app))
        await pilot.press("p")
        await pilot.pause()
        assert not any(fold.collapsed for fold in prompt_folds(app))
        await pilot.press("down")  # another agent's prompts open unfolded too
        await pilot.pause()
        assert prompt_folds(app) and not any(fold.collapsed for fold in prompt_folds(app))
        await pilot.press("p")
        await pilot.pause()
        assert all(fold.collapsed for fold in prompt_folds(app))

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, InfoScreen)
        assert re.search(r"^\W*p\s+unfold every prompt", screen_text(app), re.MULTILINE)


@in_event_loop
async def test_a_search_hit_in_a_folded_prompt_unfolds_it(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)
    # The summing child's second prompt tells it of its first step's error: the hit is in a prompt.
    summing = next(
        agent_id for agent_id, record in index.agents.items() if record.instruction == "sum the numbers"
    )
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        app.query_one("#search", Input).value = "division by zero"
        await pilot.press("enter", "n")
        await pilot.pause()
        assert app.status_message == f"match 2/2 for 'division by zero' in {summing}"
        target = app.query_one(".turn.-target", TurnView)
        assert target.turn.number == 2
        assert [fold.collapsed for fold in prompt_folds(target)] == [False]
        assert "division by zero" in screen_text(app)
        # The other turn's prompt does not hold the text: still folded.
        others = [view for view in app.query(TurnView) if view is not target]
        assert all(fold.collapsed for view in others for fold in prompt_folds(view))


@in_event_loop
async def test_the_header_shows_the_runs_caps_beside_their_use(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)
    limits = index.run_end.usage.limits
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        totals = shown_text(app.query_one("#totals", Static))
        prompt_used = round(limits["max_prompt_tokens"].used)
        assert f"\nlimits: {round(limits['max_llm_calls'].used)} LLM requests (no cap) · " in totals
        assert f"{prompt_used:,} of {round(limits['max_prompt_tokens'].limit):,} prompt tokens" in totals


@in_event_loop
async def test_the_timeline_starts_at_run_start_and_labels_the_engine_start_and_the_gaps():
    index = LogIndex.open(NORMALISED_LOG)
    axis = run_timeline(index)
    assert axis.start == index.run_start.ts
    assert axis.engine_start is not None and axis.engine_start.end == index.agents["root"].start_ts
    # The recorded run waits on the root's REPL after its first reply: nothing runs for over a second.
    assert len(axis.gaps) == 1 and axis.gaps[0].duration_s > 1
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        timeline_title = next(line for line in lines if "timeline:" in line)
        assert f"timeline: run start 0 → {axis.duration_s:.2f} s" in timeline_title
        engine_line = next(line for line in lines if "engine start" in line)
        assert f"engine start {axis.engine_start.duration_s:.2f} s" in engine_line
        assert ENGINE_START in engine_line and GAP in engine_line
        assert f" {axis.gaps[0].duration_s:.2f} s idle " in engine_line
        # The agents' rows come after it: the root first.
        assert re.search(r"│root\s", lines[lines.index(engine_line) + 1])


@pytest.mark.parametrize("name", ["fan_out_and_chain", "no_cost"])
def test_the_gantt_marks_the_engine_start_and_labels_the_gaps_like_the_timeline(scripted_logs, name):
    from fast_rlm.logs.render import render

    index = LogIndex.open(getattr(scripted_logs, name))
    axis = run_timeline(index)
    page = render(index, "gantt-html")
    assert axis.engine_start is not None
    assert re.search(
        rf'<g class="engine-start">.*<text [^>]*>engine start {axis.engine_start.duration_s:.2f} s<', page
    )
    labels = re.findall(r'<g class="gap">.*?<text [^>]*>([^<]*)</text></g>', page)
    assert labels == [
        f"{gap.duration_s:.2f} s idle (from {gap.start - axis.start:.2f} s)" for gap in axis.gaps
    ]
    # The axis starts at run_start: its first tick is 0, its last the run's length.
    ticks = re.findall(r'<text x="[\d.]+" y="\d+" text-anchor="middle">([\d.]+)s</text>', page)
    assert ticks[0] == "0.00" and ticks[-1] == f"{axis.duration_s:.2f}"


def test_an_engine_start_under_the_logs_millisecond_is_still_marked(scripted_logs, tmp_path):
    # The engine starts its REPL processes before it logs run_start, so the root can start within the
    # same millisecond: the engine start is then a sliver, not missing.
    events = list(iter_events(scripted_logs.no_cost))
    run_start_ts = events[0]["ts"]
    for event in events:
        if event["event"] == "agent_start" and event["agent_id"] == "root":
            event["ts"] = run_start_ts
    log = write_lines(tmp_path / "same_ms.jsonl", [json.dumps(event) for event in events])

    axis = run_timeline(LogIndex.open(log))
    assert axis.engine_start is not None
    assert axis.engine_start.start == axis.engine_start.end == run_start_ts
