"""Finding Deno, and the engine's part of the cache: its npm packages and the interpreter snapshot.

Deno comes from the PyPI `deno` package. The set-up (engine_setup.py) runs `deno install --frozen`
into the cache's DENO_DIR once; every run after that is offline (`--cached-only`). A marker named
after the lock file's hash records a finished install.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

from fast_rlm.errors import EngineStartError
from fast_rlm.host.resources import cache_dir, deno_config_file, deno_lock_file, engine_dir, pyodide_version
from fast_rlm.host.setup_progress import online_once, setup_failure

ENGINE_ENTRYPOINTS = (
    "main.ts",
    "repl/supervisor.ts",
    "repl/worker.ts",
    "repl/make_snapshot.ts",
    "schema_validator_worker.ts",
)


def deno_binary() -> str:
    try:
        import deno
    except ImportError:
        raise EngineStartError(
            "The `deno` Python package is missing. Reinstall fast-rlm (pip install fast-rlm) to get it."
        ) from None
    try:
        return deno.find_deno_bin()
    except FileNotFoundError as error:
        # find_deno_bin looks in this environment's scripts folder only; in a venv made with
        # --system-site-packages the binary is in the scripts folder of the environment that
        # installed the package, which the package's own file list names.
        installed = _binary_the_deno_package_installed()
        if installed is None:
            raise EngineStartError(
                f"The deno binary was not found (looked for {error}). Reinstall the `deno` package "
                "(pip install --force-reinstall deno)."
            ) from None
        return str(installed)


def _binary_the_deno_package_installed() -> Path | None:
    distribution = importlib.metadata.distribution("deno")
    for file in distribution.files or []:
        if file.name in ("deno", "deno.exe") and file.parent.name in ("bin", "Scripts"):
            binary = Path(str(distribution.locate_file(file))).resolve()
            if binary.is_file():
                return binary
    return None


# Resolved, links included: Deno grants a worker read access to the Pyodide files by their real
# path, which must lie inside what the engine itself was granted.
def deno_dir() -> Path:
    return (cache_dir() / "deno").resolve()


# What goes into the interpreter snapshot: the code that boots the interpreter and takes it, and the
# runtime's Python modules, imported into it (engine/repl/pool.ts). A change to any of them (a newer
# fast-rlm with the same Pyodide and Deno) names a new snapshot instead of reusing an older one.
SNAPSHOT_MAKERS = ("repl/worker.ts", "repl/supervisor.ts", "repl/repl_messages.ts", "repl/pool.ts")


def _snapshot_makers_digest() -> str:
    makers = [engine_dir() / name for name in SNAPSHOT_MAKERS] + sorted((engine_dir() / "repl").glob("*.py"))
    return hashlib.sha256(b"".join(path.read_bytes() for path in makers)).hexdigest()[:12]


def snapshot_file() -> Path:
    deno_version = importlib.metadata.version("deno")
    name = f"pyodide-{pyodide_version()}-deno-{deno_version}-{_snapshot_makers_digest()}.snap"
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


def offline_deno_run() -> list[str]:
    """`deno run` with only the cached, locked packages of the engine's config: nothing is fetched,
    nothing prompts. Callers add their permissions and the script."""
    return [
        deno_binary(),
        "run",
        "--cached-only",
        "--frozen",
        "--no-remote",
        "--no-prompt",
        "--config",
        str(deno_config_file()),
        "--lock",
        str(deno_lock_file()),
    ]


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


def install_npm_packages() -> None:
    """Fetch the engine's npm packages into DENO_DIR (deno install --frozen) and mark them installed."""
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
    run_setup_step(
        command,
        "Cannot fetch the engine's packages from the npm registry",
        online_once("a proxy goes in HTTPS_PROXY, a private certificate authority in DENO_CERT"),
    )
    _install_marker().touch()


def run_setup_step(command: list[str], what_failed: str, fix: str, fetches: bool = True) -> None:
    """Runs a set-up command (deno) in the engine's directory with Deno's environment; a failure raises
    setup_failure with its output."""
    completed = subprocess.run(
        command, env=deno_environment(), cwd=engine_dir(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise setup_failure(what_failed, completed.stderr, fix, fetches=fetches)
