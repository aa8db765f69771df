"""The git hooks `git datavc init`/`install` put in place (DESIGN.md section 8): pre-commit
auto-tracking, chaining of hooks that were there before, install/uninstall."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import blake3
import pytest

from tests.helpers import cache_object, datavc, git

HOOKS = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
MARKER = "# git-datavc hook"
PROJECT_HOOKS = Path(__file__).resolve().parents[2] / "hooks"
POINTER_RE = re.compile(rb"version: datavc/1\nblake3: ([0-9a-f]{64})\nsize: (0|[1-9][0-9]*)\n")
BIG = 4096  # above the 1k threshold the tests set


# --- helpers -------------------------------------------------------------------------

def data_of(seed: str, size: int = BIG) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=size)


def write(repo: Path, path: str, data: bytes) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def blob(repo: Path, rev_path: str) -> bytes:
    return subprocess.run(["git", "cat-file", "blob", rev_path], cwd=repo, check=True,
                          capture_output=True).stdout


def head(repo: Path) -> str | None:
    out = git(repo, "rev-parse", "-q", "--verify", "HEAD", check=False)
    return out.stdout.strip() or None


def set_config(repo: Path, key: str, value: str) -> None:
    """A shared setting in the committed `.datavc/config`."""
    git(repo, "config", "-f", ".datavc/config", key, value)


def commit_setup(repo: Path) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "setup")
    return head(repo)  # type: ignore[return-value]


def filter_attr(repo: Path, path: str) -> str:
    out = git(repo, "check-attr", "filter", "--", path).stdout
    return out.rsplit(": ", 1)[1].strip()


def hooks_of(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def user_hook(path: Path, body: str) -> str:
    """Write an executable user hook; returns its text."""
    text = f"#!/bin/sh\n{body}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return text


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """A repository without datavc set up (the global drivers are there, no hooks)."""
    path = tmp_path / "plain"
    path.mkdir()
    git(path, "init", "-q")
    return path


@pytest.fixture
def small_threshold(repo: Path) -> Path:
    """`repo` with core.threshold = 1k, its setup committed."""
    set_config(repo, "core.threshold", "1k")
    commit_setup(repo)
    return repo


# --- pre-commit: auto-track --------------------------------------------------------------

@pytest.mark.parametrize("path", ["big.dat", "sub dir/big [1].dat", "données é.dat"])
def test_autotrack_on_restages_big_file_as_pointer(small_threshold: Path, path: str) -> None:
    repo = small_threshold
    data = data_of(path)
    write(repo, path, data)
    write(repo, "small.dat", b"x" * 100)
    git(repo, "add", "--", path, "small.dat")
    result = git(repo, "commit", "-q", "-m", "big")

    stored = blob(repo, f"HEAD:{path}")
    match = POINTER_RE.fullmatch(stored)
    assert match, f"not a pointer: {stored[:100]!r}"
    oid = match.group(1).decode()
    assert oid == blake3.blake3(data).hexdigest() and int(match.group(2)) == len(data)
    assert cache_object(repo, oid).read_bytes() == data
    assert (repo / path).read_bytes() == data, "the workspace keeps the bytes"
    assert path in result.stderr, "the hook says what it did"

    assert blob(repo, "HEAD:small.dat") == b"x" * 100, "files under the threshold stay in git"
    committed_attrs = blob(repo, "HEAD:.gitattributes").decode()
    assert committed_attrs == (repo / ".gitattributes").read_text()
    assert filter_attr(repo, path) == "datavc"
    for neighbour in ("small.dat", "other.dat", f"{path}2", f"x/{path}"):
        assert filter_attr(repo, neighbour) == "unspecified", neighbour
    assert git(repo, "status", "--porcelain").stdout == ""


def test_autotrack_with_commit_all(small_threshold: Path) -> None:
    """`git commit -a` commits from the locked real index: the commit gets the pointer
    and git's index agrees with it afterwards."""
    repo = small_threshold
    write(repo, "big.dat", b"raw")
    git(repo, "add", "big.dat")
    git(repo, "commit", "-q", "-m", "small at first")
    write(repo, "big.dat", data_of("big"))
    git(repo, "commit", "-q", "-a", "-m", "big")
    assert POINTER_RE.fullmatch(blob(repo, "HEAD:big.dat"))
    assert filter_attr(repo, "big.dat") == "datavc"
    assert blob(repo, "HEAD:.gitattributes").decode() == (repo / ".gitattributes").read_text()
    assert git(repo, "status", "--porcelain").stdout == "", "index and HEAD agree"


def test_autotrack_stops_a_commit_of_paths(small_threshold: Path) -> None:
    """`git commit PATHS` commits a temporary index: re-staging into it would leave the
    real index holding the raw file, so the hook stops and says what to do instead."""
    repo = small_threshold
    write(repo, "big.dat", b"raw")
    git(repo, "add", "big.dat")
    git(repo, "commit", "-q", "-m", "small at first")
    before = head(repo)
    write(repo, "big.dat", data_of("big"))
    result = git(repo, "commit", "-q", "-m", "big", "--", "big.dat", check=False)
    assert result.returncode != 0
    assert "git add -- big.dat" in result.stderr and "Traceback" not in result.stderr
    assert head(repo) == before, "nothing committed"
    git(repo, "add", "--", "big.dat")
    git(repo, "commit", "-q", "-m", "big")
    assert POINTER_RE.fullmatch(blob(repo, "HEAD:big.dat"))
    assert git(repo, "status", "--porcelain").stdout == ""


def test_autotrack_refuse_stops_the_commit(small_threshold: Path) -> None:
    repo = small_threshold
    before = head(repo)
    attrs = (repo / ".gitattributes").read_text()
    write(repo, "big.dat", data_of("big"))
    git(repo, "add", "big.dat")
    result = git(repo, "commit", "-m", "big", check=False,
                 env={"DATAVC_CORE_AUTOTRACK": "refuse"})
    assert result.returncode != 0
    assert "big.dat" in result.stderr
    assert "git datavc track" in result.stderr, "says how to track it"
    assert "Traceback" not in result.stderr
    assert head(repo) == before, "nothing committed"
    assert (repo / ".gitattributes").read_text() == attrs
    assert blob(repo, ":big.dat") == data_of("big"), "the index is left as the user staged it"


def test_autotrack_off_commits_the_raw_blob(small_threshold: Path) -> None:
    repo = small_threshold
    set_config(repo, "core.autotrack", "off")
    attrs = (repo / ".gitattributes").read_text()
    write(repo, "big.dat", data_of("big"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "big")
    assert blob(repo, "HEAD:big.dat") == data_of("big")
    assert (repo / ".gitattributes").read_text() == attrs
    assert filter_attr(repo, "big.dat") == "unspecified"


def test_threshold_from_environment(repo: Path) -> None:
    commit_setup(repo)
    write(repo, "big.dat", data_of("big"))
    git(repo, "add", "big.dat")
    git(repo, "commit", "-q", "-m", "big", env={"DATAVC_CORE_THRESHOLD": "1k"})
    assert POINTER_RE.fullmatch(blob(repo, "HEAD:big.dat"))


def test_default_threshold_leaves_small_untracked_files_alone(repo: Path) -> None:
    commit_setup(repo)
    write(repo, "medium.dat", data_of("medium", 64 << 10))
    git(repo, "add", "medium.dat")
    git(repo, "commit", "-q", "-m", "medium")
    assert blob(repo, "HEAD:medium.dat") == data_of("medium", 64 << 10)


def test_file_staged_before_its_rule_is_restaged(repo: Path) -> None:
    commit_setup(repo)
    data = data_of("late", 1000)
    write(repo, "late.dat", data)
    git(repo, "add", "late.dat")           # raw: no rule covers *.dat yet
    assert blob(repo, ":late.dat") == data
    datavc(repo, "track", "*.dat")
    git(repo, "add", ".gitattributes")     # late.dat is not added again
    git(repo, "commit", "-q", "-m", "late")
    stored = blob(repo, "HEAD:late.dat")
    match = POINTER_RE.fullmatch(stored)
    assert match, f"not a pointer: {stored[:100]!r}"
    assert cache_object(repo, match.group(1).decode()).read_bytes() == data


# --- chaining --------------------------------------------------------------------------

def test_chained_pre_commit_runs_first(plain: Path) -> None:
    text = user_hook(hooks_of(plain) / "pre-commit",
                     "git cat-file -s :big.dat > .git/user-hook-saw")
    datavc(plain, "init")
    assert (hooks_of(plain) / "pre-commit.pre-datavc").read_text() == text
    assert MARKER in (hooks_of(plain) / "pre-commit").read_text()

    write(plain, "big.dat", data_of("big"))
    git(plain, "add", "big.dat")
    git(plain, "commit", "-q", "-m", "big", env={"DATAVC_CORE_THRESHOLD": "1k"})
    # The user's hook saw the raw blob: it ran before ours re-staged it as a pointer.
    assert (plain / ".git" / "user-hook-saw").read_text().strip() == str(BIG)
    assert POINTER_RE.fullmatch(blob(plain, "HEAD:big.dat"))


def test_failing_chained_pre_commit_stops_the_commit(plain: Path) -> None:
    user_hook(hooks_of(plain) / "pre-commit", 'echo "user hook says no" >&2\nexit 3')
    datavc(plain, "init")
    write(plain, "big.dat", data_of("big"))
    git(plain, "add", "big.dat")
    result = git(plain, "commit", "-q", "-m", "big", check=False,
                 env={"DATAVC_CORE_THRESHOLD": "1k"})
    assert result.returncode != 0
    assert "user hook says no" in result.stderr
    assert head(plain) is None
    assert blob(plain, ":big.dat") == data_of("big"), "our hook did not run after the failure"
    assert not (plain / ".gitattributes").exists() \
        or "big.dat" not in (plain / ".gitattributes").read_text()


def test_chained_post_checkout_gets_its_arguments(plain: Path) -> None:
    user_hook(hooks_of(plain) / "post-checkout", 'echo "$@" > .git/post-checkout-args')
    datavc(plain, "init")
    first = commit_setup(plain)
    git(plain, "checkout", "-q", "-b", "other")
    assert (plain / ".git" / "post-checkout-args").read_text().split() == [first, first, "1"]


def test_chained_pre_push_gets_stdin_and_arguments(plain: Path, tmp_path: Path) -> None:
    user_hook(hooks_of(plain) / "pre-push",
              'cat > .git/pre-push-stdin\necho "$@" > .git/pre-push-args')
    datavc(plain, "init")
    sha = commit_setup(plain)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(plain, "remote", "add", "origin", str(remote))
    git(plain, "push", "-q", "origin", "main")
    stdin = (plain / ".git" / "pre-push-stdin").read_text()
    assert stdin == f"refs/heads/main {sha} refs/heads/main {'0' * 40}\n"
    assert (plain / ".git" / "pre-push-args").read_text().split() == ["origin", str(remote)]
    assert git(remote, "rev-parse", "main").stdout.strip() == sha


def test_failing_chained_pre_push_stops_the_push(plain: Path, tmp_path: Path) -> None:
    user_hook(hooks_of(plain) / "pre-push", "cat >/dev/null\nexit 1")
    datavc(plain, "init")
    commit_setup(plain)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    result = git(plain, "push", "-q", str(remote), "main", check=False)
    assert result.returncode != 0
    assert git(remote, "rev-parse", "-q", "--verify", "main", check=False).stdout == ""


# --- install / uninstall ----------------------------------------------------------------

def test_init_installs_every_hook_shim(repo: Path) -> None:
    for name in HOOKS:
        path = hooks_of(repo) / name
        text = path.read_text()
        assert text.startswith("#!/bin/sh\n") and MARKER in text, name
        assert f"git-datavc hook {name}" in text, name
        assert os.access(path, os.X_OK), name


@pytest.mark.parametrize("name", HOOKS)
def test_project_hooks_are_what_install_writes(repo: Path, name: str) -> None:
    assert (PROJECT_HOOKS / name).read_bytes() == (hooks_of(repo) / name).read_bytes()
    assert os.access(PROJECT_HOOKS / name, os.X_OK)


@pytest.mark.parametrize("where", [".", "sub"])
def test_install_local_respects_core_hooks_path(plain: Path, where: str) -> None:
    git(plain, "config", "core.hooksPath", "my-hooks")  # relative to the top of the work tree
    text = user_hook(plain / "my-hooks" / "pre-commit", "touch .git/user-hook-ran")
    (plain / where).mkdir(exist_ok=True)
    datavc(plain / where, "install", "--local")
    for name in HOOKS:
        assert MARKER in (plain / "my-hooks" / name).read_text(), name
        assert not (hooks_of(plain) / name).exists(), name
    assert (plain / "my-hooks" / "pre-commit.pre-datavc").read_text() == text
    assert git(plain, "config", "--local", "filter.datavc.process").stdout.strip()

    write(plain, "big.dat", data_of("big"))
    git(plain, "add", "big.dat")
    git(plain, "commit", "-q", "-m", "big", env={"DATAVC_CORE_THRESHOLD": "1k"})
    assert (plain / ".git" / "user-hook-ran").exists()
    assert POINTER_RE.fullmatch(blob(plain, "HEAD:big.dat")), "our hook ran from core.hooksPath"


def test_uninstall_local_restores_chained_hook(plain: Path) -> None:
    text = user_hook(hooks_of(plain) / "pre-commit", "true")
    datavc(plain, "install", "--local")
    datavc(plain, "uninstall", "--local")
    assert (hooks_of(plain) / "pre-commit").read_text() == text
    assert not (hooks_of(plain) / "pre-commit.pre-datavc").exists()
    for name in HOOKS[1:]:
        assert not (hooks_of(plain) / name).exists(), name
    assert git(plain, "config", "--local", "--get", "filter.datavc.process",
               check=False).returncode != 0
    assert git(plain, "config", "--global", "--get", "filter.datavc.process").stdout.strip(), \
        "uninstall --local leaves the global drivers alone"


def test_reinstall_is_idempotent(plain: Path) -> None:
    text = user_hook(hooks_of(plain) / "pre-commit", "echo ran >> .git/user-hook-ran")
    datavc(plain, "init")
    shims = {name: (hooks_of(plain) / name).read_bytes() for name in HOOKS}
    again = datavc(plain, "install", "--local")
    datavc(plain, "init")
    assert "warning" not in again.stderr
    assert {name: (hooks_of(plain) / name).read_bytes() for name in HOOKS} == shims
    chained = sorted(p.name for p in hooks_of(plain).glob("*.pre-datavc"))
    assert chained == ["pre-commit.pre-datavc"]
    assert (hooks_of(plain) / "pre-commit.pre-datavc").read_text() == text
    commit_setup(plain)
    assert (plain / ".git" / "user-hook-ran").read_text() == "ran\n", "the user hook runs once"
