"""The stat cache: (inode, size, mtime_ns, ctime_ns) -> object id, so unchanged files are not re-hashed.

A plain sqlite file under the git common dir. It is only a cache: losing it costs a re-hash.

Racy-git rule: a row is only written for a file whose mtime is older than the moment of
writing by more than the file times' grain (RACY_NS). A file changed again within the
same clock tick as the content we saw keeps its mtime; any later change moves it. Files
too new are left out and hashed again next time (git re-checks its racy entries alike).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

_SCHEMA = """CREATE TABLE IF NOT EXISTS {table} (
    inode INTEGER PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, oid TEXT)"""


RACY_NS = 20_000_000   # > one kernel clock tick (10 ms at HZ=100); whole-second file
                       # systems: nanoseconds 0, see settled()


def settled(st: os.stat_result, now_ns: int | None = None) -> bool:
    """Is the file's mtime old enough, at `now_ns`, for its stat to stand for its bytes?"""
    now_ns = time.time_ns() if now_ns is None else now_ns
    mtime = st.st_mtime_ns if st.st_mtime_ns is not None else int(st.st_mtime * 1e9)
    grain = RACY_NS if mtime % 1_000_000_000 else 2_000_000_000
    return mtime < now_ns - grain


def lookup(snapshot: dict[int, tuple[int, int, int, str]], st: os.stat_result) -> str | None:
    row = snapshot.get(inode_key(st))
    if row and row[:3] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
        return row[3]
    return None


def inode_key(st: os.stat_result) -> int:
    ino = st.st_ino
    return ino - (1 << 64) if ino >= (1 << 63) else ino  # sqlite integers are signed 64-bit


class State:
    """`table` "state" is trusted: what it says a file holds, it holds. The filter keeps
    its hints in "clean_hints" instead, because git may clean bytes that are not the file
    at the path it names (`git hash-object --path`), and it re-hashes to check them."""

    def __init__(self, path: Path, table: str = "state") -> None:
        if table not in ("state", "clean_hints"):
            raise ValueError(table)
        self.path = path
        self.table = table
        self._db: Any = None

    def _conn(self) -> Any:
        if self._db is None:
            import sqlite3

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level="DEFERRED")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA.format(table=self.table))
            self._db.execute("CREATE TABLE IF NOT EXISTS manifests (key TEXT PRIMARY KEY)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS blob_refs (blob TEXT PRIMARY KEY, oid TEXT)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS tree_digests (key TEXT PRIMARY KEY, digest TEXT)")
        return self._db

    def get(self, st: os.stat_result) -> str | None:
        try:
            row = self._conn().execute(
                f"SELECT size, mtime_ns, ctime_ns, oid FROM {self.table} WHERE inode=?",
                (inode_key(st),)).fetchone()
        except Exception as e:  # a locked or damaged cache is only a missed shortcut
            _tolerate(e)
            return None
        if row and tuple(row[:3]) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
            return str(row[3])
        return None

    def snapshot(self) -> dict[int, tuple[int, int, int, str]]:
        """Every row at once (inode key -> size, mtime_ns, ctime_ns, oid): for big scans."""
        rows = self._conn().execute(f"SELECT inode, size, mtime_ns, ctime_ns, oid FROM {self.table}")
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}

    def put(self, st: os.stat_result, oid: str) -> None:
        self.put_many([(st, oid)])

    def put_many(self, rows: list[tuple[os.stat_result, str]]) -> None:
        """Record rows, leaving out files too new to trust (see the module docstring)."""
        now = time.time_ns()
        try:
            self._conn().executemany(
                f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?, ?, ?, ?)",
                [(inode_key(st), st.st_size, st.st_mtime_ns, st.st_ctime_ns, oid)
                 for st, oid in rows if settled(st, now)])
        except Exception as e:
            _tolerate(e)

    def is_valid_manifest(self, key: str) -> bool:
        try:
            return self._conn().execute("SELECT 1 FROM manifests WHERE key=?",
                                        (key,)).fetchone() is not None
        except Exception as e:
            _tolerate(e)
            return False

    def mark_valid_manifest(self, key: str) -> None:
        try:
            self._conn().execute("INSERT OR IGNORE INTO manifests VALUES (?)", (key,))
        except Exception as e:
            _tolerate(e)

    def blob_refs(self) -> dict[str, str]:
        """git blob id -> the object id its pointer names ("" when it is no pointer). Blobs
        never change, so `needs` scans of history read each blob once."""
        try:
            return dict(self._conn().execute("SELECT blob, oid FROM blob_refs"))
        except Exception as e:
            _tolerate(e)
            return {}

    def add_blob_refs(self, rows: list[tuple[str, str]]) -> None:
        try:
            self._conn().executemany("INSERT OR REPLACE INTO blob_refs VALUES (?, ?)", rows)
        except Exception as e:
            _tolerate(e)

    def tree_digest(self, key: str) -> str | None:
        """The stat digest of a directory out last found unchanged (treedigest)."""
        try:
            row = self._conn().execute("SELECT digest FROM tree_digests WHERE key=?",
                                       (key,)).fetchone()
        except Exception as e:
            _tolerate(e)
            return None
        return str(row[0]) if row else None

    def put_tree_digest(self, key: str, digest: str | None) -> None:
        try:
            if digest is None:
                self._conn().execute("DELETE FROM tree_digests WHERE key=?", (key,))
            else:
                self._conn().execute("INSERT OR REPLACE INTO tree_digests VALUES (?, ?)",
                                     (key, digest))
        except Exception as e:
            _tolerate(e)

    def forget(self, st: os.stat_result) -> None:
        try:
            self._conn().execute(f"DELETE FROM {self.table} WHERE inode=?", (inode_key(st),))
        except Exception as e:
            _tolerate(e)

    def commit(self) -> None:
        if self._db is not None:
            try:
                self._db.commit()
            except Exception as e:
                _tolerate(e)
                self._db.rollback()

    def close(self) -> None:
        if self._db is not None:
            self.commit()
            self._db.close()
            self._db = None


def _tolerate(e: Exception) -> None:
    """sqlite errors (a lock held too long, a damaged file) cost a re-hash, not the command."""
    import sqlite3

    if not isinstance(e, sqlite3.Error):
        raise e
    from .output import warn

    warn(f"stat cache unavailable ({e}); files will be re-hashed")


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == \
        (b.st_ino, b.st_size, b.st_mtime_ns, b.st_ctime_ns)
