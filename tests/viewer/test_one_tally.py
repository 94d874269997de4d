"""One tally of an agent's events (fast_rlm/watch/agent_tally.py) serves the live view and the log reader,
and the live view's modules do not import each other."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
from pathlib import Path

from fast_rlm.events import parse_event
from fast_rlm.logs.reader import AgentRecord, LogIndex
from fast_rlm.logs.stats import run_totals
from fast_rlm.watch.agent_tally import AgentTally
from fast_rlm.watch.live_progress import AgentProgress, RunProgress

pytest_plugins = ["tests.log_fixtures"]  # the session's real logs

RECORDED_RUN = Path(__file__).parent.parent / "fixtures" / "scripted_run.jsonl"
TALLY_FIELDS = [field.name for field in dataclasses.fields(AgentTally)]


def tally_of(agent: AgentTally) -> dict[str, object]:
    return {name: getattr(agent, name) for name in TALLY_FIELDS} | {
        "cost": agent.cost,
        "tokens": agent.tokens,
    }


def test_the_live_view_and_the_log_reader_count_each_agent_alike(scripted_logs):
    for log in (RECORDED_RUN, scripted_logs.fan_out_and_chain, scripted_logs.no_cost):
        live = RunProgress()
        for line in log.read_text(encoding="utf-8").splitlines():
            live.apply(parse_event(json.loads(line)))
        index = LogIndex.open(log)

        assert issubclass(AgentProgress, AgentTally) and issubclass(AgentRecord, AgentTally)
        assert set(live.agents) == set(index.agents)
        for agent_id, record in index.agents.items():
            assert tally_of(live.agents[agent_id]) == tally_of(record), agent_id
        # The header's totals are the same tally over every agent's events, and agree with the log's.
        totals = run_totals(index)
        assert (live.totals.llm_calls, live.totals.code_steps) == (totals.llm_calls, totals.code_steps)
        assert live.totals.cost == totals.cost or abs(live.totals.cost - totals.cost) < 1e-12


def imported_modules(module_name: str) -> set[str]:
    """The fast_rlm modules `module_name` imports, at its top or inside functions."""
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("fast_rlm")}


def test_progress_and_live_progress_do_not_import_each_other():
    progress, live = "fast_rlm.watch.progress", "fast_rlm.watch.live_progress"
    assert progress not in imported_modules(live)
    # The terminal's view is chosen by progress, which loads it: one way only.
    assert live in imported_modules(progress)
