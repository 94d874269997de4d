"""The README's screenshots of the viewer are what the script makes today, byte for byte: drawn from
the normalised log at a fixed size, with nothing in them that changes from run to run. After an
intended change of the viewer's look, remake them with `python -m tests.log_fixtures --screenshots-only`."""

from __future__ import annotations

import asyncio

import pytest

pytest.register_assert_rewrite("tests.log_fixtures")
from tests.log_fixtures import SCREENSHOTS_DIR, save_screenshots  # noqa: E402


def test_the_readme_screenshots_are_the_ones_the_script_makes(tmp_path):
    made = asyncio.run(save_screenshots(tmp_path))

    assert sorted(path.name for path in made) == sorted(path.name for path in SCREENSHOTS_DIR.glob("*.svg"))
    for path in made:
        committed = SCREENSHOTS_DIR / path.name
        assert path.read_bytes() == committed.read_bytes(), (
            f"{committed} is not what the viewer shows now: remake it (see this module's docstring)"
        )
        assert "scripted_run.jsonl" in path.read_text(encoding="utf-8").replace("&#160;", " ")
