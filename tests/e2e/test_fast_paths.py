"""The shortcuts of issue 12 keep every answer: status's tree digest, the stat cache's
racy-git rule, and the stat-cache hints a smudge leaves for big files (real git, real
filter protocol, real files)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import blake3

from tests.helpers import datavc, git


def backdate(root: Path, seconds: float = 30) -> None:
    """Move every file's mtime into the past: older than the racy window."""
    past = time.time_ns() - int(seconds * 1e9) + 789
    for dirpath, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), ns=(past, past))


def status(repo: Path) -> dict[str, list[str]]:
    return json.loads(datavc(repo, "status", "--json").stdout)


def digests(repo: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(repo / ".git" / "datavc" / "state.db")
    try:
        return list(db.execute("SELECT key, digest FROM tree_digests WHERE digest IS NOT NULL"))
    finally:
        db.close()


def added_tree(repo: Path, n: int = 30) -> Path:
    data = repo / "data"
    for i in range(n):
        path = data / f"d{i % 3}" / f"f{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"file %03d " % i * 40)
    backdate(data)
    datavc(repo, "add", "data")
    git(repo, "add", "data.datavc", ".gitignore")
    git(repo, "commit", "-q", "-m", "data")
    time.sleep(0.05)  # add's links changed ctimes: past the racy window
    return data


def clean_status(repo: Path) -> None:
    assert not any(status(repo).values()), status(repo)


# --- status: the tree digest ------------------------------------------------------------

def test_noop_status_keeps_a_digest_then_trusts_it(repo: Path) -> None:
    added_tree(repo)
    clean_status(repo)
    kept = digests(repo)
    assert len(kept) == 1 and kept[0][0].startswith("data\0")
    clean_status(repo)  # the digest path
    assert digests(repo) == kept


def test_same_size_change_with_mtime_put_back_is_seen_after_a_digest(repo: Path) -> None:
    data = added_tree(repo)
    clean_status(repo)
    assert digests(repo)
    victim = data / "d1" / "f004.txt"
    before = victim.stat()
    os.unlink(victim)  # hardlinked to the cache: write a new file, as an editor does
    victim.write_bytes(b"FILE 004 " * 40)
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert victim.stat().st_size == before.st_size
    assert status(repo)["modified"] == ["data/d1/f004.txt"]


def test_in_place_same_size_write_with_mtime_restored_is_seen(repo: Path) -> None:
    (repo / ".datavc" / "config").write_text("[cache]\n\ttype = copy\n")
    data = added_tree(repo)
    clean_status(repo)
    assert digests(repo)
    victim = data / "d2" / "f005.txt"
    before = victim.stat()
    time.sleep(0.03)  # another clock tick than the file's ctime
    with open(victim, "r+b") as f:
        f.write(b"X")
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = victim.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)
    assert status(repo)["modified"] == ["data/d2/f005.txt"]


def test_new_deleted_and_removed_object_are_seen_after_a_digest(repo: Path) -> None:
    data = added_tree(repo)
    clean_status(repo)
    (data / "d0" / "new.txt").write_bytes(b"new")
    assert status(repo)["added"] == ["data/d0/new.txt"]
    os.unlink(data / "d0" / "new.txt")
    clean_status(repo)
    os.unlink(data / "d0" / "f000.txt")
    assert status(repo)["deleted"] == ["data/d0/f000.txt"]
    datavc(repo, "checkout", "data")
    clean_status(repo)
    clean_status(repo)
    oid = blake3.blake3(b"file %03d " % 3 * 40).hexdigest()
    obj = repo / ".git" / "datavc" / "cache" / "files" / "blake3" / oid[:2] / oid[2:]
    os.chmod(obj.parent, 0o755)
    os.unlink(obj)
    assert status(repo)["not_in_cache"] == ["data/d0/f003.txt"]


def test_no_digest_while_a_file_is_racily_new(repo: Path) -> None:
    data = added_tree(repo)
    clean_status(repo)
    assert digests(repo)
    victim = data / "d0" / "f000.txt"
    soon = time.time_ns() + 3 * 10**9  # as new as the status itself, for 3 s
    os.utime(victim, ns=(soon, soon))
    clean_status(repo)  # same bytes: still clean, found by the full check
    assert digests(repo) == []  # and not vouched for by a digest
    soon = time.time_ns() - 5 * 10**9
    os.utime(victim, ns=(soon, soon))
    clean_status(repo)
    assert digests(repo)


# --- the stat cache's racy rule through add and status -----------------------------------

def test_a_file_changed_right_after_add_is_not_taken_from_the_stat_cache(repo: Path) -> None:
    data = repo / "data"
    data.mkdir()
    (data / "x.txt").write_bytes(b"AAAA")
    datavc(repo, "add", "data")  # right after writing: no stat cache row for it
    st = (data / "x.txt").stat()
    os.unlink(data / "x.txt")
    (data / "x.txt").write_bytes(b"BBBB")  # same size, mtime and inode put back if it can
    os.utime(data / "x.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert status(repo)["modified"] == ["data/x.txt"]


# --- filter mode: hints for big files a smudge checked out --------------------------------

BIG = 9 << 20  # above filters.HINT_FROM


def hints(repo: Path) -> dict[int, str]:
    db = sqlite3.connect(repo / ".git" / "datavc" / "state.db")
    try:
        return {row[0]: row[1] for row in db.execute("SELECT inode, oid FROM clean_hints")}
    finally:
        db.close()


def test_checkout_leaves_a_hint_and_the_racy_status_stays_right(repo: Path) -> None:
    v1, v2 = os.urandom(BIG), os.urandom(BIG)
    (repo / "big.bin").write_bytes(v1)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "big.bin").write_bytes(v2)
    git(repo, "commit", "-q", "-am", "v2")
    git(repo, "checkout", "-q", "HEAD~1")
    st = (repo / "big.bin").stat()
    assert (repo / "big.bin").read_bytes() == v1
    assert hints(repo).get(st.st_ino) == blake3.blake3(v1).hexdigest()
    os.utime(repo / ".git" / "index", ns=(st.st_mtime_ns, st.st_mtime_ns))  # racy entry
    assert git(repo, "status", "--porcelain").stdout == ""
    # same size, other bytes, mtime put back: git and the hint must both see it
    with open(repo / "big.bin", "r+b") as f:
        f.seek(BIG // 2)
        f.write(b"\0" * 16 if v1[BIG // 2:BIG // 2 + 16] != b"\0" * 16 else b"\1" * 16)
    os.utime(repo / "big.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.utime(repo / ".git" / "index", ns=(st.st_mtime_ns, st.st_mtime_ns))
    assert git(repo, "status", "--porcelain").stdout.strip() == "M big.bin"


def test_hash_object_of_other_bytes_is_not_answered_from_the_hint(repo: Path) -> None:
    v1 = os.urandom(BIG)
    (repo / "big.bin").write_bytes(v1)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "big.bin").unlink()
    git(repo, "checkout", "-q", "--", "big.bin")  # smudged: a hint
    assert hints(repo)
    other = os.urandom(BIG)
    (repo / "other").write_bytes(other)
    result = git(repo, "hash-object", "--path=big.bin", "other", check=False)
    # the pointer of the bytes git sent, or a refusal: never big.bin's pointer
    if result.returncode == 0:
        blob = git(repo, "rev-parse", "HEAD:big.bin").stdout.strip()
        assert result.stdout.strip() != blob
