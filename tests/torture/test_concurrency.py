"""Commands racing each other: `add` while `gc` runs; two clones pushing to one remote at
once; a `checkout` while `fetch` fills the cache. (Two `repro` at once: the repository
lock's own tests.)"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.e2e.test_sync import NAME, aws_env, local_store, s3_store  # noqa: F401
from tests.helpers import datavc, git
from tests.servers import moto_server  # noqa: F401
from tests.torture.conftest import commit_all
from tests.torture.harness import assert_verify_clean, in_cache, start, status, timed, trials
from tests.torture.test_kill_sync import make_store, pulled_clone, use

pytestmark = pytest.mark.usefixtures("aws_env")
MiB = 1 << 20


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    return proc.wait(timeout=600), err


def garbage(repo: Path, seed: int, n: int = 800) -> None:
    """`n` cache objects nothing refers to, so that gc has work to do."""
    r, junk = random.Random(seed), repo / "junk"
    for i in range(n):
        (junk / f"{i % 9}").mkdir(parents=True, exist_ok=True)
        (junk / f"{i % 9}" / f"g{i}").write_bytes(r.randbytes(100))
    datavc(repo, "add", "junk")
    shutil.rmtree(junk)
    (repo / "junk.datavc").unlink()


def test_add_while_gc_runs(mrepo: Path, count: Callable[[int], int]) -> None:
    git(mrepo, "config", "-f", ".datavc/config", "cache.type", "hardlink,copy")
    commit_all(mrepo, "links")
    garbage(mrepo, -1)
    # Without a repository lock an object stored after gc read the workspace and before it
    # listed the cache would go; that window is narrow, and no trial here has hit it yet.
    window = timed(["git", "datavc", "gc"], mrepo)
    lost = []
    for trial in trials("add-during-gc", count(3)):
        garbage(mrepo, trial.n)
        data = trial.rng.randbytes(trial.rng.randrange(1, 4 * MiB))
        name = f"new{trial.n}.dat"
        (mrepo / name).write_bytes(data)
        gc = start(["git", "datavc", "gc"], mrepo)
        time.sleep(trial.rng.uniform(0, window))
        datavc(mrepo, "add", name)
        code, err = finish(gc)
        assert code == 0, err
        assert (mrepo / name).read_bytes() == data
        assert_verify_clean(mrepo)
        if not in_cache(mrepo, data):
            lost.append(name)
    assert not lost, f"gc deleted the objects of {lost}, which `add` had just stored"


@pytest.mark.parametrize("kind", ["local", "s3", "local-v2", "s3-v2"])
def test_two_clones_push_to_one_remote_at_once(request: pytest.FixtureRequest, mrepo: Path,
                                               tmp_path: Path, kind: str,
                                               count: Callable[[int], int]) -> None:
    datavc(mrepo, "track", "*.bin")
    commit_all(mrepo, "track")
    for trial in trials(f"push-push-{kind}", count(1)):
        store = make_store(request, kind, tmp_path / f"t{trial.n}")
        clones, wanted = [], {}
        for side in ("a", "b"):
            clone = pulled_clone(mrepo, store, f"{side}{trial.n}")
            shared = random.Random(trial.n).randbytes(2 * MiB)   # both push this one
            files = {"shared.bin": shared, f"{side}.bin": trial.rng.randbytes(3 * MiB)}
            files.update({f"{side}data/f{i}": trial.rng.randbytes(3000) for i in range(40)})
            for rel, data in files.items():
                (clone / rel).parent.mkdir(parents=True, exist_ok=True)
                (clone / rel).write_bytes(data)
            datavc(clone, "add", f"{side}data")
            commit_all(clone, side)
            git(clone, "push", "-q", "origin", f"HEAD:{side}{trial.n}",
                env={"DATAVC_SKIP_PUSH": "1"})
            clones.append(clone)
            wanted[f"{side}{trial.n}"] = files
        pushes = [start(["git", "datavc", "push"], c) for c in clones]
        for proc in pushes:
            code, err = finish(proc)
            assert code == 0, err
        for branch, files in wanted.items():     # the remote holds what both need
            third = pulled_clone(mrepo, store, f"third-{branch}")
            git(third, "checkout", "-q", branch, env={"DATAVC_SKIP_SMUDGE": "1"})
            datavc(third, "pull")
            for rel, data in files.items():
                assert (third / rel).read_bytes() == data, f"{branch}:{rel}"
            assert status(third) == []


def test_checkout_while_fetch_fills_the_cache(request: pytest.FixtureRequest, mrepo: Path,
                                              tmp_path: Path,
                                              count: Callable[[int], int]) -> None:
    rng = random.Random(5)
    files = {f"data/{i % 6}/f{i}": rng.randbytes(rng.randrange(100, 60000)) for i in range(150)}
    files["data/big"] = rng.randbytes(16 * MiB)
    for rel, data in files.items():
        (mrepo / rel).parent.mkdir(parents=True, exist_ok=True)
        (mrepo / rel).write_bytes(data)
    datavc(mrepo, "add", "data")
    commit_all(mrepo, "data")
    store = make_store(request, "local", tmp_path / "store")
    use(mrepo, store)
    datavc(mrepo, "push")
    window = timed(["git", "datavc", "fetch"], pulled_clone(mrepo, store, "calib"))
    for trial in trials("checkout-during-fetch", count(2)):
        clone = pulled_clone(mrepo, store, f"clone{trial.n}")
        fetch = start(["git", "datavc", "fetch"], clone)
        time.sleep(trial.rng.uniform(0, window))
        checkout = datavc(clone, "checkout", check=False)
        assert "Traceback" not in checkout.stderr, checkout.stderr
        code, err = finish(fetch)
        assert code == 0, err
        for rel, data in files.items():   # what checkout placed is complete; the rest absent
            path = clone / rel
            assert not path.exists() or path.read_bytes() == data, f"{rel}: partial bytes"
        assert_verify_clean(clone)
        datavc(clone, "checkout")
        assert all((clone / rel).read_bytes() == data for rel, data in files.items())
        assert status(clone) == []
