"""Registration helpers: .gitattributes pattern escaping and the hook shims."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from git_datavc import install
from git_datavc.errors import UsageError

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("pattern, line", [
    ("*.bin", "*.bin"),
    ("data/**", "data/**"),
    ("my file.bin", "my[[:space:]]file.bin"),
    ("a\tb", "a[[:space:]]b"),
    ("a  b", "a[[:space:]][[:space:]]b"),
    ("#notes.bin", "\\#notes.bin"),
    ("# x", "\\#[[:space:]]x"),
    ("a#b", "a#b"),
])
def test_escape_pattern(pattern: str, line: str) -> None:
    assert install.escape_pattern(pattern) == line


@pytest.mark.parametrize("pattern", ["!x", "!*.bin", "a\nb", "a\rb", "a\0b", ""])
def test_escape_pattern_rejects(pattern: str) -> None:
    with pytest.raises(UsageError):
        install.escape_pattern(pattern)


def test_escaped_pattern_is_one_field() -> None:
    assert len(install.escape_pattern("a b\tc d").split()) == 1


@pytest.mark.parametrize("path, pattern", [
    ("data.bin", "/data.bin"),
    ("dir/a b.bin", "/dir/a[[:space:]]b.bin"),
    ("x*y?.bin", "/x\\*y\\?.bin"),
    ("[ab].bin", "/\\[ab\\].bin"),
    ("#x", "/#x"),
    ("!x", "/!x"),
])
def test_path_pattern(path: str, pattern: str) -> None:
    assert install.path_pattern(path) == pattern


def test_path_pattern_matches_only_that_path(tmp_path: Path) -> None:
    """Ask real git which paths the written pattern matches."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    odd = "odd [1] *?.bin"
    (tmp_path / ".gitattributes").write_text(f"{install.path_pattern(odd)} {install.ATTRS}\n")
    paths = [odd, "odd 1 x.bin", "sub/" + odd, "odd [1] ab.bin"]
    out = subprocess.run(["git", "check-attr", "-z", "filter", "--", *paths], cwd=tmp_path,
                         check=True, capture_output=True).stdout.decode().split("\0")
    values = {out[i]: out[i + 2] for i in range(0, len(out) - 2, 3)}
    assert values == {odd: "datavc", "odd 1 x.bin": "unspecified",
                      "sub/" + odd: "unspecified", "odd [1] ab.bin": "unspecified"}


@pytest.mark.parametrize("name", install.HOOKS)
def test_hook_script(name: str) -> None:
    script = install.hook_script(name)
    assert script.startswith("#!/bin/sh\n")
    assert install.MARKER in script
    assert f'git-datavc hook {name} "$@"' in script
    assert script.endswith("\n")
    subprocess.run(["sh", "-n", "-c", script], check=True)  # valid shell


def test_hooks_cover_the_design() -> None:
    assert set(install.HOOKS) == {"pre-commit", "post-checkout", "post-merge",
                                  "post-rewrite", "pre-push"}


@pytest.mark.parametrize("name", install.HOOKS)
def test_project_hooks_folder_matches_hook_script(name: str) -> None:
    path = PROJECT / "hooks" / name
    assert path.read_text() == install.hook_script(name)
    assert path.stat().st_mode & 0o111
