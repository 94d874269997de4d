"""Logs for the log reader, stats, renderers and viewer tests.

Real logs come from the real engine run against the scripted model server, once per test session.
Broken logs are cut from a real one (a truncated last line, a crash before run_end) or written by
hand (an unknown event type, an empty file).

`tests/fixtures/scripted_run.jsonl` is a real log with its times, ids and port normalised so the
viewer's snapshot tests are deterministic. Regenerate it, and the README's screenshots of the viewer
(docs/screenshots), with `python -m tests.log_fixtures`; the screenshots alone with
`python -m tests.log_fixtures --screenshots-only`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import fast_rlm
from fast_rlm.scripted.server import (
    ScriptedModelServer,
    ScriptedReply,
    call_number,
    first_user_message,
    repl,
)

FIXTURES_DIR = Path(__file__).parent / "fixtures"
NORMALISED_LOG = FIXTURES_DIR / "scripted_run.jsonl"
ROOT_TASK = "Answer the query held in `context`."
COST_PER_CALL = 0.00025

ROOT_FIRST_STEP = """
print("items:", context, "in", await unit_of("jobs"))
try:
    await unit_of("")
except HostFunctionError as error:
    print("no unit:", error)
answers = await batch_llm_query(
    llm_query("stressed", "reverse the word"),
    llm_query(2, "chain down"),
    llm_query("nothing", "dawdle forever"),
    llm_query([3, 4], "sum the numbers"),
    return_exceptions=True,
)
print(answers)
"""
ROOT_SECOND_STEP = """
FINAL({"reversed": answers[0], "chain": answers[1], "failed": type(answers[2]).__name__, "sum": answers[3]})
"""


def unit_of(word: str) -> str:
    """The unit a word is counted in (a host function: it runs in the test process)."""
    if not word:
        raise ValueError("an empty word has no unit")
    return word.upper()


class FanOutAndChain:
    """A root that calls a host function (once fine, once failing), then fans out to four
    children: one answers after a rate-limited first request, one
    chains down two more levels (its deepest answers once without code), one never calls FINAL and
    runs out of calls, one hits an exception and then recovers. Every reply reports `cost`, unless
    `report_cost` is False."""

    def __init__(self, report_cost: bool = True) -> None:
        self.report_cost = report_cost
        self._rate_limited_once = False
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str | ScriptedReply:
        first = first_user_message(request)
        call = call_number(request)
        if ROOT_TASK in first:
            return self._reply(repl(ROOT_FIRST_STEP if call == 1 else ROOT_SECOND_STEP))
        if "reverse the word" in first:
            with self._lock:
                rate_limit, self._rate_limited_once = not self._rate_limited_once, True
            if rate_limit:
                return ScriptedReply(
                    status=429, body='{"error": {"message": "slow down"}}', headers={"retry-after": "0"}
                )
            return self._reply("Reversing the word.\n" + repl("FINAL(context[::-1])"))
        if "chain down" in first:
            if "Preview: 0\n" in first:
                if call == 1:
                    return self._reply("I am at the bottom already; nothing to split.")
                return self._reply(repl("FINAL('bottom')"))
            return self._reply(repl("FINAL(await llm_query(context - 1, 'chain down'))"))
        if "dawdle forever" in first:
            return self._reply(repl(f"print('still thinking, round {call}')"))
        if "sum the numbers" in first:
            if call == 1:
                return self._reply(repl("total = sum(context) / 0"))
            return self._reply(repl("FINAL(sum(context))"))
        raise AssertionError(f"the scripted model has no answer for: {first[:200]}")

    def _reply(self, content: str) -> ScriptedReply:
        return ScriptedReply(content=content, cost=COST_PER_CALL if self.report_cost else None)


def fan_out_without_cost(request: dict[str, Any]) -> str:
    """The root doubles three numbers with three children; the provider reports no cost."""
    if ROOT_TASK in first_user_message(request):
        return repl("FINAL(await batch_llm_query(*[llm_query(n, 'double it') for n in range(3)]))")
    return repl("FINAL(context * 2)")


def run_scripted(
    responder: Any, query: Any, log_dir: Path, *, host_functions: list[Any] | None = None, **config: Any
) -> Path:
    """Runs the real engine against the scripted model; returns the log it wrote."""
    previous = Path.cwd()
    os.chdir(log_dir)  # no ./rlm_config.yaml of the developer's checkout is read
    try:
        with ScriptedModelServer(responder) as server:
            try:
                result = fast_rlm.run(
                    query,
                    # Children on a model of their own, so the views have two models to show.
                    config={
                        "base_url": server.base_url,
                        "api_key": "test-key-not-secret",
                        "sub_agent": "minimax/minimax-m2.5",
                        **config,
                    },
                    log_dir=log_dir,
                    verbosity=0,
                    host_functions=host_functions,
                )
                return Path(result["log_file"])
            except fast_rlm.errors.FastRLMError as error:
                if error.log_file is None:
                    raise
                return Path(error.log_file)
    finally:
        os.chdir(previous)


@dataclass(frozen=True)
class ScriptedLogs:
    fan_out_and_chain: Path  # every call reports cost
    no_cost: Path  # the provider reports no cost


@pytest.fixture(scope="session")
def scripted_logs(tmp_path_factory: pytest.TempPathFactory) -> ScriptedLogs:
    log_dir = tmp_path_factory.mktemp("real_logs")
    return ScriptedLogs(
        fan_out_and_chain=run_scripted(
            FanOutAndChain(), "four jobs", log_dir, host_functions=[unit_of], max_calls_per_subagent=3
        ),
        no_cost=run_scripted(fan_out_without_cost, "three numbers", log_dir),
    )


def write_lines(path: Path, lines: list[str], trailing_newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if trailing_newline and lines else ""), encoding="utf-8")
    return path


@dataclass(frozen=True)
class BrokenLogs:
    truncated_last_line: Path
    unknown_event: Path
    crashed: Path
    empty: Path
    garbage_line: Path


@pytest.fixture(scope="session")
def broken_logs(scripted_logs: ScriptedLogs, tmp_path_factory: pytest.TempPathFactory) -> BrokenLogs:
    directory = tmp_path_factory.mktemp("broken_logs")
    lines = scripted_logs.fan_out_and_chain.read_text(encoding="utf-8").splitlines()
    # The writer died in the middle of the run_end line.
    truncated = write_lines(
        directory / "truncated.jsonl", lines[:-1] + [lines[-1][:40]], trailing_newline=False
    )
    future_event = json.dumps(
        {
            "v": 1,
            "ts": json.loads(lines[3])["ts"],
            "run_id": "x",
            "event": "tool_call",
            "agent_id": "root",
            "tool": "grep",
        }
    )
    unknown = write_lines(directory / "unknown_event.jsonl", lines[:3] + [future_event] + lines[3:])
    # The engine was killed: no run_end, and the agents still working never wrote agent_end.
    crash_at = next(
        position for position, line in enumerate(lines) if json.loads(line)["event"] == "agent_end"
    )
    crashed = write_lines(directory / "crashed.jsonl", lines[: crash_at + 1])
    empty = write_lines(directory / "empty.jsonl", [])
    garbage = write_lines(directory / "garbage.jsonl", lines[:2] + ["this is not json {"] + lines[2:])
    return BrokenLogs(truncated, unknown, crashed, empty, garbage)


def with_host_calls(source: Path, target: Path, agent_id: str = "root.0") -> Path:
    """`source` with two host function calls made by `agent_id`'s first step (one ok, one failed),
    where the engine logs them: before the step's own line."""
    lines = source.read_text(encoding="utf-8").splitlines()
    step_at = next(
        position
        for position, line in enumerate(lines)
        if json.loads(line)["event"] == "code_step" and json.loads(line)["agent_id"] == agent_id
    )
    ts = json.loads(lines[step_at])["ts"]
    common = {
        "v": 1,
        "ts": ts,
        "run_id": "r",
        "event": "host_call",
        "agent_id": agent_id,
        "duration_s": 0.002,
    }
    calls = [
        json.dumps({**common, "name": "lookup", "ok": True}),
        json.dumps(
            {**common, "name": "grep", "ok": False, "error": {"type": "ToolError", "message": "boom"}}
        ),
    ]
    return write_lines(target, lines[:step_at] + calls + lines[step_at:])


def normalise_log(source: Path, target: Path) -> None:
    """Rewrites a real log so that it is the same on every machine: a fixed run id, port and start
    time, times rounded to the millisecond."""
    base_ts = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    events = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    first_ts = events[0]["ts"]
    normalised = []
    for event in events:
        event["run_id"] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        event["ts"] = round(base_ts + event["ts"] - first_ts, 3)
        if "duration_s" in event:
            event["duration_s"] = round(event["duration_s"], 3)
        if event["event"] == "run_start":
            event["config"]["base_url"] = "http://127.0.0.1:8000/v1"
            event["workers"] = 2
        normalised.append(json.dumps(event, ensure_ascii=False))
    write_lines(target, normalised)


def iter_events(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        yield json.loads(line)


BIG_LOG_BYTES = 100_000_000
BIG_STDOUT = "a line of output that the agent printed\n" * 500  # 20 KB per step


def write_big_log(path: Path, target_bytes: int = BIG_LOG_BYTES) -> int:
    """A log of `target_bytes` or a little more: a root fanning out to as many children as it
    takes, each printing 20 KB. Returns the number of children."""
    common = {"v": 1, "run_id": "big"}
    ts = 1_767_225_600.0
    children = 0
    with path.open("w", encoding="utf-8") as handle:

        def write(event: dict[str, Any]) -> None:
            handle.write(json.dumps({**common, "ts": ts, **event}) + "\n")

        agent = {"context_type": "str", "context_chars": 1, "context_preview": "x", "model": "scripted"}
        write(
            {
                "event": "run_start",
                "config": {},
                "query_type": "str",
                "query_chars": 1,
                "query_preview": "x",
                "instruction": None,
                "workers": 2,
            }
        )
        write(
            {
                "event": "agent_start",
                "agent_id": "root",
                "parent_id": None,
                "depth": 0,
                "instruction": None,
                **agent,
            }
        )
        while handle.tell() < target_bytes:
            agent_id = f"root.{children}"
            write(
                {
                    "event": "agent_start",
                    "agent_id": agent_id,
                    "parent_id": "root",
                    "depth": 1,
                    "instruction": "print",
                    **agent,
                }
            )
            write(
                {
                    "event": "llm_call",
                    "agent_id": agent_id,
                    "call": 1,
                    "model": "scripted",
                    "new_messages": [{"role": "user", "content": "print a lot"}],
                    "completion": repl("print(OUTPUT)\nFINAL(1)"),
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost": None},
                    "duration_s": 0.01,
                    "attempts": 1,
                }
            )
            write(
                {
                    "event": "code_step",
                    "agent_id": agent_id,
                    "step": 1,
                    "code": "print(OUTPUT)\nFINAL(1)\n",
                    "stdout": BIG_STDOUT,
                    "stderr": "",
                    "error": None,
                    "final": True,
                    "duration_s": 0.001,
                }
            )
            write(
                {
                    "event": "agent_end",
                    "agent_id": agent_id,
                    "status": "done",
                    "result": 1,
                    "llm_calls": 1,
                    "duration_s": 0.02,
                }
            )
            children += 1
            ts += 0.001
    return children


@pytest.fixture(scope="session")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big_log") / "big.jsonl"
    write_big_log(path)
    return path


SCREENSHOTS_DIR = Path(__file__).parent.parent / "docs" / "screenshots"


SCREENSHOT_SIZE = (130, 36)


async def save_screenshots(directory: Path = SCREENSHOTS_DIR) -> list[Path]:
    """The README's pictures of the viewer, from the normalised log at a fixed size: the same bytes on
    every run (tests/viewer/test_screenshots.py compares them with docs/screenshots)."""
    from tui import LogViewerApp

    directory.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, keys in (
        ("viewer.svg", ["down", "down", "space", "e"]),
        ("viewer_timeline.svg", ["t"]),
    ):
        app = LogViewerApp(NORMALISED_LOG)
        async with app.run_test(size=SCREENSHOT_SIZE) as pilot:
            await pilot.press(*keys)
            await pilot.pause()
            app.save_screenshot(name, path=str(directory))
        saved.append(directory / name)
    return saved


if __name__ == "__main__":
    import asyncio
    import sys
    import tempfile

    if "--screenshots-only" not in sys.argv:
        with tempfile.TemporaryDirectory() as scratch:
            real = run_scripted(
                FanOutAndChain(),
                "four jobs",
                Path(scratch),
                host_functions=[unit_of],
                max_calls_per_subagent=3,
            )
            FIXTURES_DIR.mkdir(exist_ok=True)
            normalise_log(real, NORMALISED_LOG)
        print(f"wrote {NORMALISED_LOG}")
    for path in asyncio.run(save_screenshots()):
        print(f"wrote {path}")
