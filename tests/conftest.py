"""Hermetic environment for every test: its own HOME and git identity, no system git
config, and the `git-datavc` of the interpreter running the tests first on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git

BIN_DIR = os.path.dirname(sys.executable)


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, **_env(home)}
    subprocess.run(["git-datavc", "install", "--global", "--no-hooks"], env=env, check=True,
                   capture_output=True)
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], env=env,
                   check=True)
    return home


def _env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "PATH": BIN_DIR + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_HOME": str(home / ".cache" / "pre-commit"),
    }


@pytest.fixture(autouse=True)
def hermetic_env(session_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("GIT_", "DATAVC_")):
            monkeypatch.delenv(key)
    for key, value in _env(session_home).items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh repository with `git datavc init` done and `*.bin` filter-tracked."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    git(path, "datavc", "init")
    git(path, "datavc", "track", "*.bin")
    return path
