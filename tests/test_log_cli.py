"""`fast-rlm-log FILE`: the stats report, the renderers and the errors, on real and broken logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fast_rlm.logs.cli import main
from fast_rlm.logs.reader import LogIndex

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import iter_events  # noqa: E402

pytest_plugins = ["tests.log_fixtures"]  # the session's real and broken logs


def report_rows(output: str) -> dict[str, list[str]]:
    """agent id -> the cells of its row in the report table."""
    rows = {}
    for line in output.splitlines():
        match = re.match(r"^[\s│├└─]*(root(?:\.\d+)*)\s{2,}(.*)$", line)
        if match:
            rows[match.group(1)] = re.split(r"\s{2,}", match.group(2).strip())
    return rows


def parent_child_pairs(log: Path) -> set[tuple[str, str]]:
    return {
        (event["parent_id"], event["agent_id"])
        for event in iter_events(log)
        if event["event"] == "agent_start" and event["parent_id"] is not None
    }


def test_the_report_shows_the_tree_with_per_agent_stats_and_totals(scripted_logs, capsys):
    log = scripted_logs.fan_out_and_chain
    events = list(iter_events(log))

    assert main([str(log)]) == 0
    output = capsys.readouterr().out

    rows = report_rows(output)
    starts = {event["agent_id"]: event for event in events if event["event"] == "agent_start"}
    assert set(rows) == set(starts)
    for agent_id, cells in rows.items():
        status, depth, model, calls, steps, errors, prompt, completion, cost, duration = cells
        agent_calls = [e for e in events if e["event"] == "llm_call" and e["agent_id"] == agent_id]
        assert int(depth) == starts[agent_id]["depth"] and model == starts[agent_id]["model"]
        assert int(calls) == len(agent_calls)
        assert int(prompt.replace(",", "")) == sum(call["usage"]["prompt_tokens"] for call in agent_calls)
        assert cost == f"${0.00025 * len(agent_calls):.6f}"
        assert duration.endswith(" s")
    # Children are drawn under their parents, depth first: the deepest agent three levels in.
    deepest = max(starts.values(), key=lambda event: event["depth"])["agent_id"]
    assert re.search(rf"^[│ ]  [│ ]  └─ {re.escape(deepest)}\s", output, re.MULTILINE)
    run_end = events[-1]
    assert (
        f"total: ok in {run_end['duration_s']:.2f} s: 7 agents, 12 LLM calls, 11 code steps, "
        f"{run_end['usage']['prompt_tokens']:,} prompt + {run_end['usage']['completion_tokens']:,} "
        "completion tokens, cost $0.003000"
    ) in output
    dawdler = next(event["agent_id"] for event in starts.values() if event["instruction"] == "dawdle forever")
    assert f"failed {dawdler}: BudgetExceededError: agent {dawdler} used all" in output


def test_cost_is_na_when_the_provider_did_not_report_it_never_zero(scripted_logs, capsys):
    assert main([str(scripted_logs.no_cost)]) == 0
    output = capsys.readouterr().out

    assert {cells[8] for cells in report_rows(output).values()} == {"n/a"}
    assert "cost n/a (not reported by the provider)" in output
    assert "$0.0" not in output


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("truncated_last_line", "the last line is incomplete"),
        ("unknown_event", "unknown event type 'tool_call'"),
        ("crashed", "no run_end: the run crashed or is still being written"),
        ("empty", "the log is empty"),
        ("garbage_line", "line 3: skipped: not valid JSON"),
    ],
)
def test_broken_logs_give_a_report_and_a_notice(broken_logs, capsys, name, expected):
    assert main([str(getattr(broken_logs, name))]) == 0
    captured = capsys.readouterr()

    assert expected in captured.out
    assert "notices:" in captured.out and "Traceback" not in captured.out + captured.err


def test_a_crashed_run_reports_totals_summed_from_its_agents(broken_logs, capsys):
    assert main([str(broken_logs.crashed)]) == 0  # what could be read is reported
    output = capsys.readouterr().out

    assert re.search(r"total: no run_end in \d+\.\d\d s so far: \d+ agents", output)
    assert "running" in report_rows(output)["root"][0]


def test_a_missing_file_exits_2_with_a_message_and_no_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "fast_rlm.logs.cli", str(tmp_path / "missing.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 2
    assert completed.stderr.startswith("fast-rlm-log: No log file at")
    assert "Traceback" not in completed.stderr and completed.stdout == ""


def test_a_directory_or_bad_options_exit_2(tmp_path, capsys, scripted_logs):
    assert main([str(tmp_path)]) == 2
    assert "is a directory, not a log file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main([str(scripted_logs.no_cost), "-o", str(tmp_path / "x")])
    assert exited.value.code == 2
    assert "-o/--output needs --render" in capsys.readouterr().err
    assert main([str(scripted_logs.no_cost), "--render", "dot", "-o", str(tmp_path / "no" / "dir.dot")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_mermaid_has_one_node_per_agent_and_one_edge_per_child(scripted_logs, tmp_path):
    log = scripted_logs.fan_out_and_chain
    out = tmp_path / "graph.mmd"

    assert main([str(log), "--render", "mermaid", "-o", str(out)]) == 0

    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "flowchart TD"
    labels = dict(re.findall(r'^    (a\d+)\["(root[\d.]*)<br/>', "\n".join(lines), re.MULTILINE))
    edges = {
        (labels[parent], labels[child])
        for parent, child in re.findall(r"^    (a\d+) --> (a\d+)$", "\n".join(lines), re.MULTILINE)
    }
    assert sorted(labels.values()) == sorted(LogIndex.open(log).agents)
    assert edges == parent_child_pairs(log)
    failed = re.search(r"^    class ([\w,]+) failed$", "\n".join(lines), re.MULTILINE).group(1).split(",")
    assert [labels[node] for node in failed] == [
        event["agent_id"] for event in iter_events(log) if event.get("status") == "failed"
    ]
    assert all('"' not in line.split('["', 1)[1][:-2] for line in lines if '["' in line)


def test_dot_is_a_digraph_of_the_agents(scripted_logs, capsys):
    log = scripted_logs.fan_out_and_chain

    assert main([str(log), "--render", "dot"]) == 0
    dot = capsys.readouterr().out

    assert dot.startswith("digraph run {") and dot.rstrip().endswith("}")
    nodes = set(re.findall(r'^    "([\w.]+)" \[label="', dot, re.MULTILINE))
    edges = set(re.findall(r'^    "([\w.]+)" -> "([\w.]+)";$', dot, re.MULTILINE))
    assert nodes == set(LogIndex.open(log).agents)
    assert edges == parent_child_pairs(log)
    assert dot.count("{") == dot.count("}")


class GanttParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def test_the_gantt_html_is_self_contained_with_a_row_per_agent(scripted_logs, tmp_path):
    log = scripted_logs.fan_out_and_chain
    out = tmp_path / "timeline.html"
    events = list(iter_events(log))

    assert main([str(log), "--render", "gantt-html", "-o", str(out)]) == 0

    page = out.read_text(encoding="utf-8")
    parser = GanttParser()
    parser.feed(page)
    tags = parser.tags
    rows = [attrs for tag, attrs in tags if tag == "g" and attrs.get("class") == "agent"]
    statuses = {event["agent_id"]: event["status"] for event in events if event["event"] == "agent_end"}
    assert {row["data-agent"]: row["data-status"] for row in rows} == statuses
    rects = [attrs["class"] for tag, attrs in tags if tag == "rect"]
    assert rects.count("llm") == sum(1 for event in events if event["event"] == "llm_call")
    assert rects.count("code") == sum(1 for event in events if event["event"] == "code_step")
    # Nothing to fetch: no scripts, stylesheets, images or URLs other than the SVG namespace.
    assert not [tag for tag, _ in tags if tag in ("script", "link", "img", "iframe")]
    assert not [attrs for _, attrs in tags if "src" in attrs or "href" in attrs]
    assert set(re.findall(r"https?://[^\s\"')]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "cost $0.003000" in page


def test_render_of_an_empty_log_is_still_valid(broken_logs, capsys):
    assert main([str(broken_logs.empty), "--render", "mermaid"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("flowchart TD")
    assert "the log is empty" in captured.err
    assert main([str(broken_logs.empty), "--render", "gantt-html"]) == 0
    assert "<svg" in capsys.readouterr().out


def test_a_log_without_its_run_start_still_reports_its_agents(tmp_path, capsys, scripted_logs):
    """A log whose head was lost still reports its agents."""
    lines = scripted_logs.no_cost.read_text(encoding="utf-8").splitlines()
    headless = tmp_path / "headless.jsonl"
    headless.write_text("\n".join(line for line in lines if json.loads(line)["event"] != "run_start") + "\n")

    assert main([str(headless)]) == 0
    output = capsys.readouterr().out
    assert "no run_start: the beginning of the log is missing" in output
    assert set(report_rows(output)) == {"root", "root.0", "root.1", "root.2"}


def test_graph_labels_escape_quotes_and_markup(scripted_logs, tmp_path, capsys):
    odd_model = 'vendor/"quoted" #1 <b>model</b>'
    odd = tmp_path / "odd.jsonl"
    odd.write_text(
        scripted_logs.no_cost.read_text(encoding="utf-8").replace(
            "minimax/minimax-m2.5", odd_model.replace('"', '\\"')
        ),
        encoding="utf-8",
    )
    assert LogIndex.open(odd).agents["root.0"].model == odd_model

    assert main([str(odd), "--render", "mermaid"]) == 0
    mermaid = capsys.readouterr().out
    labels = re.findall(r'^    a\d+\["(.*)"\]$', mermaid, re.MULTILINE)
    assert len(labels) == 4
    assert all('"' not in label and "<b>" not in label for label in labels)
    assert "vendor/#quot;quoted#quot; #35;1 #lt;b#gt;model#lt;/b#gt;" in mermaid

    assert main([str(odd), "--render", "dot"]) == 0
    dot = capsys.readouterr().out
    assert 'vendor/\\"quoted\\" #1 <b>model</b>' in dot
    assert len(re.findall(r'^    "root[\d.]*" \[label="(?:[^"\\]|\\.)*", color=', dot, re.MULTILINE)) == 4

    assert main([str(odd), "--render", "gantt-html"]) == 0
    assert "<b>" not in capsys.readouterr().out
