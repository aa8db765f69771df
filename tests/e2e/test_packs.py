"""Remote layout 2 end to end (issue 13): chunks in packs on a local directory, moto's S3
server and sshd. Only what changed is sent and received; a fresh clone rebuilds every
version; a corrupt chunk and a missing pack are named and nothing bad enters the cache;
two clones pushing at once both succeed; `remote upgrade` converts a layout-1 remote; and
`gc --cloud` deletes packs in two phases without losing a concurrent push's data."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from git_datavc import config, git as gitlib, transfer
from git_datavc.cache import Cache
from git_datavc.remotes import open_remote
from tests.e2e.test_sync import (NAME, S3_PREFIX, Store, b3, clone, commit_all, content,  # noqa: F401
                                 local, local_store, s3_store, ssh_store, store, write_local)
from tests.helpers import cache_object, datavc, git
from tests.servers import aws_env, moto_server, sshd_server  # noqa: F401

pytestmark = pytest.mark.usefixtures("aws_env")
MIB = 1 << 20


def big(seed: str, size: int) -> bytes:
    return content(seed, size)


def connect_v2(repo: Path, store: Store) -> None:
    datavc(repo, "remote", "add", "-d", NAME, store.url, "--layout", "2")
    write_local(repo, store)
    git(repo, "add", ".datavc")
    git(repo, "commit", "-q", "-m", "data remote")


def sent(output: str, verb: str = "push") -> tuple[float, float]:
    """(bytes moved, bytes of the objects) from the savings line, in MiB."""
    m = re.search(rf"{verb}: ([\d.]+) (B|KiB|MiB|GiB) of ([\d.]+) (B|KiB|MiB|GiB)", output)
    assert m, output
    unit = {"B": 1 / MIB, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
    return float(m[1]) * unit[m[2]], float(m[3]) * unit[m[4]]


def remote_keys(store: Store, folder: str) -> dict[str, int]:
    """Files in `folder` of the remote: key -> size."""
    if store.kind == "s3":
        assert store.server is not None
        pages = store.server.client().get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=f"{S3_PREFIX}/{folder}/")
        return {o["Key"][len(S3_PREFIX) + 1:]: o["Size"] for p in pages
                for o in p.get("Contents", ())}
    assert store.root is not None
    base = store.root / folder
    return {f"{folder}/{p.name}": p.stat().st_size for p in base.iterdir()} \
        if base.is_dir() else {}


def edit_middle(data: bytes, seed: str) -> bytes:
    mid = len(data) // 2
    return data[:mid] + big(seed, MIB) + data[mid + MIB:]


def test_a_changed_mebibyte_is_all_that_moves(tmp_path: Path, repo: Path, store: Store) -> None:
    v1 = big("v1", 64 * MIB)
    (repo / "model.bin").write_bytes(v1)
    connect_v2(repo, store)
    commit_all(repo, "v1")
    git(repo, "tag", "v1")
    first = datavc(repo, "push").stderr
    moved, total = sent(first)
    assert 63 < total < 65 and 60 < moved < 66, first
    v2 = edit_middle(v1, "v2")
    (repo / "model.bin").write_bytes(v2)
    commit_all(repo, "v2")
    second = datavc(repo, "push").stderr
    moved, total = sent(second)
    assert 63 < total < 65 and moved < 3, second          # the edit and its neighbours only
    assert "already on the remote" in second
    stored = sum(remote_keys(store, "packs").values())
    assert stored < 68 * MIB, stored                      # not 128 MiB
    assert not [k for k in remote_keys(store, "files")], "layout 2 stores nothing whole"

    # A fresh clone gets v2 through smudge, v1 on checkout; a clone at v1 that then fetches
    # v2 receives only the new chunks (the rest it copies out of v1 in its cache).
    fresh, _ = clone(repo, store)
    assert (fresh / "model.bin").read_bytes() == v2
    git(fresh, "checkout", "-q", "v1")
    assert (fresh / "model.bin").read_bytes() == v1
    at_v1 = tmp_path / "at_v1"
    git(tmp_path, "clone", "-q", "--no-checkout", str(repo), "at_v1")
    write_local(at_v1, store)
    git(at_v1, "checkout", "-q", "v1")
    assert (at_v1 / "model.bin").read_bytes() == v1
    got = datavc(at_v1, "fetch", "--all-branches").stderr
    received, total = sent(got, "fetch")
    assert 63 < total < 65 and received < 3, got
    assert cache_object(at_v1, b3(v2)).read_bytes() == v2


def test_many_small_files_take_a_few_packs(repo: Path, store: Store) -> None:
    files = {f"d/f{i:04d}.bin": content(f"s{i}", 500 + i) for i in range(600)}
    for rel, data in files.items():
        (repo / rel).parent.mkdir(exist_ok=True)
        (repo / rel).write_bytes(data)
    connect_v2(repo, store)
    commit_all(repo, "many")
    datavc(repo, "push")
    assert len(remote_keys(store, "packs")) == 1
    assert len(remote_keys(store, "index")) == 1
    assert "600 objects on remote" in datavc(repo, "verify", "--remote").stdout
    again = datavc(repo, "push").stderr
    assert "push 0 objects" in again
    fresh, _ = clone(repo, store)
    assert all((fresh / rel).read_bytes() == data for rel, data in files.items())


def pack_paths(store: Store) -> list[Path]:
    assert store.root is not None
    return sorted((store.root / "packs").iterdir())


def test_corrupt_chunk_is_named_and_never_enters_the_cache(repo: Path, local: Store) -> None:
    data = big("c", 3 * MIB)
    (repo / "c.bin").write_bytes(data)
    connect_v2(repo, local)
    commit_all(repo, "c")
    datavc(repo, "push")
    (pack,) = pack_paths(local)
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(raw))
    fresh = repo.parent / "fresh"
    git(repo.parent, "clone", "-q", "--no-checkout", str(repo), "fresh")
    git(fresh, "checkout", "HEAD", "--", ".datavc")
    git(fresh, "read-tree", "HEAD")
    result = datavc(fresh, "fetch", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.search(r"chunk [0-9a-f]{16} in pack [0-9a-f]{16} at offset \d+ is corrupt",
                     result.stderr), result.stderr
    assert b3(data) in result.stderr
    assert not cache_object(fresh, b3(data)).exists()
    report = datavc(fresh, "verify", "--remote", check=False)
    assert report.returncode == 1 and "Traceback" not in report.stderr
    assert f"broken: {b3(data)}: chunk" in report.stderr, report.stderr
    assert "1 of 1 objects on remote" in report.stderr
    tmp = fresh / ".git" / "datavc" / "cache" / "tmp"
    assert not tmp.is_dir() or not list(tmp.iterdir())


def test_missing_pack_names_the_objects(repo: Path, local: Store) -> None:
    data = big("m", 2 * MIB)
    (repo / "m.bin").write_bytes(data)
    connect_v2(repo, local)
    commit_all(repo, "m")
    datavc(repo, "push")
    for pack in pack_paths(local):
        pack.unlink()
    fresh = repo.parent / "fresh"
    git(repo.parent, "clone", "-q", "--no-checkout", str(repo), "fresh")
    git(fresh, "checkout", "HEAD", "--", ".datavc")
    git(fresh, "read-tree", "HEAD")
    result = datavc(fresh, "fetch", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is missing from remote" in result.stderr and b3(data) in result.stderr, result.stderr
    report = datavc(fresh, "verify", "--remote", check=False)
    assert report.returncode == 1 and f"broken: {b3(data)}: pack" in report.stderr


@pytest.fixture(params=["local", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "s3":
        return s3_store(request.getfixturevalue("moto_server"))
    return local_store(tmp_path)


def test_two_clones_push_at_once_and_a_third_gets_everything(repo: Path,
                                                             shared: Store) -> None:
    base = big("base", 8 * MIB)
    (repo / "base.bin").write_bytes(base)
    connect_v2(repo, shared)
    commit_all(repo, "base")
    datavc(repo, "push")
    made = {}
    for name in ("a", "b"):
        other, _ = clone(repo, shared, name)
        git(other, "checkout", "-q", "-b", f"branch-{name}")
        files = {f"{name}/f{i}.bin": content(f"{name}{i}", 2000) for i in range(300)}
        files[f"{name}/big.bin"] = edit_middle(base, name)     # shares most chunks with base
        files["shared.bin"] = big("same in both", 3 * MIB)     # the same new object in both
        for rel, data in files.items():
            (other / rel).parent.mkdir(exist_ok=True)
            (other / rel).write_bytes(data)
        commit_all(other, name)
        made[name] = (other, files)
    procs = [subprocess.Popen(["git", "datavc", "push"], cwd=other, stderr=subprocess.PIPE,
                              stdout=subprocess.PIPE) for other, _ in made.values()]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode() for o in outs]
    for name, (other, _) in made.items():
        git(other, "push", "-q", "origin", f"branch-{name}")
    assert len(remote_keys(shared, "index")) == 3
    third, _ = clone(repo, shared, "third")
    datavc(third, "fetch", "--all-branches")
    for name, (_, files) in made.items():
        git(third, "checkout", "-q", f"branch-{name}")
        for rel, data in files.items():
            assert (third / rel).read_bytes() == data, rel


def test_layout_1_remote_keeps_working_and_upgrade_converts(repo: Path, store: Store) -> None:
    one, two = big("one", 2 * MIB), content("two", 4000)
    (repo / "one.bin").write_bytes(one)
    (repo / "two.bin").write_bytes(two)
    datavc(repo, "remote", "add", "-d", NAME, store.url)
    write_local(repo, store)
    commit_all(repo, "v1 layout")
    datavc(repo, "push")
    assert len(remote_keys(store, "files/blake3/" + b3(one)[:2])) >= 1
    out = datavc(repo, "remote", "upgrade").stderr
    assert "2 objects moved into packs" in out, out
    assert not [k for k in remote_keys(store, "files/blake3/" + b3(one)[:2])]
    assert remote_keys(store, "packs") and remote_keys(store, "index")
    # a clone still configured for layout 1 reads the marker and speaks layout 2
    fresh, _ = clone(repo, store)
    assert (fresh / "one.bin").read_bytes() == one and (fresh / "two.bin").read_bytes() == two
    (fresh / "three.bin").write_bytes(big("three", 2 * MIB))
    commit_all(fresh, "three")
    assert "sent" in datavc(fresh, "push").stderr
    assert not [k for k in remote_keys(store, "files/blake3/" + b3(big("three", 2 * MIB))[:2])]


def test_a_layout_1_object_in_a_layout_2_remote_is_still_read(repo: Path, local: Store) -> None:
    old = content("old", 5000)
    (repo / "old.bin").write_bytes(old)
    datavc(repo, "remote", "add", "-d", NAME, local.url)
    commit_all(repo, "old")
    datavc(repo, "push")                              # whole, under files/
    git(repo, "config", "-f", ".datavc/config", f"remote.{NAME}.layout", "2")
    (repo / "new.bin").write_bytes(big("new", 2 * MIB))
    commit_all(repo, "new")
    datavc(repo, "push")                              # writes the marker, then packs
    assert (local.root / "datavc-layout").is_file() and pack_paths(local)  # type: ignore
    fresh, _ = clone(repo, local)
    assert (fresh / "old.bin").read_bytes() == old
    assert (fresh / "new.bin").read_bytes() == big("new", 2 * MIB)


# --- gc --cloud --------------------------------------------------------------------------

def gc_cloud(repo: Path, *extra: str) -> str:
    return datavc(repo, "gc", "--all-branches", "--cloud", "-f", *extra).stderr


def test_gc_cloud_deletes_unreferenced_packs_only_after_the_grace_period(
        repo: Path, shared: Store) -> None:
    (repo / "m.bin").write_bytes(big("gone", 2 * MIB))
    connect_v2(repo, shared)
    commit_all(repo, "first")
    datavc(repo, "push")
    first_packs = set(remote_keys(shared, "packs"))
    (repo / "m.bin").write_bytes(big("kept", 2 * MIB))
    commit_all(repo, "second")
    datavc(repo, "push")
    grace = ["config", "-f", ".datavc/config.local", f"remote.{NAME}.gcgrace"]
    git(repo, *grace, "3600")
    out = gc_cloud(repo)            # the first push's pack is younger than the grace period
    assert "marked" not in out, out
    git(repo, *grace, "0")
    out = gc_cloud(repo)
    assert "marked 1 packs" in out, out                   # phase 1: marked, not deleted
    assert first_packs <= set(remote_keys(shared, "packs"))
    git(repo, *grace, "3600")
    out = gc_cloud(repo)                                  # the mark is too young
    assert "deleted 1 packs" not in out and first_packs <= set(remote_keys(shared, "packs"))
    git(repo, *grace, "0")
    out = gc_cloud(repo)                                  # phase 2
    assert "deleted 1 packs" in out, out
    assert not first_packs & set(remote_keys(shared, "packs"))
    fresh, _ = clone(repo, shared)
    assert (fresh / "m.bin").read_bytes() == big("kept", 2 * MIB)


def test_gc_cloud_keeps_a_pack_a_concurrent_push_reuses(repo: Path, shared: Store) -> None:
    """Clone A reads the indexes and starts a push whose object shares chunks with one that
    gc then drops; the pushed index refers to the dropped pack, so phase 2 keeps it."""
    v1 = big("v1", 6 * MIB)
    (repo / "m.bin").write_bytes(v1)
    connect_v2(repo, shared)
    commit_all(repo, "v1")
    datavc(repo, "push")
    v1_packs = set(remote_keys(shared, "packs"))
    a, _ = clone(repo, shared, "a")
    (repo / "m.bin").write_bytes(big("unrelated", 2 * MIB))
    commit_all(repo, "v1 no longer in any branch tip")
    datavc(repo, "push")
    git(repo, "config", "-f", ".datavc/config.local", f"remote.{NAME}.gcgrace", "0")

    git(a, "checkout", "-q", "-b", "branch-a")
    v2 = edit_middle(v1, "a")
    (a / "m.bin").write_bytes(v2)
    commit_all(a, "a")
    a_repo = gitlib.find_repo(a)
    settings = config.load(a_repo.root)
    cache = Cache(config.cache_root(a_repo, settings))
    remote = open_remote(NAME, settings)
    try:
        remote.index()          # type: ignore[attr-defined]   # the push reads the indexes
        out = gc_cloud(repo)    # ... gc phase 1 drops v1 and marks its pack
        assert "marked" in out, out
        result = transfer.push(cache, remote, [b3(v2)])          # ... the push ends
        assert result.ok and result.sent < 3 * MIB, (result.failures, result.sent)
    finally:
        remote.close()
    git(a, "push", "-q", "origin", "branch-a")
    gc_cloud(repo)              # phase 2: v1's pack is referenced again, so kept
    assert v1_packs <= set(remote_keys(shared, "packs"))
    third, _ = clone(repo, shared, "third")
    git(third, "checkout", "-q", "branch-a")
    assert (third / "m.bin").read_bytes() == v2


def test_a_push_killed_midway_leaves_a_readable_remote_that_gc_cleans(
        repo: Path, local: Store) -> None:
    import signal
    import time

    small = content("small", 3000)
    (repo / "small.bin").write_bytes(small)
    connect_v2(repo, local)
    commit_all(repo, "small")
    git(repo, "tag", "first")
    datavc(repo, "push")
    before = set(remote_keys(local, "packs"))
    (repo / "huge.bin").write_bytes(big("huge", 160 * MIB))
    commit_all(repo, "huge")
    push = subprocess.Popen(["git", "datavc", "push"], cwd=repo, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(remote_keys(local, "packs")) <= len(before) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(push.pid, signal.SIGKILL)
    push.wait()
    leftover = set(remote_keys(local, "packs")) - before
    assert leftover, "the push wrote no pack before it was killed"
    assert len(remote_keys(local, "index")) == 1, "the index goes last: none was written"

    fresh = repo.parent / "fresh"
    git(repo.parent, "clone", "-q", "--no-checkout", str(repo), "fresh")
    write_local(fresh, local)
    git(fresh, "checkout", "-q", "first")
    assert (fresh / "small.bin").read_bytes() == small

    git(repo, "config", "-f", ".datavc/config.local", f"remote.{NAME}.gcgrace", "0")
    gc_cloud(repo)                  # marks the leftovers
    gc_cloud(repo)                  # deletes them
    assert set(remote_keys(local, "packs")) == before
    datavc(repo, "push")            # a rerun pushes everything
    fresh2, _ = clone(repo, local, "fresh2")
    assert (fresh2 / "huge.bin").read_bytes() == big("huge", 160 * MIB)


def test_one_file_of_a_pack_costs_its_range_and_batches_stay_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process on a local directory: fetching one small object of 2,000 in a pack reads
    its bytes (and the index) only; a fetch of all of them in many small batches gets
    every one intact."""
    from git_datavc import packsync
    from git_datavc.config import Settings

    settings = Settings(tmp_path, {"remote.o.url": str(tmp_path / "remote"),
                                   "remote.o.layout": "2"})
    source = Cache(tmp_path / "source")
    with source.writer() as w:
        blobs = {w.add_chunks([content(f"x{i}", 2000 + i)])[0]: content(f"x{i}", 2000 + i)
                 for i in range(2000)}
    remote = open_remote("o", settings)
    try:
        assert transfer.push(source, remote, list(blobs)).ok
    finally:
        remote.close()
    one = sorted(blobs)[1234]
    for batch_bytes, name in ((1 << 30, "one"), (50_000, "all")):
        monkeypatch.setattr(packsync, "SMALL_BATCH", batch_bytes)
        cache = Cache(tmp_path / name)
        remote = open_remote("o", settings)
        try:
            wanted = [one] if name == "one" else list(blobs)
            result = transfer.fetch(cache, remote, wanted)
        finally:
            remote.close()
        assert result.ok and result.transferred == len(wanted), result.failures
        index_bytes = sum(p.stat().st_size for p in (tmp_path / "remote" / "index").iterdir())
        if name == "one":
            assert result.sent - index_bytes == len(blobs[one])
        for oid in wanted:
            assert cache.path(oid).read_bytes() == blobs[oid]


def test_gc_cloud_rewrites_a_mostly_dead_pack(repo: Path, shared: Store) -> None:
    keep, drop = big("keep", 2 * MIB), big("drop", 3 * MIB)
    (repo / "keep.bin").write_bytes(keep)
    (repo / "drop.bin").write_bytes(drop)
    connect_v2(repo, shared)
    commit_all(repo, "both")
    datavc(repo, "push")
    (old,) = remote_keys(shared, "packs")
    (repo / "drop.bin").unlink()
    commit_all(repo, "drop one")
    git(repo, "config", "-f", ".datavc/config.local", f"remote.{NAME}.gcgrace", "0")
    gc_cloud(repo)                  # copies keep's chunks to a new pack, marks the old one
    packs = remote_keys(shared, "packs")
    assert old in packs and len(packs) == 2
    gc_cloud(repo)
    packs = remote_keys(shared, "packs")
    assert old not in packs and len(packs) == 1
    assert 2 * MIB <= sum(packs.values()) < 2 * MIB + 64 * 1024
    fresh, _ = clone(repo, shared)
    assert (fresh / "keep.bin").read_bytes() == keep
    assert "1 objects on remote" in datavc(fresh, "verify", "--remote").stdout


def test_a_damaged_cache_object_lends_no_chunks(tmp_path: Path, repo: Path,
                                                local: Store) -> None:
    v1 = big("d1", 8 * MIB)
    (repo / "m.bin").write_bytes(v1)
    connect_v2(repo, local)
    commit_all(repo, "v1")
    git(repo, "tag", "v1")
    datavc(repo, "push")
    v2 = edit_middle(v1, "d2")
    (repo / "m.bin").write_bytes(v2)
    commit_all(repo, "v2")
    datavc(repo, "push")
    at_v1 = tmp_path / "at_v1"
    git(tmp_path, "clone", "-q", "--no-checkout", str(repo), "at_v1")
    git(at_v1, "checkout", "-q", "v1")
    held = cache_object(at_v1, b3(v1))
    held.chmod(0o644)
    with open(held, "r+b") as f:      # damage v1 where v2 is the same
        f.seek(MIB)
        f.write(b"\0" * 100)
    out = datavc(at_v1, "fetch", "--all-branches").stderr
    assert cache_object(at_v1, b3(v2)).read_bytes() == v2, out
    received, _ = sent(out, "fetch")
    assert received > 7, out          # fetched whole from the remote the second time


def test_a_newer_or_unreadable_layout_marker_is_refused(tmp_path: Path) -> None:
    from git_datavc.config import Settings
    from git_datavc.errors import RemoteError

    root = tmp_path / "remote"
    root.mkdir()
    settings = Settings(tmp_path, {"remote.o.url": str(root)})
    (root / "datavc-layout").write_text('{"layout": 3}\n')
    with pytest.raises(RemoteError, match="uses layout 3, newer than this git-datavc"):
        open_remote("o", settings)
    (root / "datavc-layout").write_text("garbage")
    with pytest.raises(RemoteError, match="unreadable layout marker"):
        open_remote("o", settings)
    (root / "datavc-layout").write_text('{"layout": 2}\n')
    remote = open_remote("o", settings)
    assert getattr(remote, "packed", False)
    remote.close()
    bad = Settings(tmp_path, {"remote.o.url": str(root), "remote.o.layout": "7"})
    with pytest.raises(RemoteError, match="layout must be 1 or 2"):
        open_remote("o", bad)


def test_chunks_repeated_within_a_push_are_stored_once(repo: Path, local: Store) -> None:
    # One push, two large objects: the second repeats a run of its own and most of the
    # first, so its new chunks are moved together in the pack buffer it was read into.
    a, b, c = big("ra", 3 * MIB), big("rb", 2 * MIB), big("rc", MIB)
    first, second = a + b, c + a + c + a + b
    (repo / "first.bin").write_bytes(first)
    (repo / "second.bin").write_bytes(second)
    connect_v2(repo, local)
    commit_all(repo, "repeats")
    datavc(repo, "push")
    stored = sum(remote_keys(local, "packs").values())
    assert 6 * MIB < stored < 6.5 * MIB, stored     # a, b and c once each, plus boundaries
    assert len(remote_keys(local, "packs")) == 1
    fresh, _ = clone(repo, local)
    assert (fresh / "first.bin").read_bytes() == first
    assert (fresh / "second.bin").read_bytes() == second
    assert "2 objects on remote" in datavc(fresh, "verify", "--remote").stdout
