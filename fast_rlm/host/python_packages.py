"""The Python packages REPL code can import beyond Pyodide's standard library (requests, httpx, ...).

They are pure-Python wheels pinned by version and sha256 in engine/repl/python_packages.json.
The set-up (engine_setup.py: `fast-rlm setup` or the first run) fetches them once with pip, so
the user's index, proxy and certificate settings apply, checks every hash, and merges them into one
zip in the cache, named after the pin list. Every REPL process puts that zip on sys.path; later
runs fetch nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from fast_rlm.errors import EngineStartError
from fast_rlm.host.resources import cache_dir, engine_dir
from fast_rlm.host.setup_progress import online_once, setup_failure

# The wheels are for Pyodide's CPython, whatever this interpreter is: only pure-Python ones fit.
_PIP_TARGET = ["--platform", "any", "--python-version", "3.14", "--implementation", "py", "--abi", "none"]
_PIP_TIMEOUT_S = 600


def _pin_list() -> bytes:
    return (engine_dir() / "repl" / "python_packages.json").read_bytes()


def python_packages_file() -> Path:
    digest = hashlib.sha256(_pin_list()).hexdigest()[:16]
    return (cache_dir() / "python-packages").resolve() / f"packages-{digest}.zip"


def install_python_packages(force: bool = False) -> Path:
    """Fetch, check and merge the pinned wheels into the cache once. Returns the zip."""
    target = python_packages_file()
    if target.is_file() and not force:
        return target
    pins = json.loads(_pin_list())["packages"]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        wheels = Path(scratch) / "wheels"
        _download(pins, Path(scratch) / "requirements.txt", wheels)
        merged = Path(scratch) / "packages.zip"
        _merge(pins, wheels, merged)
        os.replace(merged, target)  # whole or absent: concurrent setups never see half a file
    return target


def _download(pins: list[dict[str, str]], requirements: Path, into: Path) -> None:
    requirements.write_text(
        "".join(f"{pin['name']}=={pin['version']} --hash=sha256:{pin['sha256']}\n" for pin in pins)
    )
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *_PIP_TARGET]
    command += ["--require-hashes", "--disable-pip-version-check", "-r", str(requirements), "-d", str(into)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineStartError(
            f"Cannot fetch the REPL's Python packages: running pip failed ({error}). Is pip installed in "
            "this environment (python -m pip --version)?"
        ) from None
    if completed.returncode != 0:
        raise setup_failure(
            "Cannot fetch the REPL's Python packages with pip",
            (completed.stderr or "") + (completed.stdout or ""),
            online_once("pip's index-url / PIP_INDEX_URL, proxy and certificate settings apply"),
        )


def _merge(pins: list[dict[str, str]], wheels: Path, merged: Path) -> None:
    with zipfile.ZipFile(merged, "w", zipfile.ZIP_DEFLATED) as output:
        for pin in pins:
            wheel = wheels / pin["file"]
            # pip checked the hashes already; a file it saved under another name is refused here.
            if not wheel.is_file() or hashlib.sha256(wheel.read_bytes()).hexdigest() != pin["sha256"]:
                raise EngineStartError(
                    f"pip did not deliver {pin['file']} with the pinned sha256; delete "
                    f"{merged.parent} and run `fast-rlm setup` again."
                )
            with zipfile.ZipFile(wheel) as source:
                for entry in source.infolist():
                    output.writestr(entry, source.read(entry))
