"""Stat-cache hints for the big files a smudge checked out, so that the racy `git status`
right after a checkout does not hash them again.

git writes a smudged file, stats it and keeps that stat in the index entry of the blob it
checked out: an entry (blob B, stat S) is git's own statement that a file with stat S holds
what B smudges to. When the smudging filter process ends (git has written the files and the
index by then), every big file it smudged whose current stat equals its index entry's, and
whose entry's blob is the pointer the filter was given, is recorded in the "clean_hints"
table under that stat.

Racy-git rule: a hint is only written once the file's mtime and ctime are older than the
moment of writing by more than the timestamp granularity, so any later change of the file
gets another mtime or ctime than the one recorded. Waits up to RACY_NS for that; on a file
system with whole-second timestamps (no nanoseconds) nothing is recorded.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from typing import Callable

from .state import State

RACY_NS = 20_000_000        # > one kernel clock tick (10 ms at HZ=100), file times' grain

_DEBUG = re.compile(
    rb"\d+ ([0-9a-f]+) 0\t([^\0]*)\0"
    rb"  ctime: (\d+):(\d+)\n  mtime: (\d+):(\d+)\n  dev: \d+\tino: (\d+)\n"
    rb"  uid: \d+\tgid: \d+\n  size: (\d+)\tflags: [0-9a-f]+\n")


def blob_sha(data: bytes) -> str:
    """git's object name of a blob with these bytes (sha1 repositories)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def index_stats(listing: bytes) -> dict[str, tuple[str, tuple[int, int, int, int, int, int]]]:
    """Parse `git ls-files -s --debug -z`: path -> (blob, (ino, size, mtime s, ns, ctime s, ns))
    as git stores them (32-bit seconds, inode and size)."""
    found = {}
    for m in _DEBUG.finditer(listing):
        sha, path = m.group(1).decode(), m.group(2).decode("utf-8", "surrogateescape")
        ctime_s, ctime_ns, mtime_s, mtime_ns, ino, size = (int(g) for g in m.groups()[2:])
        found[path] = (sha, (ino, size, mtime_s, mtime_ns, ctime_s, ctime_ns))
    return found


def as_index_stat(st: os.stat_result) -> tuple[int, int, int, int, int, int]:
    """A stat in the index's terms (git truncates these fields to 32 bits)."""
    m = 0xFFFFFFFF
    return (st.st_ino & m, st.st_size & m, (st.st_mtime_ns // 10**9) & m, st.st_mtime_ns % 10**9,
            (st.st_ctime_ns // 10**9) & m, st.st_ctime_ns % 10**9)


def settled(st: os.stat_result, now_ns: int) -> bool:
    """Are the file's times older than `now_ns` by more than their grain?"""
    return max(st.st_mtime_ns, st.st_ctime_ns) < now_ns - RACY_NS


def record(root: str, hints: State, smudged: dict[str, tuple[str, str]],
           ls_files: Callable[[list[str]], bytes],
           clock: Callable[[], int] = time.time_ns) -> int:
    """Record hints for `smudged` (path -> (object id, pointer blob sha)); returns how many.
    `ls_files(paths)` gives `git ls-files -s --debug -z` output for those paths."""
    indexed = index_stats(ls_files(sorted(smudged)))
    candidates = []
    for path, (oid, sha) in smudged.items():
        entry = indexed.get(path)
        st = _lstat(os.path.join(root, path))
        if entry is None or st is None or entry[0] != sha or entry[1] != as_index_stat(st):
            continue
        if st.st_mtime_ns % 10**9 == 0 and st.st_ctime_ns % 10**9 == 0:
            continue  # whole-second timestamps: the racy window is too long to wait out
        candidates.append((path, oid, st))
    if not candidates:
        return 0
    newest = max(max(st.st_mtime_ns, st.st_ctime_ns) for _, _, st in candidates)
    wait = newest + RACY_NS - clock()
    if wait >= 0:
        time.sleep(wait / 1e9 + 0.001)
    now = clock()
    rows = []
    for path, oid, st in candidates:
        again = _lstat(os.path.join(root, path))  # the same after the wait: still git's file
        if again is not None and _same(again, st) and settled(again, now):
            rows.append((again, oid))
    hints.put_many(rows)
    hints.commit()
    return len(rows)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == \
        (b.st_ino, b.st_size, b.st_mtime_ns, b.st_ctime_ns)


def _lstat(path: str) -> os.stat_result | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None
