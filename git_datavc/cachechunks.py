"""Chunked cache objects (`cache.chunked`): old versions of large files kept as chunk lists.

An object of CHUNK_FROM bytes or more that the workspace does not use can be stored as a
*chunk list* `chunked/<2 hex>/<62 hex>` over a local chunk store `chunks/blake3/<2>/<62>`
(whole raw chunks, cut by FastCDC like layout-2 packs): ten versions of a big file with
small edits then cost about one file plus the edited chunks. The object's BLAKE3 stays its
identity: `Cache.has` counts a chunked object as present, `Cache.open` streams it from its
chunks, and `Cache.whole` rebuilds the whole file (each chunk and then the whole object
checked against its hash, temp file, fsync, rename) when a link or an upload needs one.

A chunk list is `MAGIC`, the object's size and chunk count, then (id, length) per chunk,
then the BLAKE3 of everything before it, so a torn or damaged list is told apart from a
damaged chunk. Order of writes when converting: chunks durable (each chunk hashed as it is
cut, the whole object too, chunks already stored read back and checked), then the list, and
only then is the whole file deleted.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Iterable, Iterator

from .errors import CorruptObject, ObjectMissing
from .fsutil import fsync_dir, sync_filesystem, unlink_quietly, write_all

if TYPE_CHECKING:
    from .cache import Cache

MAGIC = b"DVCCHKL1"
_HEAD = struct.Struct(">8sQI")      # magic, object size, chunk count
_ENTRY = struct.Struct(">32sI")     # chunk id, length
_SUM = 32
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class ChunkList:
    oid: str
    size: int
    chunks: list[tuple[str, int]]   # (chunk id, length), in order


def list_path(cache: "Cache", oid: str) -> str:
    return f"{cache.root}/chunked/{oid[:2]}/{oid[2:]}"


def chunk_path(cache: "Cache", cid: str) -> str:
    return f"{cache.root}/chunks/blake3/{cid[:2]}/{cid[2:]}"


def encode(size: int, chunks: list[tuple[str, int]]) -> bytes:
    import blake3

    body = _HEAD.pack(MAGIC, size, len(chunks)) + b"".join(
        _ENTRY.pack(bytes.fromhex(cid), length) for cid, length in chunks)
    return body + blake3.blake3(body).digest()


def decode(data: bytes, oid: str) -> ChunkList:
    import blake3

    bad = CorruptObject(f"chunk list of {oid[:12]} is damaged",
                        "delete it (`chunked/` in the cache) and fetch the object again")
    if len(data) < _HEAD.size + _SUM or blake3.blake3(data[:-_SUM]).digest() != data[-_SUM:]:
        raise bad
    magic, size, count = _HEAD.unpack_from(data)
    if magic != MAGIC or len(data) != _HEAD.size + count * _ENTRY.size + _SUM:
        raise bad
    chunks = [(cid.hex(), length) for cid, length in
              _ENTRY.iter_unpack(data[_HEAD.size:-_SUM])]
    if sum(length for _, length in chunks) != size:
        raise bad
    return ChunkList(oid, size, chunks)


def read_list(cache: "Cache", oid: str) -> ChunkList:
    try:
        with open(list_path(cache, oid), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ObjectMissing(f"object {oid} is not in the cache") from None
    return decode(data, oid)


def is_chunked(cache: "Cache", oid: str) -> bool:
    return os.path.isfile(list_path(cache, oid))


def _iter_names(folder: str) -> Iterator[str]:
    from .hashing import is_oid

    try:
        prefixes = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    for prefix in prefixes:
        if len(prefix) != 2:
            continue
        for rest in sorted(os.listdir(f"{folder}/{prefix}")):
            if is_oid(prefix + rest):
                yield prefix + rest


def iter_chunked(cache: "Cache") -> Iterator[str]:
    """The ids of the objects stored as chunk lists."""
    return _iter_names(f"{cache.root}/chunked")


def iter_chunks(cache: "Cache") -> Iterator[str]:
    return _iter_names(f"{cache.root}/chunks/blake3")


def read_chunk(cache: "Cache", cid: str, length: int, oid: str) -> bytes:
    """One chunk's bytes, checked against its id; CorruptObject names a bad chunk."""
    import blake3

    try:
        with open(chunk_path(cache, cid), "rb") as f:
            data = f.read(length + 1)
    except FileNotFoundError:
        raise CorruptObject(f"object {oid[:12]}: chunk {cid} is missing from the cache",
                            "fetch the object again from a remote") from None
    if len(data) != length or blake3.blake3(data).hexdigest() != cid:
        raise CorruptObject(f"object {oid[:12]}: chunk {cid} is corrupt",
                            "delete it and fetch the object again from a remote")
    return data


class _Reader(io.RawIOBase):
    """A chunked object's bytes in order; every chunk is checked before it is handed out
    and the whole object's hash at the end (CorruptObject instead of the last bytes)."""

    def __init__(self, cache: "Cache", chunks: ChunkList) -> None:
        from .hashing import new_hasher

        self.cache = cache
        self.list = chunks
        self.next = 0
        self.buffer = memoryview(b"")
        self.hasher = new_hasher(chunks.size)

    def readable(self) -> bool:
        return True

    def readinto(self, out: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.buffer:
            if self.next == len(self.list.chunks):
                if self.hasher is not None:
                    digest, self.hasher = self.hasher.hexdigest(), None
                    if digest != self.list.oid:
                        raise CorruptObject(f"object {self.list.oid[:12]}: its chunks do "
                                            "not add up to it (damaged chunk list)",
                                            "run `git datavc verify`")
                return 0
            cid, length = self.list.chunks[self.next]
            data = read_chunk(self.cache, cid, length, self.list.oid)
            self.hasher.update(data)
            self.buffer = memoryview(data)
            self.next += 1
        n = min(len(out), len(self.buffer))
        out[:n] = self.buffer[:n]
        self.buffer = self.buffer[n:]
        return n


def open_chunked(cache: "Cache", oid: str) -> IO[bytes]:
    return io.BufferedReader(_Reader(cache, read_list(cache, oid)), 1 << 20)


def check(cache: "Cache", oid: str) -> str | None:
    """Why the chunked object `oid` cannot be read back intact, or None when it can."""
    try:
        with open_chunked(cache, oid) as f:
            while f.read(4 << 20):
                pass
    except (CorruptObject, ObjectMissing) as e:
        return e.message
    except OSError as e:
        return str(e)
    return None


def rebuild(cache: "Cache", oid: str) -> None:
    """Put the whole object back in files/blake3 from its chunks (verified). The chunk list
    stays beside it: when the workspace moves off this version again, gc drops the whole
    file after checking the chunks (`convert`), without cutting it again."""
    tmp = _rebuilt_temp(cache, oid)
    try:
        cache._publish(tmp, oid)
    except BaseException:
        unlink_quietly(tmp)
        raise
    fsync_dir(os.path.dirname(cache.path_str(oid)))


@contextmanager
def readable(cache: "Cache", oid: str) -> Iterator[str]:
    """A path holding the object's bytes for as long as the block runs: the cache file
    itself, or (chunked) a verified rebuild in the cache's tmp dir, deleted after. An
    upload reads it; the cache stays chunked."""
    path = cache.path_str(oid)
    if os.path.isfile(path) or not is_chunked(cache, oid):
        yield path
        return
    tmp = _rebuilt_temp(cache, oid, durable=False)
    try:
        yield tmp
    finally:
        unlink_quietly(tmp)


def _rebuilt_temp(cache: "Cache", oid: str, durable: bool = True) -> str:
    """A read-only temp file holding the chunked object, every chunk and the whole checked."""
    chunks = read_list(cache, oid)
    fd, tmp = cache.tempfile()
    try:
        try:
            with open_chunked(cache, oid) as f:
                while data := f.read(4 << 20):   # the reader checks every chunk and the whole
                    write_all(fd, data)
            if os.fstat(fd).st_size != chunks.size:
                raise CorruptObject(f"object {oid[:12]}: rebuilt with the wrong size")
            os.fchmod(fd, READ_ONLY)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp


@dataclass
class Converted:
    objects: int = 0
    bytes_before: int = 0       # whole objects deleted
    bytes_added: int = 0        # new chunks written
    failed: list[tuple[str, str]] = field(default_factory=list)   # (oid, why) kept whole


def convert(cache: "Cache", oid: str) -> int:
    """Turn the whole object `oid` into a chunk list; returns the bytes of new chunks
    (`convert_all` does many at once, with the same checks and fewer syncs)."""
    batch = _Batch(cache)
    try:
        added = batch.add(oid)
        batch.commit()
    finally:
        batch.discard()
    return added


BATCH_OBJECTS = 64          # conversions made durable together ...
BATCH_BYTES = 1 << 30       # ... or this many bytes of new chunks waiting in temp files


@dataclass
class _Batch:
    """Conversions made durable together: three syncfs per batch, not two per object.

    `add` reads an object once: each chunk is hashed as it is cut, and the whole object
    too. A chunk not stored yet (nor written earlier in the batch) goes to a temp file;
    one already stored (shared with an older version) is read back and checked, and
    rewritten from these bytes if it is damaged. So when the whole hash matches, every
    chunk the list names holds its bytes. `commit`: chunk bytes durable, chunks renamed
    into place, lists written and durable, lists renamed into place and durable, and only
    then are the whole files deleted."""
    cache: "Cache"
    fresh: dict[str, str] = field(default_factory=dict)   # chunk id -> its temp file
    lists: list[tuple[str, bytes | None]] = field(default_factory=list)  # None: has one
    added: int = 0

    def add(self, oid: str) -> int:
        """Queue the whole object `oid`; returns the bytes of its new chunks. An object
        rebuilt for a checkout still has its list: when every chunk of it is intact, only
        its whole file goes (at commit), nothing is cut."""
        import blake3

        from .chunking import chunks_of_file

        src = self.cache.path_str(oid)
        size = os.stat(src).st_size
        if _list_still_holds(self.cache, oid, size):
            self.lists.append((oid, None))
            return 0
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        chunks: list[tuple[str, int]] = []
        mine: list[str] = []            # chunks this object added to the batch
        added = 0
        try:
            for chunk, data in chunks_of_file(src):
                hasher.update(data)
                chunks.append((chunk.oid, chunk.length))
                if chunk.oid in self.fresh or _stored_intact(self.cache, chunk.oid,
                                                             chunk.length):
                    continue
                fd, tmp = self.cache.tempfile(READ_ONLY)
                self.fresh[chunk.oid] = tmp
                mine.append(chunk.oid)
                try:
                    write_all(fd, data)
                finally:
                    os.close(fd)
                added += chunk.length
            if hasher.hexdigest() != oid or sum(n for _, n in chunks) != size:
                raise CorruptObject(f"object {oid[:12]} kept whole: it is corrupt in the cache",
                                    "run `git datavc verify`")
        except BaseException:
            for cid in mine:
                unlink_quietly(self.fresh.pop(cid))
            raise
        self.lists.append((oid, encode(size, chunks)))
        self.added += added
        return added

    @property
    def full(self) -> bool:
        return len(self.lists) >= BATCH_OBJECTS or self.added >= BATCH_BYTES

    def commit(self) -> None:
        new = [(oid, data) for oid, data in self.lists if data is not None]
        if new:
            self._publish(new)
        for oid, _ in self.lists:
            os.unlink(self.cache.path_str(oid))
        self.lists, self.added = [], 0

    def _publish(self, new: list[tuple[str, bytes]]) -> None:
        cache = self.cache
        sync_filesystem(cache.tmp)                  # chunk bytes durable
        for cid in list(self.fresh):
            _publish_to(cache, self.fresh[cid], chunk_path(cache, cid))
            del self.fresh[cid]
        for oid, data in new:
            fd, tmp = cache.tempfile(READ_ONLY)
            self.fresh[oid] = tmp
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
        sync_filesystem(cache.tmp)                  # chunk renames and list bytes durable
        for oid, _ in new:
            _publish_to(cache, self.fresh.pop(oid), list_path(cache, oid))
        sync_filesystem(cache.tmp)                  # list renames durable

    def discard(self) -> None:
        """Remove the temp files of what was not committed."""
        for tmp in self.fresh.values():
            unlink_quietly(tmp)
        self.fresh.clear()
        self.lists, self.added = [], 0


def _list_still_holds(cache: "Cache", oid: str, size: int) -> bool:
    """Whether the object has a chunk list already (it was rebuilt for a checkout) whose
    chunks are all stored with their right bytes. The list was written only after the
    whole object's hash matched its chunks, so then the chunks are the object."""
    try:
        chunks = read_list(cache, oid)
    except (CorruptObject, ObjectMissing):
        return False
    return chunks.size == size and all(_stored_intact(cache, cid, length)
                                       for cid, length in chunks.chunks)


def _stored_intact(cache: "Cache", cid: str, length: int) -> bool:
    """Whether the chunk store holds `cid` with its right bytes (a damaged one is not)."""
    try:
        read_chunk(cache, cid, length, "")
    except CorruptObject:
        return False
    return True


def _publish_to(cache: "Cache", tmp: str, final: str) -> None:
    folder = os.path.dirname(final)
    cache._ensure_dir(folder)
    os.rename(tmp, final)


def convert_all(cache: "Cache", oids: Iterable[str], dry: bool = False) -> Converted:
    """Chunk every whole object of `oids` of CHUNK_FROM bytes or more. A failure keeps that
    object whole and is reported in `failed`; the others go on."""
    from .chunking import CHUNK_FROM

    done = Converted()
    batch = _Batch(cache)
    try:
        for oid in oids:
            if oid.endswith(".dir") or not cache.has_whole(oid):
                continue
            size = cache.size(oid)
            if size < CHUNK_FROM:
                continue
            if dry:
                done.objects += 1
                done.bytes_before += size
                continue
            try:
                done.bytes_added += batch.add(oid)
            except CorruptObject as e:
                done.failed.append((oid, e.message))
                continue
            done.objects += 1
            done.bytes_before += size
            if batch.full:
                batch.commit()
        batch.commit()
    finally:
        batch.discard()
    return done


def referenced_chunks(cache: "Cache") -> tuple[set[str], list[tuple[str, str]]]:
    """Every chunk some chunk list names, and the lists that cannot be read (oid, why)."""
    found: set[str] = set()
    damaged = []
    for oid in iter_chunked(cache):
        try:
            found.update(cid for cid, _ in read_list(cache, oid).chunks)
        except CorruptObject as e:
            damaged.append((oid, e.message))
    return found, damaged


def collect_chunks(cache: "Cache", dry: bool) -> tuple[int, int, list[tuple[str, str]]]:
    """Delete chunks no chunk list names; returns (chunks, bytes, damaged lists). Nothing is
    deleted while a list cannot be read: it might have named any of them."""
    used, damaged = referenced_chunks(cache)
    if damaged:
        return 0, 0, damaged
    count = freed = 0
    for cid in list(iter_chunks(cache)):
        if cid in used:
            continue
        path = chunk_path(cache, cid)
        try:
            freed += os.stat(path).st_size
            if not dry:
                os.unlink(path)
        except FileNotFoundError:
            continue
        count += 1
    return count, freed, []
