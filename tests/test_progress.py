"""What a run shows on stderr: the live agent tree on a terminal, a line per event elsewhere.

The live view is checked deterministically by replaying recorded events (a real run's log) into its
state model and rendering with a recording rich Console; the live path itself runs end to end in a
subprocess whose stderr counts as a terminal (TTY_COMPATIBLE=1, rich's convention)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import fast_rlm
from fast_rlm.events import AgentStart, LlmCall, LlmRetry, LogEvent, RunEnd, parse_event
from fast_rlm.watch.live_progress import RunProgress, render_progress
from fast_rlm.watch.verbosity import FULL, SUMMARY
from tests import scripted_server as scenarios
from tests.conftest import config_for
from tests.test_cancellation import HangingChildren

RECORDED_RUN = Path(__file__).parent / "fixtures" / "scripted_run.jsonl"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def recorded_events() -> list[LogEvent]:
    """A real run (tests/log_fixtures.py): host calls, a 429 retry, four children, a chain of
    grandchildren, a child that fails, cost reported for every call."""
    return [parse_event(json.loads(line)) for line in RECORDED_RUN.read_text().splitlines()]


def replay(
    events: list[LogEvent], until: Callable[[LogEvent], bool] | None = None
) -> tuple[RunProgress, float]:
    """The state after the events up to and including the first that `until` accepts (or all), and
    that event's time."""
    run = RunProgress()
    for event in events:
        run.apply(event)
        if until is not None and until(event):
            break
    return run, event.ts


def render(run: RunProgress, now: float, level: int = SUMMARY, max_rows: int | None = None) -> str:
    console = Console(file=io.StringIO(), record=True, width=100, force_terminal=True)
    console.print(render_progress(run, level, now, max_rows))
    return console.export_text()


def _is_start_of(event: LogEvent, agent_id: str) -> bool:
    return isinstance(event, AgentStart) and event.agent_id == agent_id


def row(text: str, agent_id: str) -> str:
    """The rendered row of one agent."""
    return next(line for line in text.splitlines() if line.split()[1:2] == [agent_id])


def test_live_view_follows_each_agent_through_a_recorded_run():
    events = recorded_events()

    # The root's step has spawned its four children; the first child's model call was rate limited
    # (the two in whichever order the recording has them).
    both_seen = max(
        next(position for position, event in enumerate(events) if isinstance(event, LlmRetry)),
        next(position for position, event in enumerate(events) if _is_start_of(event, "root.3")),
    )
    run, now = replay(events[: both_seen + 1])
    text = render(run, now)
    assert "waiting on 4 children" in row(text, "root")
    assert "thinking (retry 1: HTTP 429)" in row(text, "root.0")
    assert "thinking" in row(text, "root.3")
    assert text.startswith("fast-rlm running")

    # A child that got its model's reply runs its code; one whose code spawned a grandchild waits on it.
    run, now = replay(events, until=lambda event: _is_start_of(event, "root.1.0"))
    text = render(run, now)
    assert "running code" in row(text, "root.2")
    assert "waiting on 1 child" in row(text, "root.1")
    assert "thinking" in row(text, "root.1.0")

    run, now = replay(events)
    text = render(run, now, level=FULL)
    assert "failed: BudgetExceededError" in row(text, "root.2")
    for agent_id in ("root", "root.0", "root.1", "root.1.0", "root.1.0.0", "root.3"):
        assert "✓" in row(text, agent_id) and " done " in row(text, agent_id)
    run_end = events[-1]
    assert isinstance(run_end, RunEnd)
    tokens = run_end.usage.prompt_tokens + run_end.usage.completion_tokens
    header = text.splitlines()[0]
    assert header.startswith("fast-rlm done")
    assert f"{tokens:,} tokens" in header and f"cost ${run_end.usage.cost:.6f}" in header
    assert "12 LLM calls" in header and "7 agents (6 done, 1 failed)" in header
    root_tokens = sum(
        event.usage.prompt_tokens + event.usage.completion_tokens
        for event in events
        if isinstance(event, LlmCall) and event.agent_id == "root"
    )
    assert row(text, "root").split()[3:6] == ["2", f"{root_tokens:,}", "$0.000500"]  # steps, tokens, cost
    # At full verbosity each agent shows its latest line: code, output, host call or error.
    assert "│ step 1: FINAL('bottom')" in text
    assert "│ agent root.2 used all max_calls_per_subagent=3 model calls" in text


class ChildrenAnswerTogether:
    """fan_out(3), but no child's model answers before all three children have asked."""

    def __init__(self) -> None:
        self.all_asked = threading.Barrier(3, timeout=30)
        self.fan_out = scenarios.fan_out(3)

    def __call__(self, request: dict[str, Any]) -> str:
        if not scenarios.is_root(request):
            self.all_asked.wait()
        return self.fan_out(request)


def test_live_view_says_cost_is_not_available_when_the_provider_does_not_report_it(scripted_server):
    server = scripted_server(ChildrenAnswerTogether(), responder_may_block=True)
    events: list[LogEvent] = []
    fast_rlm.run("squares", config=config_for(server), verbosity=0, on_event=events.append)

    run, now = replay(events, until=lambda event: _is_start_of(event, "root.2"))
    text = render(run, now)
    assert "waiting on 3 children" in row(text, "root")
    assert all("thinking" in row(text, f"root.{n}") for n in range(3))

    run, now = replay(events)
    text = render(run, now)
    header = text.splitlines()[0]
    assert header.startswith("fast-rlm done") and "cost n/a" in header
    assert all(
        row(text, agent_id).split()[2] == "done" for agent_id in ("root", "root.0", "root.1", "root.2")
    )
    assert all(row(text, agent_id).split()[-3] == "n/a" for agent_id in ("root", "root.0"))


def _fan_out_events(children: int, failed: set[int]) -> list[LogEvent]:
    """Events of a root whose code waits on `children` children, most of them done."""
    common = {"v": 1, "ts": 100.0, "run_id": "r"}
    start = {
        "model": "m",
        "instruction": None,
        "context_type": "int",
        "context_chars": 1,
        "context_preview": "1",
    }
    raw = [
        {**common, "event": "agent_start", "agent_id": "root", "parent_id": None, "depth": 0, **start},
        {
            **common,
            "event": "llm_call",
            "agent_id": "root",
            "call": 1,
            "model": "m",
            "new_messages": [],
            "completion": "",
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost": None},
            "duration_s": 0.1,
            "attempts": 1,
        },
    ]
    for n in range(children):
        child = {"agent_id": f"root.{n}", "parent_id": "root", "depth": 1}
        raw.append({**common, "event": "agent_start", **child, **start})
    for n in range(children - 2):  # the last two are still working
        status = "failed" if n in failed else "done"
        error = {"error": {"type": "LLMQueryError", "message": "boom"}} if n in failed else {"result": n}
        raw.append(
            {
                **common,
                "event": "agent_end",
                "agent_id": f"root.{n}",
                "status": status,
                "llm_calls": 1,
                "duration_s": 0.1,
                **error,
            }
        )
    return [parse_event(event) for event in raw]


def test_a_large_tree_folds_finished_children_to_fit_the_terminal():
    run, now = replay(_fan_out_events(200, failed={7}))
    text = render(run, now, max_rows=12)
    lines = text.splitlines()

    assert len(lines) == 2 + 5  # header, column titles, then rows: root, the failed child, 2 working, fold
    assert "waiting on 2 children" in row(text, "root")
    assert "failed: LLMQueryError" in row(text, "root.7")
    assert "thinking" in row(text, "root.198") and "thinking" in row(text, "root.199")
    assert "✓ 197 done, not shown" in text

    text = render(run, now, max_rows=3)
    assert len(text.splitlines()) == 2 + 3 and "… 3 more rows, not shown" in text


def test_the_caps_in_force_show_under_the_totals():
    config = {"max_money_spent": 1.0, "max_prompt_tokens": 200_000, "max_completion_tokens": 50_000}
    run_start = {
        **{"v": 1, "ts": 100.0, "run_id": "r", "event": "run_start", "instruction": None, "workers": 1},
        **{"config": {**config, "max_llm_calls": None}, "query_type": "str", "query_chars": 1},
        "query_preview": "q",
    }
    run, now = replay([parse_event(run_start), *_fan_out_events(3, failed=set())])
    lines = render(run, now).splitlines()

    assert lines[0].startswith("fast-rlm running")
    assert lines[1].strip() == "caps: $1.00 · 200,000 prompt + 50,000 completion tokens"
    assert lines[2].split()[:2] == ["agent", "state"]
    run.apply(parse_event({**run_start, "config": {"max_llm_calls": 100}}))
    assert render(run, now).splitlines()[1].strip() == "caps: 100 LLM calls"


def test_without_a_terminal_progress_is_a_line_per_event(scripted_server, capsys):
    server = scripted_server(scenarios.fan_out(3))
    result = fast_rlm.run("squares", config=config_for(server), verbosity=2)

    stderr = capsys.readouterr().err
    assert "\x1b[" not in stderr  # no cursor movement, no colour: plain lines for CI logs and pipes
    notice, *lines = [line.rstrip() for line in stderr.splitlines()]
    # The default max_money_spent cannot price the scripted models: said once, before anything else.
    assert notice.startswith("fast-rlm: max_money_spent=1 cannot be enforced for z-ai/glm-5")
    assert lines[0].startswith("▶ root (")
    assert any(line.startswith("  ▶ root.0 (") for line in lines)
    assert "    [root.1 step 1] FINAL(context * context)" in lines
    assert "  ✓ root.2 -> 4" in lines and "✓ root -> [0, 1, 4]" in lines
    assert lines[-3].startswith("done: 4 agents, 4 LLM calls") and lines[-1] == f"log: {result['log_file']}"
    assert lines[-2].startswith("limits: 4 LLM requests (no cap) · ")
    assert lines[-2].endswith(" · n/a of $1.00")  # the scripted model reports no cost: never a made-up $0


TERMINAL_SCRIPT = """
import json, sys
import fast_rlm
ok_config, failing_config = json.loads(sys.argv[1]), json.loads(sys.argv[2])
result = fast_rlm.run("squares", config=ok_config, verbosity=1)
print(json.dumps(result["results"]), flush=True)
try:
    fast_rlm.run("q", config=failing_config, verbosity="summary")
except fast_rlm.errors.LLMAuthError:
    print("auth error raised", flush=True)
"""


def _terminal_environment() -> dict[str, str]:
    return {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "100", "LINES": "30"}


def test_on_a_terminal_the_live_tree_runs_and_gives_the_terminal_back(scripted_server, isolated_workdir):
    ok_server = scripted_server(scenarios.fan_out(3))
    failing_server = scripted_server(scenarios.unauthorized)
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            TERMINAL_SCRIPT,
            json.dumps(config_for(ok_server)),
            json.dumps(config_for(failing_server)),
        ],
        capture_output=True,
        text=True,
        cwd=isolated_workdir,
        env=_terminal_environment(),
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["[0, 1, 4]", "auth error raised"]
    stderr = completed.stderr
    assert "Traceback" not in stderr
    assert "▶ root.0 (" not in stderr  # the live tree, not the lines
    successful, failing = stderr.split("done: 4 agents")
    # Each run hid the cursor while drawing and showed it again before printing its outcome.
    for output in (successful, failing):
        assert output.count(HIDE_CURSOR) == 1
    assert successful.rindex(SHOW_CURSOR) > successful.rindex(HIDE_CURSOR)
    assert "fast-rlm done" in successful and "✓ root.2" in successful
    assert "\nlimits: 4 LLM requests (no cap) · " in failing  # the first run's caps, under its done line
    assert failing.rindex(SHOW_CURSOR) > failing.rindex(HIDE_CURSOR)
    assert "fast-rlm failed" in failing and "failed: LLMAuthError" in failing


CTRL_C_SCRIPT = """
import json, sys
import fast_rlm
try:
    fast_rlm.run("q", config=json.loads(sys.argv[1]), verbosity=1)
except fast_rlm.errors.CancelledError:
    print("cancelled", flush=True)
"""


def test_ctrl_c_tears_the_live_tree_down_cleanly(scripted_server, isolated_workdir):
    model = HangingChildren()
    server = scripted_server(model)
    runner = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, json.dumps(config_for(server))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=isolated_workdir,
        env=_terminal_environment(),
    )
    try:
        assert model.slow_requests_arrived.wait(timeout=60)
        os.kill(runner.pid, signal.SIGINT)
        stdout, stderr = runner.communicate(timeout=20)
    finally:
        runner.kill()

    assert stdout == "cancelled\n", stderr
    assert "Traceback" not in stderr
    assert stderr.count(HIDE_CURSOR) == 1 and stderr.rindex(SHOW_CURSOR) > stderr.rindex(HIDE_CURSOR)
    final_frame = stderr[stderr.rindex("fast-rlm ") :]
    assert final_frame.startswith("fast-rlm cancelled")
    assert "failed: CancelledError" in final_frame


@pytest.mark.parametrize("level", [SUMMARY, FULL])
def test_an_empty_run_renders(level):
    assert render(RunProgress(), 0.0, level).startswith("fast-rlm running 0.00 s · cost n/a · 0 tokens")
