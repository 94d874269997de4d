"""fast-rlm in a venv made with --system-site-packages (how .ci/run tries the wheel, and how some users
reuse installed packages) finds the deno binary of the environment that installed the `deno` package."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import venv
from pathlib import Path

from fast_rlm.host.deno_setup import deno_binary

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The site-packages holding the `deno` package here. A venv made from inside another venv reuses the
# base interpreter's packages, not this venv's, so the new venv is pointed at them explicitly.
DENO_SITE_PACKAGES = Path(importlib.util.find_spec("deno").origin).parent.parent


def test_a_venv_reusing_the_installed_packages_finds_their_deno(tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=False)
    python = environment / "bin" / "python"
    assert not (environment / "bin" / "deno").exists()  # the deno package's own lookup finds nothing here

    completed = subprocess.run(
        [str(python), "-c", "from fast_rlm.host.deno_setup import deno_binary; print(deno_binary())"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(DENO_SITE_PACKAGES)])},
        cwd=tmp_path,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert Path(completed.stdout.strip()).resolve() == Path(deno_binary()).resolve()
