"""Finding Deno and filling the engine's dependency cache.

Deno comes from the PyPI `deno` package. The first run (or `fast-rlm setup`) runs
`deno install --frozen` into the cache's DENO_DIR; every run after that is offline
(`--cached-only`). A marker named after the lock file's hash records a finished install.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

from fast_rlm.errors import EngineStartError
from fast_rlm.host.python_packages import install_python_packages
from fast_rlm.host.resources import cache_dir, deno_config_file, deno_lock_file, engine_dir, pyodide_version

ENGINE_ENTRYPOINTS = ("main.ts", "repl/supervisor.ts", "repl/worker.ts", "schema_validator_worker.ts")


def deno_binary() -> str:
    try:
        import deno
    except ImportError:
        raise EngineStartError(
            "The `deno` Python package is missing. Reinstall fast-rlm (pip install fast-rlm) to get it."
        ) from None
    binary = deno.find_deno_bin()
    if not binary or not Path(binary).is_file():
        raise EngineStartError(
            f"The deno binary was not found (looked for {binary!r}). Reinstall the `deno` package."
        )
    return str(binary)


# Resolved, links included: Deno grants a worker read access to the Pyodide files by their real
# path, which must lie inside what the engine itself was granted.
def deno_dir() -> Path:
    return (cache_dir() / "deno").resolve()


# The code that boots an interpreter and takes its snapshot: the snapshot holds what it did, so a
# change to it (a newer fast-rlm with the same Pyodide and Deno) must not reuse an older snapshot.
SNAPSHOT_MAKERS = ("repl/worker.ts", "repl/supervisor.ts", "repl/repl_messages.ts")


def snapshot_file() -> Path:
    deno_version = importlib.metadata.version("deno")
    makers = hashlib.sha256(b"".join((engine_dir() / name).read_bytes() for name in SNAPSHOT_MAKERS))
    name = f"pyodide-{pyodide_version()}-deno-{deno_version}-{makers.hexdigest()[:12]}.snap"
    return (cache_dir() / "snapshots").resolve() / name


# Network settings Deno needs to reach the npm registry and the model through a proxy or a private
# certificate authority. Nothing else of the user's environment is passed on.
_NETWORK_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
)


def deno_environment() -> dict[str, str]:
    """The whole environment of a Deno process: built from scratch, so no secret can leak in."""
    network = {name: os.environ[name] for name in _NETWORK_VARIABLES if name in os.environ}
    return {
        **network,
        "DENO_DIR": str(deno_dir()),
        "DENO_NO_UPDATE_CHECK": "1",
        "DENO_NO_PACKAGE_JSON": "1",
        "NO_COLOR": "1",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cache_dir()),
    }


def _install_marker() -> Path:
    digest = hashlib.sha256(deno_lock_file().read_bytes() + deno_config_file().read_bytes()).hexdigest()[:16]
    return deno_dir() / f"fast-rlm-installed-{digest}"


def is_installed() -> bool:
    return _install_marker().is_file()


def refuse_web_storage() -> None:
    """Deno keeps the Cache API's and localStorage's data under DENO_DIR/location_data and writes it
    with no permission check. No REPL process can reach those APIs (worker.ts removes them), but if
    one ever did, a regular file in that place makes every such write fail, so nothing a run stores
    there can outlive it."""
    location_data = deno_dir() / "location_data"
    if location_data.is_file():
        return
    if location_data.is_dir():
        shutil.rmtree(location_data)
    deno_dir().mkdir(parents=True, exist_ok=True)
    location_data.write_bytes(b"")


def install_engine_dependencies(force: bool = False) -> Path:
    """Fetch the engine's npm packages and the REPL's Python packages into the cache once. Returns the
    DENO_DIR."""
    refuse_web_storage()
    # The engine writes its snapshot there, also when the packages came from elsewhere (a Ray
    # worker unpacks them from the driver's cache).
    (cache_dir() / "snapshots").mkdir(parents=True, exist_ok=True)
    install_python_packages(force)
    if is_installed() and not force:
        return deno_dir()
    deno_dir().mkdir(parents=True, exist_ok=True)
    command = [
        deno_binary(),
        "install",
        "--frozen",
        "--config",
        str(deno_config_file()),
        "--lock",
        str(deno_lock_file()),
        "--entrypoint",
        *(str(engine_dir() / entry) for entry in ENGINE_ENTRYPOINTS),
    ]
    completed = subprocess.run(
        command, env=deno_environment(), cwd=engine_dir(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise EngineStartError(
            "Installing the engine's dependencies failed (deno install). The first run needs access to "
            f"the npm registry; after that fast-rlm works offline.\n{completed.stderr.strip()[-2000:]}"
        )
    _install_marker().touch()
    return deno_dir()
