"""Where the engine's files and the cache live.

A wheel carries the engine under fast_rlm/_bundled/; a source checkout has it at the repository
root (engine/, deno.json, deno.lock, rlm_config.yaml beside fast_rlm/).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # fast_rlm/


def project_files_dir() -> Path:
    bundled = _PACKAGE_DIR / "_bundled"
    return bundled if (bundled / "deno.json").is_file() else _PACKAGE_DIR.parent


def engine_dir() -> Path:
    return project_files_dir() / "engine"


def deno_config_file() -> Path:
    return project_files_dir() / "deno.json"


def deno_lock_file() -> Path:
    return project_files_dir() / "deno.lock"


def packaged_config_file() -> Path:
    return project_files_dir() / "rlm_config.yaml"


def cache_dir() -> Path:
    """FAST_RLM_CACHE_DIR, else $XDG_CACHE_HOME/fast-rlm, else ~/.cache/fast-rlm."""
    explicit = os.environ.get("FAST_RLM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base) / "fast-rlm").resolve()


def pyodide_version() -> str:
    imports = json.loads(deno_config_file().read_text())["imports"]
    return imports["pyodide"].rsplit("@", 1)[1]
