"""The Textual viewer driven by a Pilot: navigation, search, errors, follow mode, timeline, help,
broken and 100 MB logs, and text snapshots of its screens.

Snapshots are the screen's text (from Textual's SVG screenshot), compared with
tests/fixtures/snapshots/*.txt. After an intended change of the viewer's look, rewrite them with
`FAST_RLM_UPDATE_SNAPSHOTS=1 pytest tests/test_tui.py`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.widgets import ContentSwitcher, Input, Static

from fast_rlm.logs.reader import LogIndex
from tui import LogViewerApp
from tui.agent_tree import AgentTree
from tui.info_screen import InfoScreen
from tui.steps import AgentSteps, TurnView
from tui.timeline import LLM, Timeline

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import FIXTURES_DIR, NORMALISED_LOG, with_host_calls  # noqa: E402

pytest_plugins = ["tests.log_fixtures"]  # the session's real, broken and big logs

SNAPSHOTS_DIR = FIXTURES_DIR / "snapshots"


def in_event_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Runs an async test in its own event loop (no async plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


SIZE = (120, 34)


def screen_text(app: LogViewerApp) -> str:
    """The characters on screen, line by line, read back from Textual's SVG screenshot."""
    svg = ElementTree.fromstring(app.export_screenshot())
    cells: dict[int, dict[int, str]] = {}
    texts = [node for node in svg.iter("{http://www.w3.org/2000/svg}text") if node.get("clip-path")]
    cell_width = min(float(node.get("textLength")) / len(node.text) for node in texts if node.text)
    for node in texts:
        line = int(re.search(r"line-(\d+)", node.get("clip-path")).group(1))
        column = round(float(node.get("x")) / cell_width)
        for offset, character in enumerate((node.text or "").replace("\xa0", " ")):
            cells.setdefault(line, {})[column + offset] = character
    width, height = app.size
    return "\n".join(
        "".join(cells.get(line, {}).get(column, " ") for column in range(width)).rstrip()
        for line in range(height)
    )


def assert_matches_snapshot(app: LogViewerApp, name: str) -> None:
    actual = screen_text(app)
    snapshot = SNAPSHOTS_DIR / f"{name}.txt"
    if os.environ.get("FAST_RLM_UPDATE_SNAPSHOTS"):
        SNAPSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(actual + "\n", encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot}: run with FAST_RLM_UPDATE_SNAPSHOTS=1 to write it"
    assert actual + "\n" == snapshot.read_text(encoding="utf-8"), f"the {name} screen changed: see {snapshot}"


def turn_views(app: LogViewerApp) -> list[TurnView]:
    return list(app.query(TurnView))


def shown_text(widget: Static) -> str:
    return str(widget.render())


@in_event_loop
async def test_opens_on_the_root_agent_with_totals(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        assert app.selected_agent == "root"
        assert app.query_one(AgentTree).cursor_node.data == "root"
        assert len(turn_views(app)) == len(app.index.agent_turns("root")) == 2
        totals = shown_text(app.query_one("#totals", Static))
        assert "ok in" in totals and "7 agents, 12 LLM calls" in totals and "cost $0.003000" in totals
        steps_text = screen_text(app)
        assert "call 1 · z-ai/glm-5" in steps_text and "step 1 · ran in" in steps_text
        assert "host function unit_of" in steps_text and 'print("items:", context' in steps_text


@in_event_loop
async def test_arrow_keys_select_agents_and_children_load_when_expanded(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)
    chain = next(agent_id for agent_id, record in index.agents.items() if record.instruction == "chain down")
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tree = app.query_one(AgentTree)
        assert tree.node_of(f"{chain}.0") is None  # not a node until its parent is expanded

        for _ in range(index.root_ids and index.agents["root"].children.index(chain) + 1):
            await pilot.press("down")
        await pilot.pause()
        assert app.selected_agent == chain
        await pilot.press("space")
        await pilot.pause()
        assert tree.node_of(f"{chain}.0") is not None
        await pilot.press("down")
        await pilot.pause()
        assert app.selected_agent == f"{chain}.0"
        assert f"parent {chain}" in screen_text(app)


@in_event_loop
async def test_search_jumps_from_match_to_match(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)
    # The step that raised, then the next prompt that shows the agent its error.
    hits = index.search("division by ZERO")
    summing = next(
        agent_id for agent_id, record in index.agents.items() if record.instruction == "sum the numbers"
    )
    assert [hit.agent_id for hit in hits] == [summing, summing]
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        assert app.focused is app.query_one("#search", Input)
        await pilot.press(*"division by")
        app.query_one("#search", Input).insert_text_at_cursor(" ZERO")  # typing it all is slow
        await pilot.press("enter")
        await pilot.pause()

        assert app.status_message == f"match 1/2 for 'division by ZERO' in {summing}"
        assert app.selected_agent == summing and app.focused is app.query_one(AgentTree)
        assert app.query_one(".turn.-target", TurnView).turn.number == 1
        await pilot.press("n")
        await pilot.pause()
        assert app.status_message.startswith("match 2/2")
        assert app.query_one(".turn.-target", TurnView).turn.number == 2
        await pilot.press("n")  # wraps around
        await pilot.pause()
        assert app.query_one(".turn.-target", TurnView).turn.number == 1
        await pilot.press("N")
        await pilot.pause()
        assert app.query_one(".turn.-target", TurnView).turn.number == 2

        await pilot.press("slash")
        app.query_one("#search", Input).value = "desserts"  # a result: shown in the agent's header
        await pilot.press("enter")
        await pilot.pause()
        reverser = next(
            agent_id for agent_id, record in index.agents.items() if record.instruction == "reverse the word"
        )
        assert {hit.agent_id for hit in index.search("desserts")} == {"root", reverser}
        assert app.selected_agent in {"root", reverser} and "desserts" in screen_text(app)


@in_event_loop
async def test_a_search_without_matches_says_so(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"zebra", "enter")
        await pilot.pause()
        assert app.status_message == "no match for 'zebra'"
        assert app.selected_agent == "root"


@in_event_loop
async def test_next_error_visits_the_failed_step_and_the_failed_agent(scripted_logs):
    index = LogIndex.open(scripted_logs.fan_out_and_chain)
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        visited = []
        for _ in index.errors:
            await pilot.press("e")
            await pilot.pause()
            visited.append(app.selected_agent)
        assert visited == [error.agent_id for error in index.errors]
        step_error = next(error for error in index.errors if "ZeroDivisionError" in error.summary)
        await pilot.press("e")  # wraps around to the first error
        await pilot.pause()
        if app.selected_agent != step_error.agent_id:
            await pilot.press("e")
            await pilot.pause()
        target = app.query_one(".turn.-target", TurnView)
        assert "ZeroDivisionError" in target.turn.steps[0].error
        assert "ZeroDivisionError: division by zero" in screen_text(app)


@in_event_loop
async def test_follow_mode_picks_up_lines_appended_to_the_log(scripted_logs, tmp_path):
    lines = scripted_logs.fan_out_and_chain.read_text(encoding="utf-8").splitlines(keepends=True)
    growing = tmp_path / "live.jsonl"
    growing.write_text("".join(lines[:3]), encoding="utf-8")  # run_start, root's start, its first call
    grew = asyncio.Event()

    def watch(message: Message) -> None:
        if isinstance(message, LogViewerApp.LogGrew):
            grew.set()

    app = LogViewerApp(growing, follow_interval_s=0.05)
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await pilot.pause()
        assert list(app.index.agents) == ["root"]
        assert "no run_end" in shown_text(app.query_one("#totals", Static))
        await pilot.press("f")
        assert app.following and "FOLLOWING" in shown_text(app.query_one("#status", Static))

        with growing.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines[3:]))
        await asyncio.wait_for(grew.wait(), timeout=10)
        await pilot.pause()

        tree = app.query_one(AgentTree)
        assert all(tree.node_of(child) is not None for child in app.index.agents["root"].children)
        assert len(app.index.agents) == 7
        assert shown_text(app.query_one("#totals", Static)).lstrip().startswith("ok")
        assert len(turn_views(app)) == 2  # the selected root's steps were re-read

        await pilot.press("f")
        assert not app.following and app._follow_timer is None


@in_event_loop
async def test_a_log_deleted_while_followed_stops_follow_mode_with_a_message(scripted_logs, tmp_path):
    copy = tmp_path / "deleted.jsonl"
    copy.write_bytes(scripted_logs.no_cost.read_bytes())
    app = LogViewerApp(copy, follow=True, follow_interval_s=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.following
        copy.unlink()
        await pilot.press("r")  # what the follow timer does, now
        await pilot.pause()
        assert not app.following and app.status_message.startswith("Cannot read the log")
        await pilot.press("down")
        await pilot.pause()
        assert "Cannot read the log" in screen_text(app)


@in_event_loop
async def test_host_function_calls_show_in_their_step_and_count_as_errors(scripted_logs, tmp_path):
    app = LogViewerApp(with_host_calls(scripted_logs.no_cost, tmp_path / "tools.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert app.selected_agent == "root.0"
        assert app.status_message == "error 1/1 in root.0: host function grep: ToolError: boom"
        text = screen_text(app)
        assert "host function lookup · 0.00 s · ok" in text
        assert "host function grep · 0.00 s · ToolError: boom" in text
        assert "2 host function calls" in text


@in_event_loop
async def test_the_timeline_shows_every_agent_and_opens_one(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await pilot.pause()
        timeline = app.query_one(Timeline)
        assert app.query_one(ContentSwitcher).current == "timeline" and app.focused is timeline
        assert timeline.rows == app.index.tree_order()
        text = screen_text(app)
        for agent_id in timeline.rows:
            assert re.search(rf"^.*\b{re.escape(agent_id)}\s.*{LLM}", text, re.MULTILINE), agent_id

        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert app.selected_agent == timeline.rows[2]
        assert app.query_one(ContentSwitcher).current == "steps"


@in_event_loop
async def test_help_lists_the_keys(scripted_logs):
    app = LogViewerApp(scripted_logs.fan_out_and_chain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, InfoScreen)
        text = screen_text(app)
        for key, description in (("/", "Search"), ("e", "Next error"), ("f", "Follow"), ("t", "Timeline")):
            assert re.search(rf"^\W*{re.escape(key)}\s+{description}", text, re.MULTILINE), description
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, InfoScreen)


@pytest.mark.parametrize(
    ("name", "notice"),
    [
        ("truncated_last_line", "the last line is incomplete"),
        ("unknown_event", "unknown event type 'tool_call'"),
        ("crashed", "no run_end"),
        ("empty", "the log is empty"),
        ("garbage_line", "not valid JSON"),
    ],
)
@in_event_loop
async def test_broken_logs_open_with_their_notice(broken_logs, name, notice):
    app = LogViewerApp(getattr(broken_logs, name))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert notice in shown_text(app.query_one("#totals", Static))
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, InfoScreen) and notice in screen_text(app)


@in_event_loop
async def test_a_100_mb_log_builds_widgets_for_the_selected_agent_only(big_log: Path):
    index = LogIndex.open(big_log)
    app = LogViewerApp(index)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")
        await pilot.pause()
        first_child = index.agents["root"].children[0]
        assert app.selected_agent == first_child
        assert len(turn_views(app)) == 1
        # Only one agent's turns are widgets: the whole app stays at a few dozen widgets.
        assert len(list(app.query("*"))) < 60
        await pilot.press("end")
        await pilot.pause()
        assert app.selected_agent == index.agents["root"].children[-1]
        assert "a line of output" in screen_text(app)


@in_event_loop
async def test_long_agents_are_shown_a_page_of_turns_at_a_time(tmp_path, scripted_logs):
    from tui.steps import TURNS_PER_PAGE

    lines = scripted_logs.no_cost.read_text(encoding="utf-8").splitlines()
    call = next(line for line in lines if '"llm_call"' in line and '"agent_id":"root.0"' in line)
    step = next(line for line in lines if '"code_step"' in line and '"agent_id":"root.0"' in line)
    long_log = tmp_path / "long.jsonl"
    long_log.write_text("\n".join(lines[:3] + [call, step] * (TURNS_PER_PAGE + 5)) + "\n", encoding="utf-8")
    app = LogViewerApp(long_log)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        assert app.selected_agent == "root.0"
        assert len(turn_views(app)) == TURNS_PER_PAGE
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert len(turn_views(app)) == 5
        assert app.query_one(AgentSteps).page == 1


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("main", []),
        ("next_error", ["e"]),
        ("expanded_chain", ["down", "down", "space", "down"]),
        ("timeline", ["t"]),
        ("help", ["question_mark"]),
    ],
)
@in_event_loop
async def test_snapshot(name, keys, tmp_path):
    # A copy, so the file name on screen is the same wherever the checkout is.
    log = tmp_path / NORMALISED_LOG.name
    shutil.copy(NORMALISED_LOG, log)
    app = LogViewerApp(log)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.pause()
        assert_matches_snapshot(app, name)
