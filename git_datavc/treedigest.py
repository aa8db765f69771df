"""A no-op `status` of a big directory out in one stat walk: a digest of every entry's stat.

When status finds a directory out equal to its manifest (every object present), it keeps
a digest of the stat data (name, mode, inode, size, mtime_ns, ctime_ns) of everything below
it and of the cache's object folders, under the out's path and manifest id. The next status
walks the tree (one lstat per file, no per-file lookups, no hashing, no stat cache load):
the same digest means nothing changed, so the earlier answer stands.

Safe as the stat cache is: any write to a file moves its mtime and ctime, a rename or
delete changes a name or an inode, a new file adds a row, a removed object changes its
folder in the cache. Racy-git: a digest is only kept when every mtime and ctime in it is
older than the walk by more than the file times' grain (state.settled), and the tree gave
the same digest before and after the full check.
"""

from __future__ import annotations

import os
from array import array
from typing import Iterable

from .state import RACY_NS

_INO = (1 << 63) - 1    # array "q" is signed 64-bit


class Walk:
    """One walk's digest, and the newest mtime/ctime it saw."""

    def __init__(self, top: str, cache_dirs: Iterable[str]) -> None:
        from hashlib import blake2b

        h = blake2b(digest_size=20)
        newest = 0
        whole_seconds = True
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
                sts = [e.stat(follow_symlinks=False) for e in entries]
            except FileNotFoundError:
                h.update(folder.encode("utf-8", "surrogateescape") + b"\0missing\0")
                continue
            stack += [e.path for e in entries
                      if e.is_dir(follow_symlinks=False) and e.name != ".git"]
            h.update(folder.encode("utf-8", "surrogateescape") + b"\0")
            h.update("\0".join([e.name for e in entries]).encode("utf-8", "surrogateescape"))
            mtimes = array("q", [s.st_mtime_ns for s in sts])
            ctimes = array("q", [s.st_ctime_ns for s in sts])
            for column in (array("q", [s.st_mode for s in sts]),
                           array("q", [s.st_ino & _INO for s in sts]),
                           array("q", [s.st_size for s in sts]), mtimes, ctimes):
                h.update(column.tobytes())
            if sts:
                newest = max(newest, max(mtimes), max(ctimes))
                whole_seconds = whole_seconds and not any(t % 1_000_000_000 for t in mtimes)
        h.update(cache_stamp(cache_dirs).encode())
        self.digest = h.hexdigest()
        self.newest_ns = newest
        self.grain = 2_000_000_000 if whole_seconds else RACY_NS

    def settled(self, now_ns: int) -> bool:
        return self.newest_ns < now_ns - self.grain


def cache_stamp(folders: Iterable[str]) -> str:
    """A digest of the cache's object folders' stat data: it moves when an object goes."""
    from hashlib import blake2b

    h = blake2b(digest_size=20)
    for folder in folders:
        try:
            st = os.stat(folder)
            h.update(array("q", (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)).tobytes())
        except FileNotFoundError:
            h.update(b"-")
    return h.hexdigest()


def cache_dirs(objects: str) -> list[str]:
    """Every object folder of the cache (a removed object changes its folder's mtime)."""
    return [objects] + [f"{objects}/{i:02x}" for i in range(256)]
