"""The benchmark suites, their runner and the scripted policy, end to end on the real engine."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from benchmarks import run
from benchmarks.public_datasets import PUBLIC_SUITES, SAMPLES, public_tasks
from benchmarks.suites import SUITES, suite_tasks
from benchmarks.suites.scoring import f1, numeric_score, pairs_in

# Every question kind of every suite, at small sizes: (suite, sizes, tasks per size).
SMALL_SUITES = [("sniah", "8k", 3), ("oolong", "1k", 5), ("oolong-pairs", "8k", 2), ("codeqa", "8k", 3)]


def results_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_generators_are_seeded_and_their_gold_scores_one() -> None:
    for name, suite in SUITES.items():
        first, again = suite_tasks(name, ["8k"], 3), suite_tasks(name, ["8k"], 3)
        assert first == again
        assert len({task.context for task in first}) == 3
        assert len({task.kind for task in first}) > 1
        assert all(suite.score(task, task.gold) == 1.0 for task in first)
        assert all(suite.score(task, "no idea") < 1.0 for task in first)


def test_context_size_follows_the_requested_tokens() -> None:
    small, large = suite_tasks("oolong", ["8k", "128k"], 1)
    assert 30_000 < len(small.context) < 34_000
    assert 500_000 < len(large.context) < 530_000


def test_scorers_follow_the_paper() -> None:
    assert numeric_score(10, 10) == 1.0
    assert numeric_score("about 12 records", 10) == pytest.approx(0.75**2)
    assert numeric_score("none", 10) == 0.0
    assert pairs_in("(5, 3) and [7, 9]") == {(3, 5), (7, 9)}
    assert f1({(1, 2), (3, 4)}, {(1, 2), (5, 6)}) == pytest.approx(0.5)


@pytest.mark.parametrize(("suite", "size", "limit"), SMALL_SUITES)
def test_scripted_policy_solves_each_suite_through_the_engine(
    tmp_path: Path, suite: str, size: str, limit: int
):
    out = tmp_path / "out"
    argv = [
        "--suite",
        suite,
        "--sizes",
        size,
        "--limit",
        str(limit),
        "--model",
        "scripted",
        "--out",
        str(out),
    ]
    assert run.main([*argv, "--concurrency", "3"]) == 0
    rows = results_of(out)
    assert len(rows) == limit
    assert all(row["error"] is None and row["score"] == 1.0 for row in rows), rows
    # The root fanned out: its log holds child agents.
    log = [json.loads(line) for line in Path(rows[0]["log_file"]).read_text().splitlines()]
    assert sum(1 for event in log if event["event"] == "agent_start") >= 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["suite"] == suite and summary["tasks"] == limit and summary["accuracy"] == 1.0
    assert summary["cost"] > 0 and summary["tokens"] > 0 and summary["wall_s"] > 0
    # Running it again redoes nothing.
    logs_before = sorted((out / "logs").iterdir())
    assert run.main(argv) == 0
    assert len(results_of(out)) == limit
    assert sorted((out / "logs").iterdir()) == logs_before


def test_baseline_is_one_plain_call_that_loses_the_needle_beyond_its_window(tmp_path: Path) -> None:
    out = tmp_path / "baseline"
    argv = ["--suite", "sniah", "--sizes", "8k", "128k", "--limit", "3", "--model", "scripted", "--baseline"]
    assert run.main([*argv, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "baseline"
    assert summary["by_size"]["8k"]["accuracy"] == 1.0
    assert summary["by_size"]["128k"]["accuracy"] < 0.5
    assert all(row["log_file"] is None for row in results_of(out))


def test_cost_cap_stops_cleanly_and_a_rerun_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "capped"
    argv = ["--suite", "codeqa", "--sizes", "1k", "--limit", "2", "--model", "scripted", "--out", str(out)]
    # A scripted task costs about $0.002 (nominal): the cap lets one run start, not two.
    assert run.main([*argv, "--concurrency", "1", "--max-cost", "0.001"]) == run.EXIT_STOPPED
    assert "cost cap reached" in capsys.readouterr().err
    kept = results_of(out)
    assert len(kept) == 1
    assert json.loads((out / "summary.json").read_text())["stopped"].startswith("cost cap reached")
    assert run.main([*argv, "--max-cost", "1"]) == 0
    rows = results_of(out)
    assert len(rows) == 2 and rows[:1] == kept
    assert json.loads((out / "summary.json").read_text())["stopped"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--suite", "nosuch", "--model", "scripted"], "unknown suite 'nosuch'; choose from sniah"),
        (["--suite", "sniah", "--sizes", "9k", "--model", "scripted"], "unknown size '9k'; choose from 1k"),
    ],
)
def test_unknown_suite_or_size_is_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert run.main(argv) == run.EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("baseline", [False, True])
def test_unreachable_endpoint_stops_with_a_clear_message(
    tmp_path: Path, baseline: bool, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLM_MODEL_API_KEY", "test-key-not-secret")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["--suite", "sniah", "--sizes", "1k", "--limit", "2", "--model", "m", "--out", str(tmp_path / "o")]
    argv += ["--base-url", f"http://127.0.0.1:{port}/v1"] + (["--baseline"] if baseline else [])
    assert run.main(argv) == run.EXIT_STOPPED
    error = capsys.readouterr().err
    assert "endpoint unreachable" in error and f"127.0.0.1:{port}" in error and "--base-url" in error
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_missing_key_stops_before_any_task_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--suite", "sniah", "--sizes", "1k", "--limit", "2", "--model", "m", "--out", str(tmp_path / "o")]
    assert run.main(argv) == run.EXIT_BAD_INPUT
    assert "MissingAPIKeyError: No API key. Set the RLM_MODEL_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.jsonl").exists()


@pytest.mark.parametrize(
    ("suite", "sample", "right", "wrong"),
    [
        (
            "oolong-synth",
            "oolong_synth_sample.jsonl",
            ["Answer: 2", "same frequency as", "Answer: 1201"],
            "5",
        ),
        ("longbench-v2", "longbench_v2_sample.json", ["(B)", "A"], "C"),
    ],
)
def test_public_dataset_samples_load_and_score(suite: str, sample: str, right: list[str], wrong: str) -> None:
    public = PUBLIC_SUITES[suite]
    tasks = public_tasks(public, SAMPLES / sample, limit=10)
    assert len(tasks) == len(right)
    assert all(task.context and task.question for task in tasks)
    assert [public.score(task, answer) for task, answer in zip(tasks, right, strict=True)] == [1.0] * len(
        right
    )
    assert all(public.score(task, wrong) < 1.0 for task in tasks)


def test_public_suite_runs_from_a_file_as_a_baseline(tmp_path: Path) -> None:
    data = SAMPLES / "longbench_v2_sample.json"
    out = tmp_path / "lb"
    argv = [
        "--suite",
        "longbench-v2",
        "--data",
        str(data),
        "--model",
        "scripted",
        "--baseline",
        "--out",
        str(out),
    ]
    assert run.main(argv) == 0  # the scripted policy has no plan for these questions: it answers nothing
    # results.jsonl is appended as each task finishes, so its order is the order they finished in.
    rows = sorted(results_of(out), key=lambda row: row["id"])
    assert [row["id"] for row in rows] == ["longbench-v2-sample-001", "longbench-v2-sample-002"]
    assert [row["gold"] for row in rows] == ["B", "A"]


def test_a_data_file_that_is_not_the_dataset_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    assert (
        run.main(["--suite", "oolong-synth", "--data", str(bad), "--model", "scripted"]) == run.EXIT_BAD_INPUT
    )
    assert (
        "a oolong-synth record lacks id, context_window_text, answer, answer_type" in capsys.readouterr().err
    )
