"""kill -9 during `git datavc gc` and during `git datavc repro`."""

from __future__ import annotations

import random
import shutil
import textwrap
from pathlib import Path
from typing import Callable

from tests.helpers import datavc, git
from tests.torture.conftest import commit_all
from tests.torture.harness import (after_kill, assert_intact, assert_verify_clean, cache_dir,
                                   in_cache, run_killed, status, timed, trials)

MiB = 1 << 20


def cached_count(repo: Path) -> int:
    return sum(1 for p in (cache_dir(repo) / "files").rglob("*") if p.is_file())


def test_kill_gc(mrepo: Path, count: Callable[[int], int]) -> None:
    rng = random.Random(4)
    # hardlinks: the garbage is made by `add`, which in copy mode costs ext4 a flush a file
    git(mrepo, "config", "-f", ".datavc/config", "cache.type", "hardlink,copy")
    datavc(mrepo, "track", "*.bin")
    kept = {"k.bin": rng.randbytes(4 * MiB)}
    kept.update({f"data/f{i}": rng.randbytes(rng.randrange(10, 5000)) for i in range(150)})
    for rel, data in kept.items():
        (mrepo / rel).parent.mkdir(parents=True, exist_ok=True)
        (mrepo / rel).write_bytes(data)
    datavc(mrepo, "add", "data")
    commit_all(mrepo, "kept")
    kept_objects = cached_count(mrepo)

    def make_garbage(seed: int) -> None:
        """600 objects and a big one that nothing refers to any more."""
        r = random.Random(seed)
        junk = mrepo / "junk"
        for i in range(600):
            (junk / f"{i % 9}").mkdir(parents=True, exist_ok=True)
            (junk / f"{i % 9}" / f"g{i}").write_bytes(r.randbytes(200))
        (junk / "big").write_bytes(r.randbytes(8 * MiB))
        datavc(mrepo, "add", "junk")
        shutil.rmtree(junk)
        (mrepo / "junk.datavc").unlink()
        git(mrepo, "checkout", "-q", ".gitignore")

    make_garbage(-1)
    window = timed(["git", "datavc", "gc"], mrepo)
    for trial in trials("gc", count(2)):
        make_garbage(trial.n)
        run_killed(["git", "datavc", "gc"], mrepo, trial.delay(window))
        after_kill(mrepo)
        for rel, data in kept.items():
            assert_intact(mrepo, rel, [data])
            assert in_cache(mrepo, data), f"gc deleted {rel}'s object, which HEAD needs"
        assert_verify_clean(mrepo)
        datavc(mrepo, "gc")
        assert cached_count(mrepo) == kept_objects
        assert status(mrepo) == []
        shutil.rmtree(mrepo / "data")                    # what is kept really is all there
        datavc(mrepo, "checkout")
        assert all((mrepo / rel).read_bytes() == d for rel, d in kept.items())


GEN = """\
import pathlib, random
seed = int(pathlib.Path("params.yaml").read_text().split(":")[1])
rng = random.Random(seed)
out = pathlib.Path("out")
out.mkdir(exist_ok=True)
for i in range(100):
    (out / f"f{i}").write_bytes(rng.randbytes(2000))
(out / "big").write_bytes(rng.randbytes(8 << 20))
"""


def expected_outs(seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    outs = {f"out/f{i}": rng.randbytes(2000) for i in range(100)}
    return {**outs, "out/big": rng.randbytes(8 << 20)}


def test_kill_repro(mrepo: Path, count: Callable[[int], int]) -> None:
    (mrepo / "gen.py").write_text(GEN)
    (mrepo / "params.yaml").write_text("seed: 0\n")
    (mrepo / "datavc.yaml").write_text(textwrap.dedent("""\
        stages:
          gen:
            cmd: python3 gen.py
            deps: [gen.py]
            params: [seed]
            outs: [out]
        """))
    window = timed(["git", "datavc", "repro"], mrepo)
    commit_all(mrepo, "pipeline")
    old = expected_outs(0)
    for trial in trials("repro", count(2)):
        (mrepo / "params.yaml").write_text(f"seed: {trial.n + 1}\n")
        new = expected_outs(trial.n + 1)
        run_killed(["git", "datavc", "repro"], mrepo, trial.delay(window))
        after_kill(mrepo)
        for rel in old:   # a stage's out: either version complete, or the old one cached
            path = mrepo / rel
            if not (path.is_file() and path.read_bytes() in (old[rel], new[rel])):
                assert in_cache(mrepo, old[rel]), f"{rel}: the last committed version is lost"
        assert_verify_clean(mrepo)
        datavc(mrepo, "repro")
        assert all((mrepo / rel).read_bytes() == data for rel, data in new.items())
        assert status(mrepo) == [" M datavc.lock", " M params.yaml"]
        assert datavc(mrepo, "repro").stdout.count("gen") <= 1   # nothing left to run
        assert status(mrepo) == [" M datavc.lock", " M params.yaml"]
        assert_verify_clean(mrepo)
        commit_all(mrepo)
        old = new
