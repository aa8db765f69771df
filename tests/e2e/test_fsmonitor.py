"""`core.fsmonitor = watchman`: a no-op status asks a real Watchman daemon what changed in
a directory out instead of walking it, and every kind of change is still reported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from git_datavc import changes, git as gitmod, treedigest
from git_datavc.workspace import Workspace
from tests.helpers import datavc, git
from tests.servers import WatchmanServer, watchman_daemon, watchman_server  # noqa: F401

FILES = 300


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data" / "sub").mkdir(parents=True)
    git(repo, "init", "-q")
    datavc(repo, "init")
    for i in range(FILES):
        (repo / "data" / ("sub" if i % 3 else "") / f"f{i}.txt").write_text(f"file {i}\n")
    datavc(repo, "add", "data")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    git(repo, "config", "-f", ".datavc/config.local", "core.fsmonitor", "watchman")
    return repo


def settle(repo: Path) -> None:
    """Age every file past the racy window, so that status keeps its digest."""
    old = 1_600_000_000
    for folder, _, names in os.walk(repo / "data"):
        for name in names:
            os.utime(os.path.join(folder, name), (old, old))


def status_text(repo: Path) -> str:
    done = datavc(repo, "status")
    return done.stdout + done.stderr


def in_process_status(repo: Path) -> changes.Changes:
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        ws = Workspace.open(gitmod.find_repo())
        try:
            found = changes.metafile_status(ws)
            ws.state.commit()
            return found
        finally:
            ws.close()
    finally:
        os.chdir(cwd)


def no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("status walked the tree")
    monkeypatch.setattr(treedigest, "Walk", refuse)


def test_no_op_status_asks_watchman_and_does_not_walk(
        tmp_path: Path, watchman_server: WatchmanServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path)
    settle(repo)
    assert "up to date" in status_text(repo)     # walks, keeps the digest and the clock
    with monkeypatch.context() as m:
        no_walk(m)
        assert in_process_status(repo) == changes.Changes()
        assert in_process_status(repo) == changes.Changes()
    (repo / "data" / "f0.txt").write_text("file X\n")          # same size, new bytes
    with monkeypatch.context() as m:
        no_walk(m)
        with pytest.raises(AssertionError, match="walked"):
            in_process_status(repo)
    assert "data/f0.txt" in status_text(repo)


@pytest.mark.parametrize("change", ["modify", "add", "delete", "rename", "cache object"])
def test_every_change_is_reported_with_watchman(
        tmp_path: Path, watchman_server: WatchmanServer, change: str) -> None:  # noqa: F811
    repo = make_repo(tmp_path)
    settle(repo)
    assert "up to date" in status_text(repo)
    assert "up to date" in status_text(repo)     # the Watchman answer
    sub = repo / "data" / "sub"
    if change == "modify":
        (sub / "f1.txt").write_text("file Y\n")
        want = "data/sub/f1.txt"
    elif change == "add":
        (sub / "new.txt").write_text("new\n")
        want = "data/sub/new.txt"
    elif change == "delete":
        (sub / "f2.txt").unlink()
        want = "data/sub/f2.txt"
    elif change == "rename":
        (sub / "f4.txt").rename(sub / "g4.txt")
        want = "data/sub/g4.txt"
    else:
        cache = repo / ".git" / "datavc" / "cache" / "files" / "blake3"
        victim = sorted(p for p in cache.rglob("*") if p.is_file() and
                        not p.name.endswith(".dir"))[0]
        victim.unlink()
        want = "missing from the cache"
    text = status_text(repo)
    assert want in text, text
    assert want in status_text(repo)             # and again: nothing wrong was kept


def test_without_watchman_status_walks_and_says_so(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path)
    settle(repo)
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("git", "git-datavc"):
        found = shutil.which(tool)
        assert found
        (bare / tool).symlink_to(found)
    monkeypatch.setenv("PATH", f"{bare}:/usr/bin/nonexistent")
    done = datavc(repo, "status")
    assert "watchman is not installed" in done.stderr
    assert "up to date" in done.stdout + done.stderr
    (repo / "data" / "f3.txt").write_text("file Z\n")
    assert "data/f3.txt" in status_text(repo)


def test_a_bad_fsmonitor_value_is_one_error_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    git(repo, "config", "-f", ".datavc/config.local", "core.fsmonitor", "inotify")
    done = datavc(repo, "status", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: core.fsmonitor must be watchman, true or false")
    assert "Traceback" not in done.stderr
