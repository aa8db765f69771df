"""What a command killed between writing a temp file and renaming it leaves behind: the
rerun replaces the leftover, and `git status` lists nothing of it (found by the kill -9
torture run: `?? .big.dat.datavc-tmp-26810` after a rerun of `git datavc add`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import datavc, git


def make_repo(tmp_path: Path, cache_type: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    datavc(repo, "init")
    git(repo, "config", "-f", ".datavc/config", "cache.type", cache_type)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    return repo


def status(repo: Path) -> list[str]:
    return sorted(git(repo, "status", "--porcelain", "--untracked-files=all").stdout
                  .splitlines())


@pytest.mark.parametrize("cache_type", ["symlink", "reflink,copy"])   # these relink
def test_rerun_of_a_killed_add_replaces_its_temp_files(tmp_path: Path, cache_type: str) -> None:
    repo = make_repo(tmp_path, cache_type)
    (repo / "big.dat").write_bytes(b"calibration run 1\n" * 1000)
    # what a kill leaves: a half-placed link, a half-written metafile and .gitignore
    (repo / ".big.dat.datavc-tmp").write_bytes(b"calibration run 1\n" * 10)
    (repo / ".big.dat.datavc.tmp").write_text("outs:\n- path: big")
    (repo / ".gitignore.tmp").write_text("/bi")
    datavc(repo, "add", "big.dat")
    assert status(repo) == ["?? .gitignore", "?? big.dat.datavc"]
    assert (repo / "big.dat").read_bytes() == b"calibration run 1\n" * 1000
    assert "/big.dat" in (repo / ".gitignore").read_text().splitlines()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")

    (repo / "big.dat").unlink()                        # never write into a linked file
    (repo / "big.dat").write_bytes(b"calibration run 2\n" * 1000)
    (repo / ".big.dat.datavc-tmp").write_bytes(b"calibration run 2\n" * 10)
    (repo / ".big.dat.datavc.tmp").write_text("outs:\n")
    datavc(repo, "add", "big.dat")
    assert status(repo) == [" M big.dat.datavc"]
    assert (repo / "big.dat").read_bytes() == b"calibration run 2\n" * 1000
    assert sorted(p.name for p in repo.iterdir()) == [
        ".datavc", ".git", ".gitignore", "big.dat", "big.dat.datavc"]


@pytest.mark.parametrize("cache_type", ["hardlink", "copy"])
def test_rerun_of_a_killed_checkout_replaces_its_temp_file(tmp_path: Path,
                                                           cache_type: str) -> None:
    repo = make_repo(tmp_path, cache_type)
    (repo / "big.dat").write_bytes(b"calibration\n" * 1000)
    datavc(repo, "add", "big.dat")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    (repo / "big.dat").unlink()
    (repo / ".big.dat.datavc-tmp").write_bytes(b"calib")
    datavc(repo, "checkout")
    assert (repo / "big.dat").read_bytes() == b"calibration\n" * 1000
    assert status(repo) == []
    assert not (repo / ".big.dat.datavc-tmp").exists()


def test_pull_stopped_between_placing_files_leaves_git_status_right(tmp_path: Path) -> None:
    """A pull that replaced some pointers by their content and then stopped (killed, or as
    here failing at the next file) used to leave git's index with the pointers' sizes: git
    never re-reads such a file, so `git status` said ` M a.bin` for good, even after a
    rerun (which finds no pointer left to place). Found by the kill -9 torture run."""
    source = make_repo(tmp_path, "reflink,copy")
    datavc(source, "track", "*.bin")
    data = {"a.bin": b"calibration a\n" * 5000, "b.bin": b"calibration b\n" * 5000}
    for rel, payload in data.items():
        (source / rel).write_bytes(payload)
    datavc(source, "remote", "add", "-d", "store", str(tmp_path / "store"))
    git(source, "add", "-A")
    git(source, "commit", "-qm", "data")
    datavc(source, "push")
    git(tmp_path, "clone", "-q", "--no-checkout", str(source), "clone")
    clone = tmp_path / "clone"
    git(clone, "checkout", "-q", "main", env={"DATAVC_SKIP_SMUDGE": "1"})
    assert (clone / "a.bin").read_bytes().startswith(b"version: datavc/1\n")
    # b.bin cannot be placed: a directory where its temp file goes
    (clone / ".b.bin.datavc-tmp").mkdir()
    (clone / ".b.bin.datavc-tmp" / "x").write_bytes(b"x")
    stopped = datavc(clone, "pull", check=False)
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr
    assert (clone / "a.bin").read_bytes() == data["a.bin"]
    assert status(clone) == ["?? .b.bin.datavc-tmp/x"]     # a.bin: not listed as modified
    (clone / ".b.bin.datavc-tmp" / "x").unlink()
    (clone / ".b.bin.datavc-tmp").rmdir()
    datavc(clone, "pull")
    assert all((clone / rel).read_bytes() == payload for rel, payload in data.items())
    assert status(clone) == []
