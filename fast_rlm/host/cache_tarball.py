"""The fetched part of the engine cache as one tarball, for a machine that lacks it.

What the set-up fetched (the engine's npm packages with their install marker, and the REPL's Python
packages) is packed on a machine that has it and unpacked into another's cache, which then needs no
network: a Ray worker gets the driver's this way (batch/ray_executor.py). The interpreter snapshot
is not in it: the set-up makes that offline wherever it is missing.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def pack_engine_cache(cache: Path) -> bytes:
    """The npm packages, their install marker (what a `--cached-only` engine reads) and the REPL's
    Python packages of the cache directory `cache`, as paths under it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        archive.add(cache / "deno" / "npm", arcname="deno/npm")
        for marker in (cache / "deno").glob("fast-rlm-installed-*"):
            archive.add(marker, arcname=f"deno/{marker.name}")
        archive.add(cache / "python-packages", arcname="python-packages")
    return buffer.getvalue()


def unpack_engine_cache(tarball: bytes, cache: Path) -> None:
    """Unpack what pack_engine_cache made into the cache directory `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+ and 3.11.4+
            archive.extractall(cache, filter="data")
        else:
            archive.extractall(cache)
