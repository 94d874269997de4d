"""Reading `input_file`: structured formats become Python values, anything else stays text.

The same extensions as the original fast-rlm: .json, .jsonl / .ndjson (a list, one value a line) and
.yaml / .yml are parsed here; .csv, .xml, .txt and the rest reach the agent as text to parse itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fast_rlm.errors import QueryError


def read_input_file(input_file: str | Path) -> Any:
    path = Path(input_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QueryError(
            f"Cannot read input_file {str(path)!r}: {error}. Pass a readable UTF-8 file."
        ) from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _parsed(path, "JSON", lambda: json.loads(text))
    if suffix in (".jsonl", ".ndjson"):
        return _parsed(
            path, "JSON Lines", lambda: [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    if suffix in (".yaml", ".yml"):
        return _parsed(path, "YAML", lambda: yaml.safe_load(text))
    return text


def _parsed(path: Path, format_name: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise QueryError(f"input_file {str(path)!r} is not valid {format_name}: {error}.") from None
