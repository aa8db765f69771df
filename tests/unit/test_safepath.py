"""Relative paths read from metafiles, manifests, locks must stay inside the repo (DESIGN §3)."""

from __future__ import annotations

import pytest

from git_datavc.errors import DatavcError, UnsafePath
from git_datavc.safepath import check_relpath


@pytest.mark.parametrize("path", [
    "a", "a/b.txt", "deep/er/still/file.bin", "données/ünïcode ✓.bin", "with space/x y",
    ".hidden", "a/.gitignore", "a/.gitattributes", ".github/x", "a/.git-x", "x.git",
    "a/...", "..a", "a..", "dir/ends.dir",
])
def test_accepts(path: str) -> None:
    assert check_relpath(path) == path


@pytest.mark.parametrize("path", [
    pytest.param("", id="empty"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("//server/share", id="double-slash"),
    pytest.param("..", id="dotdot"),
    pytest.param("../x", id="leading-dotdot"),
    pytest.param("a/../b", id="inner-dotdot"),
    pytest.param("a/..", id="trailing-dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("./a", id="leading-dot"),
    pytest.param("a/./b", id="inner-dot"),
    pytest.param("a//b", id="empty-component"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param(".git", id="git-dir"),
    pytest.param(".git/config", id="into-git"),
    pytest.param(".GIT/x", id="into-GIT"),
    pytest.param("a/.Git/hooks/pre-commit", id="nested-git"),
    pytest.param("a\0b", id="nul"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("..\\x", id="backslash-dotdot"),
    pytest.param("C:x", id="drive-relative"),
    pytest.param("c:/x", id="drive-absolute"),
])
def test_rejects(path: str) -> None:
    with pytest.raises(UnsafePath):
        check_relpath(path)


@pytest.mark.parametrize("value", [None, 1, b"a/b"])
def test_rejects_non_text(value: object) -> None:
    with pytest.raises(UnsafePath):
        check_relpath(value)  # type: ignore[arg-type]


def test_error_names_the_source() -> None:
    with pytest.raises(UnsafePath, match="data.datavc") as info:
        check_relpath("../x", "data.datavc")
    assert isinstance(info.value, DatavcError)
