"""kill -9 during `git datavc push` and `git datavc pull`, to a local directory, moto's S3
server and sshd, each in layout 1 (whole objects) and layout 2 (chunks in packs). After each kill the rerun completes, and a fresh clone pulling from the
remote gets every byte (so nothing partial is visible there under an object's name)."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Callable

import pytest

from tests.e2e.test_sync import (NAME, Store, aws_env, local_store, s3_store,  # noqa: F401
                                 ssh_store, write_local)
from tests.helpers import datavc, git
from tests.servers import moto_server, sshd_server  # noqa: F401
from tests.torture.conftest import commit_all
from tests.torture.harness import (after_kill, assert_intact, assert_verify_clean, run_killed,
                                   status, timed, trials)

pytestmark = pytest.mark.usefixtures("aws_env")
MiB = 1 << 20


KINDS = ["local", "s3", "ssh", "local-v2", "s3-v2", "ssh-v2"]


def make_store(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Store:
    """A new store of `kind`; "-v2": the first push makes it layout 2 (chunks in packs)."""
    base = kind.removesuffix("-v2")
    if base == "s3":
        store = s3_store(request.getfixturevalue("moto_server"))
    elif base == "ssh":
        store = ssh_store(request.getfixturevalue("sshd_server"), tmp_path)
    else:
        store = local_store(tmp_path)
    if kind.endswith("-v2"):
        store.settings[f"remote.{NAME}.layout"] = "2"
    return store


def use(repo: Path, store: Store) -> None:
    """The store as the default remote, all in config.local (a new one every trial)."""
    datavc(repo, "remote", "add", "--local", "-f", "-d", NAME, store.url)
    write_local(repo, store)


def populate(repo: Path) -> dict[str, bytes]:
    """Filter-mode files and a metafile folder, committed; returns path -> bytes."""
    rng = random.Random(3)
    datavc(repo, "track", "*.bin")
    files = {"a.bin": rng.randbytes(4 * MiB), "m/b.bin": rng.randbytes(2 * MiB)}
    files.update({f"data/{i % 5}/f{i}": rng.randbytes(rng.randrange(100, 40000))
                  for i in range(60)})
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    datavc(repo, "add", "data")
    commit_all(repo, "data")
    return files


def pulled_clone(source: Path, store: Store, name: str) -> Path:
    """A clone that gets its data only by `pull` from `store` (no smudge fetch)."""
    dest = source.parent / name
    git(source.parent, "clone", "-q", "--no-checkout", str(source), name)
    write_local(dest, store)
    datavc(dest, "remote", "add", "--local", "-f", "-d", NAME, store.url)
    git(dest, "checkout", "-q", "main", env={"DATAVC_SKIP_SMUDGE": "1"})
    return dest


def assert_has_everything(repo: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        assert (repo / rel).read_bytes() == data, rel
    assert status(repo) == []


@pytest.mark.parametrize("kind", KINDS)
def test_kill_push(request: pytest.FixtureRequest, mrepo: Path, tmp_path: Path, kind: str,
                   count: Callable[[int], int]) -> None:
    files = populate(mrepo)
    use(mrepo, make_store(request, kind, tmp_path / "calib"))
    window = timed(["git", "datavc", "push"], mrepo)
    for trial in trials(f"push-{kind}", count(1)):
        store = make_store(request, kind, tmp_path / f"t{trial.n}")
        use(mrepo, store)
        run_killed(["git", "datavc", "push"], mrepo, trial.delay(window))
        after_kill(mrepo)
        for rel, data in files.items():
            assert_intact(mrepo, rel, [data])
        assert_verify_clean(mrepo)
        datavc(mrepo, "push")                               # the rerun completes
        assert status(mrepo) == []
        # layout 2 keeps nothing whole under files/ (it is all in packs); layout 1 does
        assert bool(store.oids()) != kind.endswith("-v2")
        clone = pulled_clone(mrepo, store, f"clone{trial.n}")
        datavc(clone, "pull")
        assert_has_everything(clone, files)


@pytest.mark.parametrize("kind", KINDS)
def test_kill_pull(request: pytest.FixtureRequest, mrepo: Path, tmp_path: Path, kind: str,
                   count: Callable[[int], int]) -> None:
    files = populate(mrepo)
    store = make_store(request, kind, tmp_path / "store")
    use(mrepo, store)
    datavc(mrepo, "push")
    window = timed(["git", "datavc", "pull"], pulled_clone(mrepo, store, "calib"))
    for trial in trials(f"pull-{kind}", count(1)):
        clone = pulled_clone(mrepo, store, f"clone-{uuid.uuid4().hex[:8]}")
        run_killed(["git", "datavc", "pull"], clone, trial.delay(window))
        after_kill(clone)
        for rel, data in files.items():   # a data file is complete, or still a pointer/absent
            path = clone / rel
            if path.is_file() and path.read_bytes() != data:
                assert rel.endswith(".bin") and path.read_bytes().startswith(
                    b"version: datavc/1\n"), f"{rel}: partial data in the workspace"
        assert_verify_clean(clone)
        datavc(clone, "pull")
        assert_has_everything(clone, files)
        assert_verify_clean(clone)
