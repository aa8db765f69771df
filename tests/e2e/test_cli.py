"""The command line (DESIGN.md section 7): help, version, exit codes, track/untrack, status."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import git_datavc
from tests.helpers import datavc, git, run

ATTRS = "filter=datavc diff=datavc merge=datavc -text"
# The commands of DESIGN.md section 7 implemented so far, user-facing ones first.
COMMANDS = ("install", "uninstall", "init", "track", "untrack", "add", "status", "checkout",
            "commit", "unprotect", "diff", "verify", "demo",
            "filter-process", "clean", "smudge", "hook", "merge-driver")


def attr_lines(repo: Path) -> list[str]:
    return (repo / ".gitattributes").read_text().splitlines()


def filter_attr(repo: Path, path: str) -> str:
    return git(repo, "check-attr", "filter", "--", path).stdout.rsplit(": ", 1)[1].strip()


def assert_one_error_line(stderr: str) -> None:
    """DESIGN.md: a one-line `error: ...` (optionally followed by a hint), no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), stderr
    assert all(line.startswith("hint: ") for line in lines[1:]), stderr


# --- help, version, usage ------------------------------------------------------------------

def test_version() -> None:
    result = run(["git", "datavc", "--version"], Path.cwd())
    assert result.stdout.strip() == f"git-datavc {git_datavc.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", git_datavc.__version__)


def test_top_level_help_lists_commands(tmp_path: Path) -> None:
    # `git datavc --help` is turned into `git help datavc` (a man page) by git itself,
    # as for every git command; the console script answers directly.
    result = run(["git-datavc", "--help"], tmp_path)
    for command in COMMANDS[:13]:
        assert command in result.stdout, command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(tmp_path: Path, command: str) -> None:
    result = run(["git", "datavc", command, "--help"], tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: git datavc"), result.stdout
    assert command in result.stdout.splitlines()[0]


@pytest.mark.parametrize("args", [("frobnicate",), (), ("status", "--no-such-flag"),
                                  ("untrack",), ("hook", "no-such-hook")])
def test_bad_usage_exits_2(repo: Path, args: tuple[str, ...]) -> None:
    result = datavc(repo, *args, check=False)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "error" in result.stderr


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("track",),
                                  ("track", "*.x"), ("untrack", "*.x"), ("verify",),
                                  ("init",), ("install", "--local"), ("hook", "pre-commit"),
                                  ("smudge", "f.bin")])
def test_outside_a_repository(tmp_path: Path, args: tuple[str, ...]) -> None:
    nowhere = tmp_path / "not-a-repo"
    nowhere.mkdir()
    result = datavc(nowhere, *args, check=False, input=b"",
                    env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.returncode == 1, result
    assert_one_error_line(result.stderr)
    assert list(nowhere.iterdir()) == [], "nothing is written outside a repository"


# --- track / untrack -----------------------------------------------------------------------

def test_track_without_arguments_lists_patterns(repo: Path) -> None:
    datavc(repo, "track", "models/*.pt")
    out = datavc(repo, "track").stdout
    assert "*.bin" in out and "models/*.pt" in out
    assert attr_lines(repo) == [f"*.bin {ATTRS}", f"models/*.pt {ATTRS}"]


def test_track_lists_nothing_in_a_fresh_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    datavc(tmp_path, "init")
    result = datavc(tmp_path, "track")
    assert "No filter-mode patterns" in result.stdout
    assert not (tmp_path / ".gitattributes").exists()


def test_track_pattern_with_space(repo: Path) -> None:
    datavc(repo, "track", "my data/*.csv")
    assert f"my[[:space:]]data/*.csv {ATTRS}" in attr_lines(repo)
    assert filter_attr(repo, "my data/x.csv") == "datavc"
    assert filter_attr(repo, "my/x.csv") == "unspecified"


def test_track_twice_writes_one_rule(repo: Path) -> None:
    result = datavc(repo, "track", "*.bin")
    assert "already tracked" in result.stdout
    assert attr_lines(repo) == [f"*.bin {ATTRS}"]


def test_track_in_a_subdirectory_is_relative_to_it(repo: Path) -> None:
    (repo / "sub").mkdir()
    datavc(repo / "sub", "track", "*.csv")
    assert f"sub/*.csv {ATTRS}" in attr_lines(repo)
    assert filter_attr(repo, "sub/a.csv") == "datavc"
    assert filter_attr(repo, "a.csv") == "unspecified"


def test_track_negative_pattern_is_bad_usage(repo: Path) -> None:
    before = attr_lines(repo)
    result = datavc(repo, "track", "!x", check=False)
    assert result.returncode == 2
    assert_one_error_line(result.stderr)
    assert attr_lines(repo) == before


def test_untrack(repo: Path) -> None:
    (repo / ".gitattributes").write_text(f"*.txt text\n*.bin {ATTRS}\n")
    result = datavc(repo, "untrack", "*.bin")
    assert "*.bin" in result.stdout
    assert attr_lines(repo) == ["*.txt text"], "other rules are kept"
    assert filter_attr(repo, "a.bin") == "unspecified"
    (repo / "a.bin").write_bytes(b"raw now\n")
    git(repo, "add", "a.bin")
    assert git(repo, "cat-file", "blob", ":a.bin").stdout == "raw now\n"


def test_untrack_unknown_pattern(repo: Path) -> None:
    result = datavc(repo, "untrack", "*.nothing")
    assert "No matching" in result.stdout
    assert attr_lines(repo) == [f"*.bin {ATTRS}"]


# --- status --------------------------------------------------------------------------------

def test_status_json_reports_staged_and_modified(repo: Path) -> None:
    (repo / "a.bin").write_bytes(b"a" * 1000)
    (repo / "b.bin").write_bytes(b"b" * 1000)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    assert "up to date" in datavc(repo, "status").stdout
    (repo / "a.bin").write_bytes(b"A" * 1000)
    git(repo, "add", "a.bin")
    (repo / "b.bin").write_bytes(b"B" * 1000)
    report = json.loads(datavc(repo, "status", "--json").stdout)
    assert report["staged"] == ["a.bin"]
    assert report["modified"] == ["b.bin"]
    assert report["not_in_cache"] == [] and report["not_checked_out"] == []
    (repo / "b.bin").unlink()
    assert json.loads(datavc(repo, "status", "--json").stdout)["deleted"] == ["b.bin"]
