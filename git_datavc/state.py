"""The stat cache: (inode, size, mtime_ns, ctime_ns) -> object id, so unchanged files are not re-hashed.

A plain sqlite file under the git common dir. It is only a cache: losing it costs a re-hash.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_SCHEMA = """CREATE TABLE IF NOT EXISTS state (
    inode INTEGER PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, oid TEXT)"""


def lookup(snapshot: dict[int, tuple[int, int, int, str]], st: os.stat_result) -> str | None:
    row = snapshot.get(inode_key(st))
    if row and row[:3] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
        return row[3]
    return None


def inode_key(st: os.stat_result) -> int:
    ino = st.st_ino
    return ino - (1 << 64) if ino >= (1 << 63) else ino  # sqlite integers are signed 64-bit


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: Any = None

    def _conn(self) -> Any:
        if self._db is None:
            import sqlite3

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        return self._db

    def get(self, st: os.stat_result) -> str | None:
        row = self._conn().execute(
            "SELECT size, mtime_ns, ctime_ns, oid FROM state WHERE inode=?", (inode_key(st),)
        ).fetchone()
        if row and tuple(row[:3]) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
            return str(row[3])
        return None

    def snapshot(self) -> dict[int, tuple[int, int, int, str]]:
        """Every row at once (inode key -> size, mtime_ns, ctime_ns, oid): for big scans."""
        rows = self._conn().execute("SELECT inode, size, mtime_ns, ctime_ns, oid FROM state")
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}

    def put(self, st: os.stat_result, oid: str) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?)",
            (inode_key(st), st.st_size, st.st_mtime_ns, st.st_ctime_ns, oid))

    def forget(self, st: os.stat_result) -> None:
        self._conn().execute("DELETE FROM state WHERE inode=?", (inode_key(st),))

    def commit(self) -> None:
        if self._db is not None:
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.commit()
            self._db.close()
            self._db = None


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == \
        (b.st_ino, b.st_size, b.st_mtime_ns, b.st_ctime_ns)
