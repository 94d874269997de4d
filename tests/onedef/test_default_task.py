"""The engine's default task text is written once (engine/prompts.ts DEFAULT_TASK): tests take it
from tests/scripted_server.py ROOT_TASK, which reads it there, and never spell it out themselves."""

from pathlib import Path

from tests.scripted_server import ROOT_TASK

TESTS = Path(__file__).parents[1]


def test_no_test_spells_out_the_default_task():
    assert ROOT_TASK.startswith("Answer the query")
    # Recorded logs hold what the engine sent; they are data, not a second definition.
    spelled = [
        path.relative_to(TESTS).as_posix()
        for path in TESTS.rglob("*")
        if path.suffix in (".py", ".ts") and ROOT_TASK in path.read_text()
    ]
    assert spelled == []
