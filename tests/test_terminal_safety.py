"""Text that agent code or a model wrote never reaches a terminal raw: terminal control sequences
(OSC 52 clipboard writes, clear-screen, DCS, bell, `\\r`, C1 CSI, bidi overrides) and rich markup
pass through every view as visible, inert text.

Each surface is fed a run whose every string holds HOSTILE and its real output is read back: the
live tree (rich, on a terminal), the line printer, `fast-rlm-log` (report and the three renders)
and the viewer (what Textual would write to the terminal, screen by screen)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Collapsible

from fast_rlm.errors import AgentError
from fast_rlm.events import AgentEnd, LogEvent, parse_event
from fast_rlm.logs.cli import main as log_main
from fast_rlm.watch.live_progress import LiveProgress, RunProgress, render_progress
from fast_rlm.watch.progress import ProgressPrinter
from fast_rlm.watch.terminal_text import printable, printable_fields
from fast_rlm.watch.verbosity import FULL
from tui import LogViewerApp

# `\r` comes first: the live tree shows the last line of an output, which is what follows it.
HOSTILE = (
    "over\rwrite "
    "\x1b]52;c;cm0gLXJmIH4K\x07 "  # OSC 52: write the clipboard, ended by BEL
    "\x1b]52;c;cm0gLXJmIH4K\x1b\\ "  # ... ended by ST
    "\x1b[2J\x1b[H "  # clear the screen, cursor home
    "\x1bP+q544e\x1b\\ "  # DCS
    "\x07 "  # bell
    "\x9b2J "  # C1 CSI: clear the screen in one byte
    "\u202eexe.txt "  # right-to-left override
    "[bold red]markup[/] [link=file:///etc/passwd]link[/link] <script>alert(1)</script>"
)
RAW_SEQUENCES = ("\x1b]52", "\x1b[2J", "\x1bP", "\x9b", "\u202e", "\x07", "\x1b]8;")
MARKUP = "[bold red]markup[/]"
# Controls a terminal acts on: plain text output holds none of them.
UNSAFE_CHARACTER = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
REPOSITORY = Path(__file__).parent.parent
CHILD_ID = "root.0 \x1b[2J\u202e"


def assert_no_raw_sequences(output: str) -> None:
    """For output that has escape sequences of its own (rich, Textual): none of HOSTILE's."""
    for sequence in RAW_SEQUENCES:
        assert sequence not in output, f"{sequence!r} reached the terminal"
    assert "␛]52;c;cm0gLXJmIH4K␇" in output  # shown, not silently dropped


def assert_plain_and_printable(output: str) -> None:
    """For plain text output: no control character at all."""
    found = UNSAFE_CHARACTER.search(output)
    assert found is None, f"{found.group()!r} reached the output"
    assert "␛]52;c;cm0gLXJmIH4K␇" in output and "over␍write" in output


def hostile(field: str) -> str:
    """HOSTILE, tagged with the field it is written in, to find where each field is shown."""
    return f"{field}: {HOSTILE}"


def shown(field: str) -> str:
    """The start of hostile(field) as a view shows it."""
    return f"{field}: over␍write ␛]52;c;cm0gLXJmIH4K␇"


def hostile_events() -> list[dict[str, Any]]:
    """A run where every string an agent or model can write is hostile: a root that retries, calls
    a host function that fails, runs a failing step and fails; a child with a hostile id that
    answers."""
    common = {"v": 1, "run_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    ts = iter(1_767_225_600.0 + 0.1 * tick for tick in range(100))
    code = f'print("""{hostile("code")}""")'
    lines = [
        {
            "event": "run_start",
            "config": {},
            "query_type": "str",
            "query_chars": 1,
            "query_preview": hostile("query"),
            "instruction": hostile("run instruction"),
            "workers": 2,
        },
        {
            "event": "agent_start",
            "agent_id": "root",
            "parent_id": None,
            "depth": 0,
            "model": hostile("root model"),
            "instruction": None,
            "context_type": "str",
            "context_chars": 1,
            "context_preview": hostile("context"),
        },
        {
            "event": "llm_retry",
            "agent_id": "root",
            "call": 1,
            "attempt": 1,
            "reason": hostile("retry reason"),
            "wait_s": 0.0,
        },
        {
            "event": "llm_call",
            "agent_id": "root",
            "call": 1,
            "model": hostile("call model"),
            "new_messages": [{"role": hostile("role"), "content": hostile("prompt")}],
            "completion": f"{hostile('reply')}\n```repl\n{code}\n```",
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost": None},
            "duration_s": 0.05,
            "attempts": 2,
        },
        {
            "event": "agent_start",
            "agent_id": CHILD_ID,
            "parent_id": "root",
            "depth": 1,
            "model": hostile("child model"),
            "instruction": hostile("instruction"),
            "context_type": "str",
            "context_chars": 1,
            "context_preview": hostile("child context"),
        },
        {
            "event": "host_call",
            "agent_id": "root",
            "name": hostile("host function"),
            "ok": False,
            "error": {"type": hostile("host error type"), "message": hostile("host error")},
            "duration_s": 0.001,
        },
        {
            "event": "agent_end",
            "agent_id": CHILD_ID,
            "status": "done",
            "result": hostile("result"),
            "llm_calls": 0,
            "duration_s": 0.1,
        },
        {
            "event": "code_step",
            "agent_id": "root",
            "step": 1,
            "code": code,
            "stdout": hostile("stdout"),
            "stderr": hostile("stderr"),
            "error": f"Traceback:\n{hostile('step error')}",
            "final": False,
            "duration_s": 0.02,
        },
        {
            "event": "agent_end",
            "agent_id": "root",
            "status": "failed",
            "error": {"type": hostile("agent error type"), "message": hostile("agent error")},
            "llm_calls": 1,
            "duration_s": 0.5,
        },
        {
            "event": "run_end",
            "status": "error",
            "error": {"type": hostile("run error type"), "message": hostile("run error")},
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "llm_calls": 1,
                "agents": 2,
                "cost": None,
            },
            "duration_s": 0.6,
        },
    ]
    return [{**common, "ts": next(ts), **line} for line in lines]


@pytest.fixture
def hostile_log(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in hostile_events()), encoding="utf-8")
    return path


def parsed_events() -> list[LogEvent]:
    return [parse_event(event) for event in hostile_events()]


# printable ---------------------------------------------------------------------------------------


def test_printable_shows_every_control_character_as_a_visible_stand_in():
    assert printable(HOSTILE) == (
        "over␍write ␛]52;c;cm0gLXJmIH4K␇ ␛]52;c;cm0gLXJmIH4K␛\\ ␛[2J␛[H ␛P+q544e␛\\ ␇ ⟨U+009B⟩2J "
        "⟨U+202E⟩exe.txt [bold red]markup[/] [link=file:///etc/passwd]link[/link] <script>alert(1)</script>"
    )
    assert printable("\x00\x7f\u2066\u2028\ud800") == "␀␡⟨U+2066⟩⟨U+2028⟩⟨U+D800⟩"


def test_printable_keeps_newlines_tabs_and_ordinary_text():
    text = "línea 1\n\tdone ✓ 完了 🙂 (a [b] c)"
    assert printable(text) is text
    assert printable("windows\r\nline end\r\n") == "windows\nline end\n"


def test_printable_fields_reaches_nested_strings_and_keeps_what_the_log_held():
    call = parse_event(hostile_events()[3])
    shown_call = printable_fields(call)
    assert shown_call.new_messages[0].content == printable(hostile("prompt"))
    assert call.new_messages[0].content == hostile("prompt")  # a copy: the event itself is untouched
    end = parse_event(hostile_events()[6])
    assert isinstance(end, AgentEnd)
    shown_end = printable_fields(end)
    assert shown_end.agent_id == printable(CHILD_ID) and shown_end.result == printable(hostile("result"))
    assert shown_end.model_fields_set == end.model_fields_set and "error" not in shown_end.model_fields_set


# The live tree -----------------------------------------------------------------------------------


def test_the_live_tree_shows_agent_text_inert_at_every_state():
    run = RunProgress()
    output = io.StringIO()
    console = Console(file=output, width=400, force_terminal=True)
    for event in parsed_events():
        run.apply(event)
        console.print(render_progress(run, FULL, event.ts))
    frames = output.getvalue()
    assert_no_raw_sequences(frames)
    assert "\r" not in frames and MARKUP in frames
    assert f"thinking (retry 1: {shown('retry reason')}" in frames
    assert f"failed: {shown('agent error type')}" in frames
    assert "│ write ␛]52;c;cm0gLXJmIH4K␇" in frames  # a latest line: what follows the `\r`
    assert printable(CHILD_ID) in frames


def test_the_live_view_on_a_terminal_prints_the_failure_inert():
    stream = io.StringIO()
    live = LiveProgress(FULL, stream)
    live.start()
    for event in parsed_events():
        live.show(event)
    live.failed(AgentError(f"The root agent failed: {HOSTILE}"))
    output = stream.getvalue()
    assert_no_raw_sequences(output)
    assert f"failed: AgentError: The root agent failed: {printable(HOSTILE)}" in output


# The line printer --------------------------------------------------------------------------------


def test_the_line_printer_prints_agent_text_inert():
    stream = io.StringIO()
    printer = ProgressPrinter(FULL, stream)
    for event in parsed_events():
        printer.show(event)
    printer.failed(AgentError(HOSTILE))
    output = stream.getvalue()
    assert_plain_and_printable(output)
    for line_start in (
        f"▶ root ({shown('root model')}",
        f"▶ {printable(CHILD_ID)} ({shown('child model')}",
        f"retry root call 1: {shown('retry reason')}",
        f'[root step 1] print("""{shown("code")}',
        f"stdout: {shown('stdout')}",
        f"✓ {printable(CHILD_ID)} -> {shown('result')}",
        f"✗ root {shown('agent error type')}",
        "failed: AgentError: over␍write ␛]52",
    ):
        assert line_start in output


# fast-rlm-log ------------------------------------------------------------------------------------


def test_the_report_prints_agent_text_inert(hostile_log):
    completed = subprocess.run(
        [sys.executable, "-m", "fast_rlm.logs.cli", str(hostile_log)],
        cwd=REPOSITORY,  # this checkout's fast_rlm, not an installed one
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    report = completed.stdout
    assert_plain_and_printable(report)
    for field in ("root model", "child model", "run error type", "agent error type"):
        assert shown(field) in report, field
    assert printable(CHILD_ID) in report and MARKUP in report


@pytest.mark.parametrize("format_name", ["mermaid", "dot", "gantt-html"])
def test_renders_hold_agent_text_inert(hostile_log, capsys, format_name):
    assert log_main([str(hostile_log), "--render", format_name]) == 0
    output = capsys.readouterr().out
    assert_plain_and_printable(output)
    assert printable(CHILD_ID) in output and shown("root model") in output


def test_the_gantt_html_escapes_agent_text(hostile_log, capsys):
    assert log_main([str(hostile_log), "--render", "gantt-html"]) == 0
    page = capsys.readouterr().out

    class Elements(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.add(tag)

    elements = Elements()
    elements.feed(page)
    assert "script" not in elements.tags and "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# The viewer --------------------------------------------------------------------------------------


def terminal_output(app: LogViewerApp) -> str:
    """What Textual writes to the terminal for the whole current screen. The test driver writes
    nothing, so this asks the screen's compositor (private, the only place it is whole)."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def text_of(output: str) -> str:
    """`output` without Textual's own styling and cursor moves."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)


def test_the_viewer_shows_agent_text_inert_on_every_screen(hostile_log):
    async def screens() -> dict[str, str]:
        outputs = {}
        app = LogViewerApp(hostile_log)
        async with app.run_test(size=(400, 120)) as pilot:
            await pilot.pause()
            for collapsible in app.query(Collapsible):
                collapsible.collapsed = False
            await pilot.pause()
            outputs["root's steps"] = terminal_output(app)
            await pilot.press("down")
            await pilot.pause()
            outputs["the child's steps"] = terminal_output(app)
            await pilot.press("e")  # the status line quotes the error
            await pilot.pause()
            outputs["next error"] = terminal_output(app)
            await pilot.press("t")
            await pilot.pause()
            outputs["timeline"] = terminal_output(app)
        return outputs

    outputs = asyncio.run(screens())
    for name, output in outputs.items():
        for sequence in RAW_SEQUENCES:
            assert sequence not in output, f"{sequence!r} reached the terminal on the {name} screen"
        assert "\r" not in output, name
    root = text_of(outputs["root's steps"])
    for field in (
        "root model",
        "context",
        "call model",
        "retry reason",
        "role",
        "prompt",
        "reply",
        "code",
        "host function",
        "host error",
        "stdout",
        "stderr",
        "step error",
        "agent error",
    ):
        assert shown(field) in root, field
    assert MARKUP in root  # the header's model row, a rich Table cell, is not read as markup
    assert printable(CHILD_ID) in root  # the agent tree
    child = text_of(outputs["the child's steps"])
    for field in ("child model", "instruction", "child context", "result"):
        assert shown(field) in child, field
    assert f"error 1/3 in root: host function {shown('host function')}" in text_of(outputs["next error"])
    assert printable(CHILD_ID) in text_of(outputs["timeline"])


def test_notices_quoting_the_log_are_shown_inert(tmp_path, capsys):
    """A notice quotes the agent id of an event that came before its agent_start: on stderr, in the
    viewer's totals and on its notices page."""
    ghost = "ghost \x1b]52;c;cm0gLXJmIH4K\x07 \u202e"
    run_start, retry = hostile_events()[0], hostile_events()[2]
    log = tmp_path / "orphan \x1b[2J.jsonl"  # the file's name is shown too
    log.write_text(json.dumps(run_start) + "\n" + json.dumps({**retry, "agent_id": ghost}) + "\n")
    notice = f"line 2: events of agent {printable(ghost)} appear before its agent_start"

    assert log_main([str(log), "--render", "dot", "-o", str(tmp_path / "run.dot")]) == 0
    stderr = capsys.readouterr().err
    assert_no_raw_sequences(stderr)
    assert notice in stderr

    async def screens() -> tuple[str, str]:
        app = LogViewerApp(log)
        async with app.run_test(size=(200, 40)) as pilot:
            await pilot.pause()
            main_screen = terminal_output(app)
            await pilot.press("i")
            await pilot.pause()
            return main_screen, terminal_output(app)

    for output in asyncio.run(screens()):
        assert_no_raw_sequences(output)
        assert notice in text_of(output)
