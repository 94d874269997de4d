"""The README's screenshots of the viewer are what the script makes today: drawn from the normalised
log at a fixed size, with nothing in them that changes from run to run, they must hold the same text
at the same places. Colours are left out of the comparison: the syntax highlighting of code comes
from whichever Pygments version is installed (2.21 marks `print` as a builtin, 2.20 did not). After an
intended change of the viewer's look, remake them with `python -m tests.log_fixtures --screenshots-only`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import SCREENSHOTS_DIR, save_screenshots  # noqa: E402

_PLACED_TEXT = re.compile(r'<text [^>]*?x="([^"]+)" y="([^"]+)"[^>]*>([^<]*)</text>')


def placed_text(svg: Path) -> list[tuple[str, str, str]]:
    """Every piece of text in a screenshot with its position, in drawing order."""
    return _PLACED_TEXT.findall(svg.read_text(encoding="utf-8"))


def test_the_readme_screenshots_are_the_ones_the_script_makes(tmp_path):
    made = asyncio.run(save_screenshots(tmp_path))

    assert sorted(path.name for path in made) == sorted(path.name for path in SCREENSHOTS_DIR.glob("*.svg"))
    for path in made:
        committed = SCREENSHOTS_DIR / path.name
        assert len(placed_text(committed)) > 100  # the pattern still finds the text
        assert placed_text(path) == placed_text(committed), (
            f"{committed} is not what the viewer shows now: remake it (see this module's docstring)"
        )
        assert "scripted_run.jsonl" in path.read_text(encoding="utf-8").replace("&#160;", " ")
