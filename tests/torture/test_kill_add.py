"""kill -9 during `git datavc add` of one large file and of a 5,000-file folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tests.helpers import datavc, git
from tests.torture.conftest import commit_all
from tests.torture.harness import (after_kill, assert_intact, assert_verify_clean, run_killed,
                                   status, timed, trials)
from git_datavc.hashing import hash_bytes

BIG = 48 << 20


def test_kill_add_of_a_large_file(mrepo: Path, count: Callable[[int], int]) -> None:
    (mrepo / "calib.dat").write_bytes(bytes(BIG))
    window = timed(["git", "datavc", "add", "calib.dat"], mrepo)
    commit_all(mrepo)
    for trial in trials("add-file", count(3)):
        data = trial.rng.randbytes(BIG)
        (mrepo / "big.dat").write_bytes(data)
        run_killed(["git", "datavc", "add", "big.dat"], mrepo, trial.delay(window))
        after_kill(mrepo)
        assert_intact(mrepo, "big.dat", [data])
        assert_verify_clean(mrepo)
        datavc(mrepo, "add", "big.dat")                     # the rerun completes
        assert (mrepo / "big.dat").read_bytes() == data
        assert hash_bytes(data) in (mrepo / "big.dat.datavc").read_text()
        assert status(mrepo) == ([" M .gitignore", "?? big.dat.datavc"] if trial.n == 0
                                 else [" M big.dat.datavc"])
        assert_verify_clean(mrepo)
        commit_all(mrepo)


def write_folder(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).unlink(missing_ok=True)   # a hardlink into the cache: never write into it
        (root / rel).write_bytes(data)


def test_kill_add_of_a_5000_file_folder(mrepo: Path, count: Callable[[int], int]) -> None:
    # hardlinks by default: with copies (the default cache.type on ext4, no reflinks) each
    # of the 5,000 renames over a user's file costs a flush (auto_da_alloc), 25 s an add;
    # the long run does both
    modes = ["hardlink,copy"] + (["reflink,copy"] if count(0) else [])
    for mode in modes:
        git(mrepo, "config", "-f", ".datavc/config", "cache.type", mode)
        kill_folder_adds(mrepo, count(1), mode)


def kill_folder_adds(mrepo: Path, n: int, mode: str) -> None:
    names = [f"folder/{i % 40:02d}/f{i}.txt" for i in range(5000)]
    write_folder(mrepo, {rel: b"calibration " + rel.encode() for rel in names})
    window = timed(["git", "datavc", "add", "folder"], mrepo)
    commit_all(mrepo)
    for trial in trials(f"add-folder-{mode}", n):
        files = {rel: trial.rng.randbytes(trial.rng.randrange(1, 3000)) for rel in names}
        write_folder(mrepo, files)
        run_killed(["git", "datavc", "add", "folder"], mrepo, trial.delay(window))
        after_kill(mrepo)
        for rel, data in files.items():
            assert_intact(mrepo, rel, [data])
        assert_verify_clean(mrepo)
        datavc(mrepo, "add", "folder")
        assert all((mrepo / rel).read_bytes() == data for rel, data in files.items())
        assert status(mrepo) == [" M folder.datavc"]
        assert_verify_clean(mrepo)
        commit_all(mrepo)
        # Only this version stays: else every trial verifies 5,000 more objects, and a long
        # run's trials grew from ~13 s to ~110 s.
        datavc(mrepo, "gc", "-w")
