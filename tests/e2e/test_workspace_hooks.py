"""The workspace hooks (DESIGN.md section 8, issue 3): post-checkout, post-merge and
post-rewrite decide from their arguments and one cheap git call whether any metafile
changed, before importing anything heavy: a checkout with no data change costs next to
nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import datavc, git, run

HEAVY = ("yaml", "pygit2", "blake3", "sqlite3")
IN_PROCESS = """\
import sys
from git_datavc.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(code, ",".join(heavy) or "-")
"""


def commit(repo: Path, message: str, *paths: str) -> str:
    git(repo, "add", "-A", "--", *paths)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def history(repo: Path) -> tuple[Path, str, str, str]:
    """Commits: c1 tracks data/ by a metafile, c2 changes only a plain file, c3 changes
    the data. Returns (repo, c1, c2, c3)."""
    commit(repo, "setup")
    (repo / "data").mkdir()
    for i in range(50):
        (repo / "data" / f"f{i:02d}.txt").write_text(f"file {i}\n")
    datavc(repo, "add", "data")
    c1 = commit(repo, "data")
    (repo / "notes.txt").write_text("no data here\n")
    c2 = commit(repo, "notes", "notes.txt")
    datavc(repo, "unprotect", "data/f00.txt")
    (repo / "data" / "f00.txt").write_text("changed\n")
    datavc(repo, "add", "data")
    c3 = commit(repo, "data v2")
    git(repo, "update-ref", "ORIG_HEAD", c1)  # what a merge or rebase from c1 leaves
    return repo, c1, c2, c3


def _noop_calls(c1: str, c2: str) -> list[tuple[list[str], bytes | None]]:
    """Each hook as git calls it when the commits moved between share every metafile."""
    return [
        (["post-checkout", c1, c2, "1"], None),
        (["post-checkout", c2, c1, "1"], None),
        (["post-merge", "0"], None),               # ORIG_HEAD (c1) .. HEAD
        (["post-rewrite", "amend"], f"{c1} {c2}\n".encode()),
        (["post-rewrite", "rebase"], f"{c1} {c2}\n".encode()),
    ]


@pytest.mark.parametrize("index", range(5), ids=["checkout", "checkout-back", "merge",
                                                  "amend", "rebase"])
def test_hook_with_nothing_to_do_is_fast_and_imports_nothing_heavy(
        history: tuple[Path, str, str, str], index: int) -> None:
    repo, c1, c2, _ = history
    git(repo, "checkout", "-q", c2)
    git(repo, "update-ref", "ORIG_HEAD", c1)
    args, stdin = _noop_calls(c1, c2)[index]

    start = time.monotonic()
    result = run(["git-datavc", "hook", *args], repo, input=stdin)
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"{args}: {elapsed:.2f} s for a hook with nothing to do"
    assert result.stdout == "" and result.stderr == "", result

    script = IN_PROCESS.format(heavy=HEAVY)
    out = run([sys.executable, "-c", script, "hook", *args], repo, input=stdin).stdout
    assert out.split() == ["0", "-"], f"{args}: exit code and heavy modules: {out!r}"


def test_hook_with_a_metafile_change_does_the_work(history: tuple[Path, str, str, str]) -> None:
    """The control for the test above: the same in-process check sees yaml imported when a
    metafile changed, and the data is placed."""
    repo, c1, c2, c3 = history
    git(repo, "-c", "core.hooksPath=no-hooks-here", "checkout", "-q", c1)
    assert (repo / "data" / "f00.txt").read_text() == "changed\n", "no hook ran"
    script = IN_PROCESS.format(heavy=HEAVY)
    out = run([sys.executable, "-c", script, "hook", "post-checkout", c3, c1, "1"], repo).stdout
    code, heavy = out.split()
    assert code == "0" and "yaml" in heavy.split(","), out
    assert (repo / "data" / "f00.txt").read_text() == "file 0\n"


def test_installed_hook_on_checkout_without_data_change_is_quick(
        history: tuple[Path, str, str, str]) -> None:
    """Through git itself: switching between c2 and c1 (same data) runs the installed
    post-checkout hook, which leaves the data alone."""
    repo, c1, c2, _ = history
    git(repo, "checkout", "-q", c2)  # from c3: the data changes here, not below
    assert (repo / "data" / "f00.txt").read_text() == "file 0\n"
    before = {p.name: p.stat().st_ino for p in (repo / "data").iterdir()}
    for rev in (c1, c2, c1):
        start = time.monotonic()
        result = git(repo, "checkout", "-q", rev)
        assert time.monotonic() - start < 2.0
        assert result.stderr == "", result.stderr
    assert {p.name: p.stat().st_ino for p in (repo / "data").iterdir()} == before
    assert subprocess.run(["git", "diff", "--quiet", c1, c2, "--", "*.datavc"],
                          cwd=repo).returncode == 0


def test_rerun_of_a_checkout_whose_hook_died_finishes_its_work(
        history: tuple[Path, str, str, str]) -> None:
    """A post-checkout hook killed half-way (tests/torture finds this with kill -9): git
    had moved HEAD, the data was not placed. Rerunning the same `git checkout` gives the
    hook old == new, yet the marker the dead hook left makes it redo the interrupted range."""
    repo, c1, _, c3 = history
    assert (repo / "data" / "f00.txt").read_text() == "changed\n"
    git(repo, "checkout", "-q", c1, env={"DATAVC_SKIP_HOOKS": "1"})   # git's part only
    marker = repo / ".git" / "datavc" / "checkout-pending"
    marker.write_text(c3 + "\n")                  # what the hook wrote before it died
    assert (repo / "data" / "f00.txt").read_text() == "changed\n"
    git(repo, "checkout", "-q", c1)               # the rerun: post-checkout c1 c1 1
    assert (repo / "data" / "f00.txt").read_text() == "file 0\n"
    assert not marker.exists()
    assert git(repo, "status", "--porcelain").stdout == ""


def test_a_finished_hook_leaves_no_marker(history: tuple[Path, str, str, str]) -> None:
    repo, c1, _, _ = history
    git(repo, "checkout", "-q", c1)
    assert (repo / "data" / "f00.txt").read_text() == "file 0\n"
    assert not (repo / ".git" / "datavc" / "checkout-pending").exists()
