"""Each example runs as a user runs it, against its scripted model (--demo)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED_OUTPUT = {
    "structured_output.py": "Northwind Traders: 3 items, total 165.30",
    "tools.py": "{'great': 3, 'terrible': 3, 'battery': 2, 'screen': 2, 'camera': 2}",
    "host_function_sqlite.py": "{'top_customer': 'ada', 'spent': 162}",
    "env_variables.py": "{'region': 'eu-north', 'token_length': 17}",
    "planner.py": "store A: 120 -> 40 (-80); store B: 75 -> 90 (+15); store C: 10 -> 200 (+190)",
}


@pytest.mark.parametrize("example", sorted(EXPECTED_OUTPUT))
def test_example_runs_against_its_scripted_model(isolated_workdir, example):
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / example), "--demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=isolated_workdir,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == EXPECTED_OUTPUT[example]


def test_every_example_is_tested():
    scripts = {path.name for path in EXAMPLES.glob("*.py") if "__main__" in path.read_text()}
    untested = scripts - set(EXPECTED_OUTPUT) - {name for name in scripts if name.startswith("mcp")}
    assert not untested
    for name in scripts:
        assert ast.get_docstring(ast.parse((EXAMPLES / name).read_text())), f"{name} needs a docstring"
