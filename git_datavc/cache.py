"""The content-addressed object cache: files/blake3/<2 hex>/<62 hex>, written once, read-only
(with `cache.chunked`, old large versions may instead be chunk lists: cachechunks.py).

Writes go to a temp file on the cache's own filesystem and are renamed into place only after
their bytes are on disk. Small objects are made durable in batches (one syncfs for many
files: an fsync per 4 KiB file costs more than writing it); large ones are fsynced alone.
"""

from __future__ import annotations

import itertools
import os
import stat
import threading
from pathlib import Path
from typing import IO, ContextManager, Iterable, Iterator

from .errors import CorruptObject, ObjectMissing
from .hashing import CHUNK, hash_bytes, hash_file, is_oid, new_hasher
from .fsutil import create_temp, sync_filesystem, unlink_quietly, write_all

BATCH_BELOW = 8 << 20       # objects smaller than this are synced in batches
BATCH_FILES = 20_000
BATCH_BYTES = 256 << 20
DEFER_BELOW = 256 << 10     # a deferring writer holds objects below this in memory
WRITE_BUFFER = 4 << 20      # hash and write in big slices: blake3 threads need them
SYNC_EVERY = 64 << 20     # a large object's bytes go to disk while it is still arriving
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def split_oid(oid: str) -> tuple[str, bool]:
    """('<64 hex>', is_dir) for a file or directory object id; raises on anything else."""
    base, is_dir = (oid[:-4], True) if oid.endswith(".dir") else (oid, False)
    if not is_oid(base):
        raise CorruptObject(f"invalid object id {oid!r}")
    return base, is_dir


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "files" / "blake3"
        self.tmp = self.root / "tmp"
        self._objects = str(self.objects)
        self._tmp = str(self.tmp)
        self._chunked = str(self.root / "chunked")
        self._made_dirs: set[str] = set()

    def path(self, oid: str) -> Path:
        return Path(self.path_str(oid))

    def path_str(self, oid: str) -> str:
        """The object's path as a string (hot loops skip pathlib)."""
        split_oid(oid)
        return f"{self._objects}/{oid[:2]}/{oid[2:]}"

    def has(self, oid: str) -> bool:
        """Whether the object is in the cache, whole or as a chunk list (cachechunks)."""
        path = self.path_str(oid)
        return os.path.isfile(path) or os.path.isfile(f"{self._chunked}/{oid[:2]}/{oid[2:]}")

    def has_whole(self, oid: str) -> bool:
        """Whether the object is in files/blake3 as a whole file."""
        return os.path.isfile(self.path_str(oid))

    def present(self, oids: Iterable[str]) -> set[str]:
        """Which of `oids` are in the cache (whole or chunked): a stat each for a few, one
        listing for many."""
        oids = set(oids)
        if len(oids) < 2000:
            return {oid for oid in oids if self.has(oid)}
        found: set[str] = set()
        for folder in (self._objects, self._chunked):
            if folder == self._chunked and not os.path.isdir(folder):
                continue
            for prefix in {oid[:2] for oid in oids}:
                try:
                    names = os.listdir(f"{folder}/{prefix}")
                except FileNotFoundError:
                    continue
                found.update(prefix + name for name in names)
        return oids & found

    def whole(self, oid: str) -> str:
        """The path of the object as a whole file (for a link or an upload): a chunked
        object is rebuilt first, each chunk and then the whole checked."""
        path = self.path_str(oid)
        if os.path.isfile(path):
            return path
        from . import cachechunks

        try:
            cachechunks.rebuild(self, oid)
        except ObjectMissing:
            if not os.path.isfile(path):    # (another process may have rebuilt it first)
                raise
        return path

    def ensure_dir_for(self, oid: str) -> None:
        self._ensure_dir(f"{self._objects}/{oid[:2]}")

    def readable(self, oid: str) -> ContextManager[str]:
        """A path with the object's bytes while the block runs (an upload's source): a
        chunked object is rebuilt into a temp file, not back into the cache."""
        from . import cachechunks

        return cachechunks.readable(self, oid)

    def open(self, oid: str) -> IO[bytes]:
        """The object's bytes; a chunked one is streamed from its chunks (each checked)."""
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError:
            from . import cachechunks

            return cachechunks.open_chunked(self, oid)   # ObjectMissing if not there either

    def size(self, oid: str) -> int:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            from . import cachechunks

            if not cachechunks.is_chunked(self, oid):
                raise
            return cachechunks.read_list(self, oid).size

    def iter_oids(self) -> Iterator[str]:
        if not self.objects.is_dir():
            return
        for prefix in sorted(os.listdir(self.objects)):
            if len(prefix) != 2:
                continue
            for rest in sorted(os.listdir(self.objects / prefix)):
                oid = prefix + rest
                try:
                    split_oid(oid)
                except CorruptObject:
                    continue
                yield oid

    def verify(self, oid: str) -> bool:
        """Re-hash one object: True when its bytes match its id."""
        base, _ = split_oid(oid)
        return hash_file(self.path(oid))[0] == base

    def writer(self, auto_flush: bool = True, deferred: bool = False) -> "Writer":
        return Writer(self, auto_flush, deferred)

    def add_bytes(self, data: bytes) -> str:
        with self.writer() as w:
            return w.add_chunks([data], len(data))[0]

    def add_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Copy a file into the cache, hashing while copying; returns (oid, size)."""
        with open(path, "rb", buffering=0) as f, self.writer() as w:
            size = os.fstat(f.fileno()).st_size
            return w.add_chunks(_read_chunks(f), size)

    def publish_verified(self, tmp_path: str, oid: str) -> None:
        """Move a file under `self.tmp` whose bytes the caller checked against `oid` (a fetched
        object) into place: durable, read-only, then renamed."""
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            os.fchmod(fd, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._publish(tmp_path, oid)

    def _ensure_dir(self, path: Path | str) -> None:
        key = str(path)
        if key not in self._made_dirs:
            os.makedirs(key, exist_ok=True)
            self._made_dirs.add(key)

    def tempfile(self, mode: int = 0o600) -> tuple[int, str]:
        """A new temp file (fd, path) in the cache's tmp dir (a read-only `mode` still
        gives a writable fd)."""
        self._ensure_dir(self._tmp)
        return create_temp(self._tmp, "obj-", mode)

    def _publish(self, tmp_path: str, oid: str) -> None:
        folder = f"{self._objects}/{oid[:2]}"
        self._ensure_dir(folder)
        os.rename(tmp_path, f"{folder}/{oid[2:]}")

    def _has_own(self, oid: str) -> bool:
        """`has` for an id this process computed (no need to validate it)."""
        return os.path.isfile(f"{self._objects}/{oid[:2]}/{oid[2:]}")


def _read_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


class Writer:
    """Adds objects to a cache; small ones become visible at `flush()` (or on exit).

    `deferred`: small objects are only hashed by `add_chunks`; their temp files are written
    by the next `write_deferred()` (or `flush()`). The filter process answers git first
    and writes after, so the kernel creates our files while git works on its side (two
    cores busy instead of one after the other). Durability is unchanged: nothing is
    visible before `flush()` synced it; a failed write fails the next `add_chunks`."""

    def __init__(self, cache: Cache, auto_flush: bool = True, deferred: bool = False) -> None:
        self.cache = cache
        self.auto_flush = auto_flush
        self.pending: dict[str, str] = {}   # oid -> temp path, not yet renamed
        self.pending_bytes = 0
        self._lock = threading.RLock()      # add_chunks may run in several threads
        self.deferred: dict[str, bytes] | None = {} if deferred else None
        self._error: BaseException | None = None   # of a deferred write

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.flush()
        else:
            self.discard()

    def has(self, oid: str) -> bool:
        """Whether `oid` is stored whole (a chunked object is written whole again: whoever
        adds it uses it)."""
        return oid in self.pending or (self.deferred is not None and oid in self.deferred) \
            or self.cache.has_whole(oid)

    def add_chunks(self, chunks: Iterable[bytes], size_hint: int = 0,
                   suffix: str = "") -> tuple[str, int]:
        """Store the bytes of `chunks`; returns (oid, size). `suffix` is ".dir" for manifests.
        Content that fits in one write buffer is hashed first: when the object exists
        already, no file is created at all."""
        it = iter(chunks)
        head = bytearray()
        for chunk in it:
            head += chunk
            if len(head) >= WRITE_BUFFER:
                break
        else:
            data = bytes(head)
            oid = hash_bytes(data) + suffix
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if oid in self.pending or self.cache._has_own(oid):
                return oid, len(data)
            if self.deferred is not None and len(data) < DEFER_BELOW:
                self.deferred[oid] = data
                return oid, len(data)
            return self._store_small(data, oid)
        return self._store_stream(itertools.chain([bytes(head)], it), size_hint, suffix)

    def store_verified(self, data: bytes, oid: str) -> None:
        """Store bytes the caller has checked against `oid` (a fetched object)."""
        self._store_small(data, oid)

    def _store_small(self, data: bytes, oid: str) -> tuple[str, int]:
        tmp_path = self._write_temp(data)
        return self._finish(tmp_path, oid, len(data))

    def _write_temp(self, data: bytes) -> str:
        """A read-only temp file holding `data` (fsynced when it is too big to batch)."""
        fd, tmp_path = self.cache.tempfile(READ_ONLY)
        try:
            try:
                write_all(fd, data)
                if len(data) >= BATCH_BELOW:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            unlink_quietly(tmp_path)
            raise
        return tmp_path

    def _store_stream(self, chunks: Iterable[bytes], size_hint: int,
                      suffix: str) -> tuple[str, int]:
        fd, tmp_path = self.cache.tempfile()
        try:
            try:
                oid, size = _hash_into(fd, chunks, size_hint)
                oid += suffix
                os.fchmod(fd, READ_ONLY)
                if size >= BATCH_BELOW and not self.has(oid):
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            unlink_quietly(tmp_path)
            raise
        return self._finish(tmp_path, oid, size)

    def _finish(self, tmp_path: str, oid: str, size: int) -> tuple[str, int]:
        """Publish a written temp file: big ones now (fsynced), small ones in the batch."""
        if size >= BATCH_BELOW:
            if self.has(oid):
                unlink_quietly(tmp_path)
            else:
                self.cache._publish(tmp_path, oid)
            return oid, size
        with self._lock:
            if self.has(oid):
                unlink_quietly(tmp_path)
                return oid, size
            self.pending[oid] = tmp_path
            self.pending_bytes += size
            if self.auto_flush and self.over_limit():
                self.flush()
        return oid, size

    def write_deferred(self) -> None:
        """Write the temp files of the objects `add_chunks` deferred; a failure is kept
        for the next `add_chunks` (or raised by `flush`)."""
        if not self.deferred:
            return
        todo, self.deferred = self.deferred, {}
        try:
            for oid, data in todo.items():
                if oid not in self.pending:
                    self.pending[oid] = self._write_temp(data)
                    self.pending_bytes += len(data)
        except (OSError, MemoryError) as e:
            self._error = e

    def over_limit(self) -> bool:
        return len(self.pending) >= BATCH_FILES or self.pending_bytes >= BATCH_BYTES

    def adopt(self, pending: dict[str, str]) -> None:
        """Take over objects another writer (a worker process) left pending."""
        with self._lock:
            for oid, tmp_path in pending.items():
                if oid in self.pending:
                    unlink_quietly(tmp_path)
                else:
                    self.pending[oid] = tmp_path

    def flush(self) -> None:
        """Make every pending object durable, then visible (rename), then the renames durable."""
        self.write_deferred()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        with self._lock:
            if not self.pending:
                return
            sync_filesystem(self.cache.tmp)
            for oid, tmp_path in self.pending.items():
                self.cache._publish(tmp_path, oid)
            sync_filesystem(self.cache.objects)
            self.pending.clear()
            self.pending_bytes = 0

    def discard(self) -> None:
        if self.deferred:
            self.deferred.clear()
        for tmp_path in self.pending.values():
            unlink_quietly(tmp_path)
        self.pending.clear()
        self.pending_bytes = 0


def _hash_into(fd: int, chunks: Iterable[bytes], size_hint: int) -> tuple[str, int]:
    """Hash while a second thread writes (and flushes to disk as it goes, so the final
    fsync of a large object has little left to do)."""
    import queue

    hasher = new_hasher(size_hint)
    slices: queue.Queue[bytes | None] = queue.Queue(maxsize=4)  # memory: 4 slices at most
    failure: list[BaseException] = []

    def write() -> None:
        written = 0
        while (data := slices.get()) is not None:
            if failure:
                continue
            try:
                write_all(fd, data)
                written += len(data)
                if written >= SYNC_EVERY:
                    os.fdatasync(fd)
                    written = 0
            except BaseException as e:  # reported in the caller's thread
                failure.append(e)

    writer = threading.Thread(target=write, name="datavc-cache-write", daemon=True)
    writer.start()
    size = 0
    try:
        parts: list[bytes] = []
        pending = 0
        for chunk in chunks:
            parts.append(chunk)
            pending += len(chunk)
            if pending >= WRITE_BUFFER:
                data = b"".join(parts)
                parts, pending = [], 0
                hasher.update(data)
                slices.put(data)
                size += len(data)
                if failure:
                    break
        if parts and not failure:
            data = b"".join(parts)
            hasher.update(data)
            slices.put(data)
            size += len(data)
    finally:
        slices.put(None)
        writer.join()
    if failure:
        raise failure[0]
    return str(hasher.hexdigest()), size
