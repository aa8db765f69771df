"""The real DVC the corpus is compared against: `dvc==DVC_VERSION` from the package registry,
in its own venv under the checkout (git-ignored), made once and reused while the pin holds."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

DVC_VERSION = "3.67.1"
ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".dvc-parity" / "venv"
MARKER = VENV / "dvc-version"     # written last: a half-made venv is made again


def ensure_dvc() -> Path:
    """The `dvc` executable of the harness venv, installing it when missing or stale."""
    dvc = VENV / "bin" / "dvc"
    if dvc.exists() and MARKER.exists() and MARKER.read_text().strip() == DVC_VERSION:
        return dvc
    venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check", f"dvc=={DVC_VERSION}"]
    # The tests run with a throw-away HOME; pip's own cache there is fine.
    done = subprocess.run(pip, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PIP_NO_INPUT": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"installing dvc=={DVC_VERSION} failed:\n{done.stdout[-4000:]}")
    MARKER.write_text(DVC_VERSION + "\n")
    return dvc


if __name__ == "__main__":
    print(ensure_dvc(), file=sys.stdout)
