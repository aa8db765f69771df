"""cache.chunked end to end: three versions of an 8 MiB file with small edits, committed in
metafile mode and in filter mode; `git datavc gc` keeps the old ones as chunk lists, git
checkout of each rebuilds it whole (links keep working), verify checks the chunks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import blake3
import pytest

from tests.helpers import cache_object, datavc, git

MIB = 1 << 20
SIZE = 8 * MIB


def versions() -> list[bytes]:
    v1 = blake3.blake3(b"chunked cache e2e").digest(length=SIZE)
    v2 = v1[:2 * MIB] + b"edit two" * 64 + v1[2 * MIB + 512:]
    v3 = v2[:5 * MIB] + b"inserted, not replaced" + v2[5 * MIB:-22]
    return [v1, v2, v3]


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def cache_root(repo: Path) -> Path:
    return repo / ".git" / "datavc" / "cache"


def du(path: Path) -> int:
    """Bytes the files below `path` take on disk (blocks, as du counts them)."""
    seen, total = set(), 0
    for folder, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def new_repo(tmp_path: Path, name: str, cache_settings: str) -> Path:
    """A repository with `git datavc init` and these `[cache]` settings, one per line."""
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q")
    datavc(repo, "init")
    lines = "".join(f"\t{line}\n" for line in cache_settings.splitlines())
    (repo / ".datavc" / "config.local").write_text(f"[cache]\n{lines}")
    return repo


def make_repo(tmp_path: Path, mode: str, link: str) -> tuple[Path, list[str]]:
    repo = new_repo(tmp_path, mode, f"chunked = true\ntype = {link}")
    if mode == "filter":
        datavc(repo, "track", "*.bin")
    commits = []
    for n, data in enumerate(versions()):
        (repo / "big.bin").unlink(missing_ok=True)
        (repo / "big.bin").write_bytes(data)
        if mode == "metafile":
            datavc(repo, "add", "big.bin")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"v{n + 1}")
        commits.append(git(repo, "rev-parse", "HEAD").stdout.strip())
    return repo, commits


@pytest.mark.parametrize("mode,link", [("metafile", "hardlink"), ("metafile", "copy"),
                                       ("filter", "hardlink")])
def test_old_versions_chunked_and_checked_out_whole(tmp_path: Path, mode: str,
                                                    link: str) -> None:
    repo, commits = make_repo(tmp_path, mode, link)
    data = versions()
    before = du(cache_root(repo))
    assert before >= 3 * SIZE
    out = datavc(repo, "gc")
    assert "chunked 2 versions" in out.stderr, out.stderr
    after = du(cache_root(repo))
    assert after < 2.2 * SIZE, (before, after)       # v3 whole + v1 chunks + edited chunks
    assert cache_object(repo, b3(data[2])).is_file()
    assert not cache_object(repo, b3(data[0])).exists()
    out = datavc(repo, "verify")
    assert "3 objects" in out.stdout and "2 of them chunked" in out.stdout, out.stdout
    for rev, want in zip(commits, data):
        git(repo, "checkout", "-q", rev)
        got = repo / "big.bin"
        assert got.read_bytes() == want
        obj = cache_object(repo, b3(want))
        assert obj.is_file()                     # the checked-out version is whole again
        if link == "hardlink":
            assert os.stat(got).st_ino == os.stat(obj).st_ino
    git(repo, "checkout", "-q", "main")
    assert (repo / "big.bin").read_bytes() == data[2]
    out = datavc(repo, "gc")                     # the rebuilt old versions are chunked again
    assert "chunked 2 versions" in out.stderr, out.stderr
    assert du(cache_root(repo)) < 2.2 * SIZE
    assert git(repo, "status", "--porcelain").stdout == ""
    datavc(repo, "verify")


def test_corrupt_chunk_is_named_and_never_checked_out(tmp_path: Path) -> None:
    repo, commits = make_repo(tmp_path, "metafile", "copy")
    data = versions()
    datavc(repo, "gc")
    chunks = cache_root(repo) / "chunks" / "blake3"
    v1_only = _chunks_only_in_v1(repo)
    victim = chunks / v1_only[:2] / v1_only[2:]
    victim.chmod(0o644)
    raw = bytearray(victim.read_bytes())
    raw[100] ^= 0x55
    victim.write_bytes(bytes(raw))
    out = datavc(repo, "verify", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert v1_only in out.stderr and b3(data[0]) in out.stderr, out.stderr
    assert b3(data[1]) not in out.stderr
    hook = git(repo, "checkout", "-q", commits[0], check=False)
    assert v1_only in hook.stderr and "Traceback" not in hook.stderr, hook.stderr
    got = repo / "big.bin"
    assert got.read_bytes() == data[2]           # nothing rebuilt: the file is left alone
    assert not cache_object(repo, b3(data[0])).exists()
    out = datavc(repo, "checkout", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert v1_only in out.stderr, out.stderr
    git(repo, "checkout", "-q", commits[1])       # v2 shares no damaged chunk: fine
    assert got.read_bytes() == data[1]


def test_filter_mode_copy_smudges_from_chunks(tmp_path: Path) -> None:
    """Without links nothing needs a whole file: the smudge filter streams the chunks."""
    repo, commits = make_repo(tmp_path, "filter", "copy")
    data = versions()
    datavc(repo, "gc")
    git(repo, "checkout", "-q", commits[0])
    assert (repo / "big.bin").read_bytes() == data[0]
    assert git(repo, "status", "--porcelain").stdout == ""
    datavc(repo, "verify")


def _chunks_only_in_v1(repo: Path) -> str:
    from git_datavc import cachechunks
    from git_datavc.cache import Cache

    cache = Cache(cache_root(repo))
    v1, v2 = (b3(d) for d in versions()[:2])
    first = {cid for cid, _ in cachechunks.read_list(cache, v1).chunks}
    second = {cid for cid, _ in cachechunks.read_list(cache, v2).chunks}
    return sorted(first - second)[0]


@pytest.mark.parametrize("layout", ["1", "2"])
def test_push_of_chunked_versions_and_fetch_into_a_fresh_clone(tmp_path: Path,
                                                               layout: str) -> None:
    repo, commits = make_repo(tmp_path, "metafile", "copy")
    data = versions()
    datavc(repo, "gc")
    store = tmp_path / "store"
    datavc(repo, "remote", "add", "--local", "-d", "store", str(store), "--layout", layout)
    datavc(repo, "push", "--all-commits")
    assert not cache_object(repo, b3(data[0])).exists()   # pushed from its chunks
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    datavc(clone, "init")
    datavc(clone, "remote", "add", "--local", "-d", "store", str(store))
    git(clone, "checkout", "-q", commits[0])
    datavc(clone, "pull", "--all-commits")
    assert (clone / "big.bin").read_bytes() == data[0]
    for rev, want in zip(commits, data):
        git(clone, "checkout", "-q", rev)
        assert (clone / "big.bin").read_bytes() == want
    datavc(clone, "verify")


@pytest.mark.parametrize("damaged", [False, True])
def test_pull_of_a_new_version_reads_only_the_chunks_the_chunk_store_lacks(
        tmp_path: Path, damaged: bool) -> None:
    """A clone whose v1 is a chunk list (cache.chunked, after gc) pulls v2 from a layout-2
    remote: the chunks v2 shares with v1 come from the local chunk store, not the remote.
    A damaged local chunk costs a second read from the remote, never a wrong object."""
    repo, commits = make_repo(tmp_path, "metafile", "copy")
    data = versions()
    store = tmp_path / "store"
    datavc(repo, "remote", "add", "--local", "-d", "store", str(store), "--layout", "2")
    datavc(repo, "push", "--all-commits")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    datavc(clone, "init")
    (clone / ".datavc" / "config.local").write_text("[cache]\n\tchunked = true\n")
    datavc(clone, "remote", "add", "--local", "-d", "store", str(store))
    git(clone, "checkout", "-q", commits[0])
    datavc(clone, "pull")
    # to v2 without the post-checkout hook, which would fetch v2 while v1 is still whole
    git(clone, "-c", "core.hooksPath=no-hooks", "checkout", "-q", commits[1])
    (clone / "big.bin").unlink()
    datavc(clone, "gc")
    assert not cache_object(clone, b3(data[0])).exists()      # v1 only as chunks now
    if damaged:
        chunk = sorted((cache_root(clone) / "chunks").rglob("*/*/*"))[0]
        chunk.chmod(0o644)
        chunk.write_bytes(b"x" * chunk.stat().st_size)
    pulled = datavc(clone, "pull")
    out = pulled.stdout + pulled.stderr
    line = next((x for x in out.splitlines() if "received" in x), out)
    found = re.search(r"fetch: ([0-9.]+) (B|KiB|MiB) of 8.0 MiB received", line)
    assert found, out
    got, unit = found.groups()
    received = float(got) * {"B": 1, "KiB": 1 << 10, "MiB": MIB}[unit]
    assert (received > SIZE) if damaged else (received < MIB), line
    assert (clone / "big.bin").read_bytes() == data[1]
    checked = datavc(clone, "verify", check=False)     # v1's damaged chunk is still named
    assert checked.returncode == (1 if damaged else 0), checked.stdout + checked.stderr


def test_gc_dry_then_narrowed_gc_drops_lists_and_their_chunks(tmp_path: Path) -> None:
    repo, commits = make_repo(tmp_path, "metafile", "copy")
    data = versions()
    before = du(cache_root(repo))
    out = datavc(repo, "gc", "--dry")
    assert "would chunk 2 versions" in out.stderr, out.stderr
    assert du(cache_root(repo)) == before
    datavc(repo, "gc")
    assert du(cache_root(repo)) > 1.9 * SIZE
    out = datavc(repo, "gc", "-w")               # only the workspace's version is kept
    assert "deleted 2 cache objects" in out.stderr, out.stderr
    assert "chunks" in out.stderr and "no chunk list needs" in out.stderr, out.stderr
    assert du(cache_root(repo)) < 1.05 * SIZE
    assert not list((cache_root(repo) / "chunked").rglob("*/*"))
    assert not list((cache_root(repo) / "chunks").rglob("*/*/*"))
    assert (repo / "big.bin").read_bytes() == data[2]
    out = datavc(repo, "verify")
    assert "1 objects" in out.stdout, out.stdout


def _sharing_repo(tmp_path: Path, name: str, cache: Path) -> Path:
    return new_repo(tmp_path, name, f"dir = {cache}\nchunked = true\ntype = copy")


def _commit(repo: Path, name: str, data: bytes) -> None:
    (repo / name).unlink(missing_ok=True)
    (repo / name).write_bytes(data)
    datavc(repo, "add", name)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", name)


def test_gc_with_projects_keeps_what_repositories_sharing_the_cache_need(
        tmp_path: Path) -> None:
    shared = tmp_path / "shared-cache"
    a, b = _sharing_repo(tmp_path, "a", shared), _sharing_repo(tmp_path, "b", shared)
    v1, v2, _ = versions()
    _commit(a, "own.bin", b"a's own data\n" * 1000)
    _commit(b, "big.bin", v1)
    _commit(b, "big.bin", v2)
    whole = shared / "files" / "blake3"
    object_of = lambda data: whole / b3(data)[:2] / b3(data)[2:]  # noqa: E731
    # Alone, a's gc sees only a: b's versions would go (DVC's gc without -p does the same).
    listed = datavc(a, "gc", "--dry").stdout.split()
    assert b3(v1) in listed and b3(v2) in listed
    # With -p b, both of b's versions are kept; the one b's worktree uses stays whole, the
    # old one becomes a chunk list (b's own gc would do the same).
    out = datavc(a, "gc", "-p", str(b), str(b / ".datavc"))     # b named twice: once
    assert "deleted 0 cache objects" in out.stderr, out.stderr
    assert "chunked 1 versions" in out.stderr, out.stderr
    assert object_of(v2).is_file() and not object_of(v1).exists()
    assert (shared / "chunked").is_dir()
    git(b, "checkout", "-q", "HEAD~1")
    assert (b / "big.bin").read_bytes() == v1
    assert "3 objects" in datavc(b, "verify").stdout


def test_gc_projects_must_share_the_cache(tmp_path: Path) -> None:
    a = _sharing_repo(tmp_path, "a", tmp_path / "one")
    c = _sharing_repo(tmp_path, "c", tmp_path / "other")
    _commit(a, "own.bin", b"kept\n")
    for path, why in ((str(tmp_path / "nowhere"), "not a git repository"),
                      (str(c), "its cache is")):
        out = datavc(a, "gc", "-p", path, check=False)
        assert out.returncode == 1 and out.stderr.startswith("error: "), out.stderr
        assert why in out.stderr and "nothing was deleted" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
