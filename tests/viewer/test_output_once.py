"""What a run prints, said once: the demo's tree and log path, a cancelled run's error; the final
frame after Ctrl-C shows the agents that were still working as cancelled; counts agree in number
("1 call", "2 calls") in the live view, the progress lines, `fast-rlm-log` and the viewer.

Real processes: the `fast-rlm` command in a subprocess, at a terminal as far as rich can tell
(TTY_COMPATIBLE=1) or not."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys

import pytest
from rich.console import Console
from textual.widgets import Static

import fast_rlm
from fast_rlm.events import parse_event
from fast_rlm.logs.cli import main as log_main
from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.render import render
from fast_rlm.watch.live_progress import RunProgress, render_progress
from fast_rlm.watch.usage_text import format_done
from fast_rlm.watch.verbosity import SUMMARY
from tests import scripted_server as scenarios
from tests.conftest import config_for, read_log
from tests.test_cancellation import SLOW_CHILDREN, HangingChildren
from tests.test_tui import screen_text
from tui import LogViewerApp

TERMINAL = {"TTY_COMPATIBLE": "1", "COLUMNS": "100", "LINES": "30"}
NOT_A_TERMINAL = {"TTY_COMPATIBLE": "0"}
LOG_PATH = re.compile(r"\S*logs/\S+\.jsonl")
ANSI_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _environment(extra: dict[str, str]) -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if not name.startswith("RLM_MODEL_")}
    return {**kept, **extra}


def _fast_rlm(*args: str, cwd, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fast_rlm.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=_environment(env),
    )


def _final_frame(stderr: str) -> str:
    """The live view's last frame, from the last redraw of its header line to the end, as text."""
    return ANSI_CONTROL.sub("", stderr[stderr.rindex("fast-rlm ") :])


@pytest.mark.parametrize("terminal", [False, True], ids=["lines", "live"])
def test_the_demo_shows_its_tree_once_and_its_log_path_once(isolated_workdir, terminal):
    demo = _fast_rlm("demo", cwd=isolated_workdir, env=TERMINAL if terminal else NOT_A_TERMINAL)
    stdout, stderr = demo.communicate(timeout=180)
    assert demo.returncode == 0, stderr

    (log,) = (isolated_workdir / "logs").glob("demo_*.jsonl")
    assert set(LOG_PATH.findall(stdout + stderr)) == {str(log)}
    assert (stdout + stderr).count(str(log)) == 1
    assert stdout.rstrip().endswith(f"Inspect the run: fast-rlm-log {log} --tui")
    # The tree: in the progress on stderr, not again as a table on stdout.
    assert "root.4.0" not in stdout
    shown = _final_frame(stderr) if terminal else stderr
    assert shown.count("root.4.0") == (1 if terminal else 2)  # live: one row; lines: its start and end
    assert "done: 7 agents, 8 LLM calls" in stdout


@pytest.mark.parametrize("terminal", [False, True], ids=["lines", "live"])
def test_ctrl_c_says_cancelled_once_and_the_last_frame_shows_the_agents_cancelled(
    scripted_server, isolated_workdir, terminal
):
    model = HangingChildren()
    server = scripted_server(model)
    key = {"RLM_MODEL_API_KEY": "cli-key-0000", "RLM_MODEL_BASE_URL": server.base_url}
    runner = _fast_rlm("q", cwd=isolated_workdir, env={**key, **(TERMINAL if terminal else NOT_A_TERMINAL)})
    try:
        assert model.slow_requests_arrived.wait(timeout=60)
        os.kill(runner.pid, signal.SIGINT)
        stdout, stderr = runner.communicate(timeout=30)
    finally:
        runner.kill()

    assert runner.returncode == 1 and stdout == "", stderr
    assert "Traceback" not in stderr
    assert stderr.count("CancelledError") == 1, stderr
    (log,) = (isolated_workdir / "logs").glob("*.jsonl")
    assert stderr.count(str(log)) == 1
    assert read_log(log)[-1]["status"] == "cancelled"
    # The log reader (fast-rlm-log, the viewer) says the same of each agent as the live view.
    statuses = {agent_id: record.status for agent_id, record in LogIndex.open(log).agents.items()}
    assert statuses == {"root": "cancelled", "root.0": "done"} | {
        f"root.{number}": "cancelled" for number in range(1, SLOW_CHILDREN + 1)
    }
    if terminal:
        frame = _final_frame(stderr)
        assert frame.startswith("fast-rlm cancelled")
        cancelled_rows = [line for line in frame.splitlines() if re.search(r"⊘ root\S*\s+cancelled", line)]
        # The root and its slow children were still working; the quick child had finished.
        assert len(cancelled_rows) == 1 + SLOW_CHILDREN, frame
        assert re.search(r"✓ root\.0\s+done", frame)
        assert frame.splitlines()[0].endswith(
            f"{2 + SLOW_CHILDREN} agents (1 done, {1 + SLOW_CHILDREN} cancelled)"
        )


def test_a_run_of_one_agent_says_1_call_everywhere(scripted_server, isolated_workdir, capsys):
    server = scripted_server(scenarios.final_none)
    result = fast_rlm.run("q", config=config_for(server), verbosity=1)
    capsys.readouterr()  # the progress lines
    log = result["log_file"]

    # The live view, replaying the run's events.
    live = RunProgress()
    for line in read_log(log):
        live.apply(parse_event(line))
    console = Console(file=io.StringIO(), record=True, width=120, force_terminal=True)
    console.print(render_progress(live, SUMMARY, 0.0))
    header = console.export_text().splitlines()[0]
    assert "· 1 LLM call · 1 agent (1 done)" in header

    # The progress lines' closing line, fast-rlm-log's report and the graphs.
    assert format_done(result).startswith("done: 1 agent, 1 LLM call, ")
    assert log_main([log]) == 0
    report = capsys.readouterr().out
    assert ": 1 agent, 1 LLM call, 1 code step, " in report
    assert "tree: 1 root agent, max depth 0; " in report
    assert "1 call · 1 step · cost" in render(LogIndex.open(log), "mermaid")

    # The viewer: its totals and the agent's header.
    async def viewer_text() -> tuple[str, str]:
        app = LogViewerApp(log)
        async with app.run_test(size=(160, 34)) as pilot:
            await pilot.pause()
            return str(app.query_one("#totals", Static).render()), screen_text(app)

    totals, screen = asyncio.run(viewer_text())
    assert ": 1 agent, 1 LLM call, 1 code step, " in totals
    assert re.search(r"│ usage +1 call · 1 step · 0 retries · ", screen)  # the agent's header
