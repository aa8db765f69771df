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
# The long run of tests/torture and tests/fuzz: `pytest --torture`, or this variable set to 1.
TORTURE_ENV = "DATAVC_TORTURE"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--torture", action="store_true",
                     help="long torture and fuzz run: >= 100 kill trials per scenario, "
                          f">= 10,000 cases per parser (or set {TORTURE_ENV}=1)")


def torture_enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--torture")) or os.environ.get(TORTURE_ENV) == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long run of tests/torture and tests/fuzz has no per-test time limit."""
    if torture_enabled(config):
        for item in items:
            if item.nodeid.startswith(("tests/torture/", "tests/fuzz/")):
                item.add_marker(pytest.mark.timeout(0))


def pytest_configure(config: pytest.Config) -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:   # installed without the [dev] extras: tests/fuzz cannot run anyway
        return
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    settings.register_profile("datavc-short", max_examples=150, deadline=None,
                              suppress_health_check=quiet)
    settings.register_profile("datavc-torture", max_examples=10_000, deadline=None,
                              suppress_health_check=quiet)
    settings.load_profile("datavc-torture" if torture_enabled(config) else "datavc-short")


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
