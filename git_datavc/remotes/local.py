"""A remote in a local directory (or a mounted share): `ROOT/files/blake3/ab/cdef…`.

Uploads go to `ROOT/tmp/` (same filesystem, outside `files/`, so a listing never sees a
partial object), are made read-only, and are renamed into place. Like the cache, small
objects become durable in batches: one syncfs for many files, then the renames, then one
more syncfs; an fsync per 4 KiB file would cost more than copying it. Big ones are fsynced
alone and renamed at once.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from pathlib import Path
from typing import Collection, Iterable, Iterator

from ..errors import ObjectMissing, RemoteError
from . import OBJECTS, KeyInfo, missing_by_prefix, object_key, valid_oid
from ..fsutil import copy_fd, create_temp, fsync_dir, sync_filesystem, unlink_quietly, write_all

BATCH_BELOW = 8 << 20
BATCH_FILES = 5000
BATCH_BYTES = 256 << 20
STAT_BELOW = 64          # fewer objects than this: stat each instead of listing prefixes
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class LocalRemote:
    def __init__(self, name: str, url: str, root: Path, jobs: int) -> None:
        self.name, self.url, self.root, self.jobs = name, url, Path(root), jobs
        self._objects = self.root / OBJECTS
        self._tmp = self.root / "tmp"
        self._made: set[str] = set()
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []   # (temp path, final path), not yet renamed
        self._pending_bytes = 0

    def _path(self, oid: str) -> str:
        return f"{self.root}/{object_key(oid)}"

    def missing(self, oids: Collection[str]) -> set[str]:
        if len(oids) < STAT_BELOW:
            return {oid for oid in oids if not os.path.isfile(self._path(oid))}
        return missing_by_prefix(oids, self._list_prefix, self.jobs)

    def _list_prefix(self, prefix: str) -> list[str]:
        try:
            return os.listdir(self._objects / prefix)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise self._error("cannot list", e) from None

    def upload(self, oid: str, src: str) -> None:
        source = os.open(src, os.O_RDONLY)     # an error here is the local file's: the caller's
        try:
            size = os.fstat(source).st_size
            try:
                self._ensure_dir(str(self._tmp))
                fd, tmp = create_temp(self._tmp, oid[:16] + "-", mode=0o444)
            except OSError as e:
                raise self._error("cannot write to", e) from None
            try:
                copy_fd(source, fd, size, durable=size >= BATCH_BELOW)
                if size >= BATCH_BELOW:
                    os.fsync(fd)
            except BaseException as e:
                os.close(fd)
                unlink_quietly(tmp)
                raise self._error("cannot write to", e) if isinstance(e, OSError) else e
        finally:
            os.close(source)
        os.close(fd)
        final = self._path(oid)
        if size >= BATCH_BELOW:
            self._rename(tmp, final)
            return
        with self._lock:
            self._pending.append((tmp, final))
            self._pending_bytes += size
            full = len(self._pending) >= BATCH_FILES or self._pending_bytes >= BATCH_BYTES
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending:
            return
        try:
            sync_filesystem(self._tmp)
            for tmp, final in pending:
                self._rename(tmp, final)
            sync_filesystem(self._objects)
        except BaseException:
            for tmp, _ in pending:
                unlink_quietly(tmp)
            raise

    def _rename(self, tmp: str, final: str) -> None:
        try:
            self._ensure_dir(os.path.dirname(final))
            os.rename(tmp, final)
        except OSError as e:
            raise self._error("cannot write to", e) from None

    def read_small(self, oid: str, limit: int) -> bytes | None:
        src = self._open(oid)
        try:
            size = os.fstat(src).st_size
            if size >= limit:
                return None
            chunks = []
            while chunk := os.read(src, max(size, 1 << 16)):
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError as e:
            raise self._error("cannot read from", e) from None
        finally:
            os.close(src)

    def download(self, oid: str, dst: Path) -> None:
        src = self._open(oid)
        try:
            with open(dst, "wb", buffering=0) as out:
                # durable: a big object is fsynced before it enters the cache
                copy_fd(src, out.fileno(), os.fstat(src).st_size, durable=True)
        finally:
            os.close(src)

    def _open(self, oid: str) -> int:
        try:
            return os.open(self._path(oid), os.O_RDONLY)
        except FileNotFoundError:
            if not self.root.is_dir():      # the whole remote is gone, not one object
                raise RemoteError(f"remote {self.name!r} ({self.root}) does not exist",
                                  f"fix remote.{self.name}.url, or mount it") from None
            raise ObjectMissing(f"object {oid} is not on remote {self.name!r}") from None
        except OSError as e:
            raise self._error("cannot read from", e) from None

    def delete(self, oids: Iterable[str]) -> None:
        self.delete_keys(object_key(oid) for oid in oids)

    def iter_oids(self) -> Iterator[str]:
        try:
            prefixes = sorted(os.listdir(self._objects))
        except FileNotFoundError:
            return
        except OSError as e:
            raise self._error("cannot list", e) from None
        for prefix in prefixes:
            if len(prefix) == 2:
                yield from (prefix + name for name in sorted(self._list_prefix(prefix))
                            if valid_oid(prefix + name))

    def sweep(self, older_than: float) -> int:
        removed, now = 0, time.time()
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise self._error("cannot list", e) from None
        for entry in entries:
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
            except OSError as e:
                raise self._error("cannot delete from", e) from None
        return removed

    def close(self) -> None:
        self.flush()

    # -- named files (layout v2) ------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes | memoryview) -> None:
        final = f"{self.root}/{key}"
        try:
            self._ensure_dir(str(self._tmp))
            fd, tmp = create_temp(self._tmp, key.rsplit("/", 1)[-1][:16] + "-", mode=0o444)
        except OSError as e:
            raise self._error("cannot write to", e) from None
        try:
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._rename(tmp, final)
            fsync_dir(os.path.dirname(final))
        except BaseException as e:
            unlink_quietly(tmp)
            raise self._error("cannot write to", e) if isinstance(e, OSError) else e

    def get_bytes(self, key: str) -> bytes:
        return self._read_key(key, 0, -1)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        return self._read_key(key, offset, length)

    def _read_key(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(f"{self.root}/{key}", "rb") as f:
                f.seek(offset)
                return f.read() if length < 0 else f.read(length)
        except FileNotFoundError:
            if not self.root.is_dir():
                raise RemoteError(f"remote {self.name!r} ({self.root}) does not exist",
                                  f"fix remote.{self.name}.url, or mount it") from None
            raise ObjectMissing(f"{key} is not on remote {self.name!r}") from None
        except OSError as e:
            raise self._error("cannot read from", e) from None

    def list_keys(self, folder: str) -> list[KeyInfo]:
        try:
            entries = list(os.scandir(f"{self.root}/{folder}"))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise self._error("cannot list", e) from None
        found = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append(KeyInfo(f"{folder}/{entry.name}", st.st_size, st.st_mtime))
        return sorted(found, key=lambda k: k.key)

    def delete_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                os.unlink(f"{self.root}/{key}")
            except FileNotFoundError:
                pass
            except OSError as e:
                raise self._error("cannot delete from", e) from None

    def _ensure_dir(self, path: str) -> None:
        if path not in self._made:
            os.makedirs(path, exist_ok=True)
            self._made.add(path)

    def _error(self, doing: str, e: OSError) -> RemoteError:
        reason = os.strerror(e.errno) if e.errno else str(e)
        hint = "free some space on it" if e.errno == errno.ENOSPC else ""
        return RemoteError(f"{doing} remote {self.name!r} ({self.root}): {reason}", hint)
