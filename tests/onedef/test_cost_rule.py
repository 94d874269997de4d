"""'Cost is null unless every call reported it' is decided in one function per language
(fast_rlm/watch/agent_tally.py cost_if_all_reported, engine/usage.ts costOfCalls), and every figure
follows it: the log reader's, the totals', the live view's and the session report's."""

import json
import re
from pathlib import Path

import fast_rlm
from fast_rlm.events import parse_event
from fast_rlm.host.resources import engine_dir
from fast_rlm.logs.reader import LogIndex
from fast_rlm.logs.session_report import format_session
from fast_rlm.logs.stats import run_totals
from fast_rlm.sessions.store import FORMAT, LEDGER_FILE, VERSION
from fast_rlm.watch.live_progress import RunProgress

# A line that decides a cost from the count of calls without one (not one that only counts them).
_COUNTER = r"\b(calls_without_cost|unpriced_calls|callsWithoutCost|unpriced)\b(?![^\n]*\+= 1)"
_DECISION = re.compile(rf"{_COUNTER}[^\n]*(>|==|\?| if | else )|\b(if|or|and)\b[^\n]*{_COUNTER}")
_THE_RULE = {"fast_rlm/watch/agent_tally.py", "engine/usage.ts"}


def test_only_the_two_cost_functions_decide_a_cost_from_unreported_calls():
    package = Path(fast_rlm.__file__).parent
    sources = [
        *package.rglob("*.py"),
        *(path for path in engine_dir().rglob("*.ts") if "node_modules" not in path.parts),
    ]
    deciding = set()
    for source in sources:
        where = source.relative_to(package.parent).as_posix()
        for line in source.read_text().splitlines():
            code = line.split("#")[0] if source.suffix == ".py" else line.split("//")[0]
            if _DECISION.search(code) and where not in _THE_RULE:
                deciding.add(f"{where}: {line.strip()}")
    assert deciding == set()


def _log_line(event: dict) -> dict:
    return {"v": 1, "ts": 1767225600.0, "run_id": "r", **event}


def _call(agent_id: str, call: int, cost: float | None) -> dict:
    usage = {"prompt_tokens": 10, "completion_tokens": 5, **({} if cost is None else {"cost": cost})}
    return _log_line(
        {
            "event": "llm_call",
            "agent_id": agent_id,
            "call": call,
            "model": "m",
            "new_messages": [],
            "completion": "",
            "usage": usage,
            "duration_s": 0.1,
            "attempts": 1,
        }
    )


def test_one_call_without_a_cost_makes_every_figure_of_it_unknown(tmp_path):
    start = _log_line(
        {
            "event": "agent_start",
            "agent_id": "root",
            "parent_id": None,
            "depth": 0,
            "model": "m",
            "instruction": None,
            "context_type": "str",
            "context_chars": 1,
            "context_preview": "q",
        }
    )
    events = [start, _call("root", 1, 0.5), _call("root", 2, None)]
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps(event) + "\n" for event in events))

    index = LogIndex(log)
    index.refresh()
    assert index.agents["root"].cost is None
    assert run_totals(index).cost is None
    live = RunProgress()
    for event in events:
        live.apply(parse_event(event))
    assert live.totals.cost is None and live.agents["root"].cost is None

    # With every call costed, each says the sum.
    log.write_text("".join(json.dumps(event) + "\n" for event in events[:2]))
    index = LogIndex(log)
    index.refresh()
    assert index.agents["root"].cost == 0.5 and run_totals(index).cost == 0.5


def test_a_sessions_total_cost_is_unknown_when_one_querys_is(tmp_path):
    queries = [
        {"query": "a", "status": "done", "final": 1, "usage": {"total_tokens": 10, "cost": 0.25}},
        {"query": "b", "status": "done", "final": 2, "usage": {"total_tokens": 20, "cost": None}},
    ]
    ledger = {"format": FORMAT, "version": VERSION, "queries": queries}
    (tmp_path / LEDGER_FILE).write_text(json.dumps(ledger))
    total = format_session(tmp_path).splitlines()[-1]
    assert total.startswith("Total: 30 tokens") and "$" not in total
