"""Trial counts for the torture suite: a few per scenario by default (the whole folder in
a few minutes), >= 100 with `pytest --torture` or DATAVC_TORTURE=1 (then no time limit).
DATAVC_TORTURE_TRIALS=N sets the long run's count instead of 100 (for a slow scenario
run on its own); it has no effect without --torture."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import torture_enabled
from tests.helpers import datavc, git

LONG = 100
# read now: tests/conftest.py removes DATAVC_* variables from every test's environment
TRIALS = int(os.environ.get("DATAVC_TORTURE_TRIALS") or LONG)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith("tests/torture/"):
            item.add_marker(pytest.mark.torture)


@pytest.fixture
def count(request: pytest.FixtureRequest) -> Callable[[int], int]:
    """count(short): how many trials a scenario runs (`short` by default)."""
    long = torture_enabled(request.config)
    return lambda short: TRIALS if long else short


@pytest.fixture
def mrepo(tmp_path: Path) -> Path:
    """A repository with `git datavc init` (hooks installed) and one commit."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    datavc(path, "init")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "init")
    return path


def commit_all(repo: Path, message: str = "trial") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, "--allow-empty")
