"""`fast-rlm-log` on a file that is not a run's log: a one-line message and a non-zero exit, as for a
missing file; a damaged log is still read (tests/test_log_cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("notes.md", "# My notes\n\nNothing to see here.\n"),
        ("package.json", json.dumps({"name": "x", "version": "1.0.0"}, indent=2) + "\n"),
        ("other.jsonl", '{"level": "info", "msg": "started"}\n{"level": "info", "msg": "done"}\n'),
    ],
)
@pytest.mark.parametrize("mode", [[], ["--stats"], ["--render", "mermaid"]])
def test_a_file_that_is_not_a_log_exits_2_with_one_line(tmp_path, name, text, mode):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "fast_rlm.logs.cli", str(path), *mode],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert completed.stderr.startswith(f"fast-rlm-log: {str(path)!r} is not a fast-rlm log: none of its ")
    assert "Pass the .jsonl file a run wrote" in completed.stderr
