"""Push to and fetch from a layout-2 remote: only the chunks it lacks, in packs
(`packmaint` has `remote upgrade` and `verify --remote`).

Push: objects the remote lacks are cut into content-defined chunks (small ones stay whole);
chunks no index knows go into packs of about `PACK_TARGET` bytes, built (zstd per blob when
that saves >= 10%) and uploaded on a few threads while the next pack fills. The push's own
index goes up last, only after every pack it names is stored: a push killed midway leaves
packs no index names, which readers never see and `gc --cloud` sweeps.

Fetch: every blob the wanted objects need is located in the union of the indexes, blobs
the cache already holds inside other objects are copied from there, and the rest are read
with range requests, adjacent blobs of a pack in one request (`packs.coalesce`). Each blob
is checked against its BLAKE3, and each large object, rebuilt in a temp file, against its
own id before it enters the cache.
"""

from __future__ import annotations

import errno
import os
import random
import threading
import time
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ContextManager, Iterable, Iterator, TypeVar

from .chunking import CHUNK_FROM, MAX, exact_chunks
from .errors import CorruptObject, DatavcError, ObjectMissing, RemoteError
from .fsutil import unlink_quietly
from .hashing import hash_bytes, hash_file
from .packs import (MAGIC_PACK, PACK_TARGET, Entry, Index, Span, blob_bytes, build_pack,
                    coalesce, encode_index, index_key, pack_key)

if TYPE_CHECKING:
    from .cache import Cache
    from .packed import PackedRemote
    from .transfer import Result

PACKS_IN_FLIGHT = 4         # pack buffers filled, built or uploading at once (~16 MiB each)
LAID_OUT = len(MAGIC_PACK) + PACK_TARGET + MAX   # a pack buffer a large object is read into
READS_IN_FLIGHT = 8         # range reads at once (each up to packs.RANGE_MAX bytes)
LARGE_BATCH = 16            # large objects rebuilt at once (a temp file each)
SMALL_BATCH = 64 << 20      # bytes of small objects held in memory until stored
RETRIES = 3
BACKOFF = 0.5
T = TypeVar("T")


def retrying(work: Callable[[], T]) -> T:
    delay = BACKOFF
    for attempt in range(RETRIES + 1):
        try:
            return work()
        except RemoteError as e:
            if not e.retriable or attempt == RETRIES:
                raise
        time.sleep(delay * random.uniform(1, 1.5))
        delay *= 2
    raise AssertionError("unreachable")


# -- push -----------------------------------------------------------------------------------

class _Packer:
    """Lays new blobs out in pack buffers and uploads each on a worker thread when full.

    A pack buffer holds `MAGIC_PACK` and then blobs, in order: just the pack's bytes when
    zstd shrinks none of them, so it is uploaded as it is. A small object is copied in
    (`add`); a large one is read straight into the buffer and cut there (`_pack_large`),
    its new chunks moved together in place (`claim` says which are new). Objects share a
    buffer until it passes `PACK_TARGET`. Buffers are reused: reading 1 GiB takes no fresh
    memory and copies none of its chunks."""

    def __init__(self, remote: PackedRemote, jobs: int, known: dict[str, Entry],
                 bar: object) -> None:
        self.remote, self.known, self.bar = remote, known, bar
        self.pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, PACKS_IN_FLIGHT)),
                                       thread_name_prefix="datavc-pack")
        self.slots = threading.BoundedSemaphore(PACKS_IN_FLIGHT)
        self.lock = threading.Lock()
        self.free: list[bytearray] = []         # pack buffers to reuse
        self.buffer: bytearray | None = None    # the one being filled (holds a slot)
        self.cursor = len(MAGIC_PACK)           # where its next blob goes
        self.blobs: list[tuple[str, memoryview]] = []
        self.streams: dict[str, str] = {}       # chunk -> the object it was cut from
        self.queued: set[str] = set()
        self.placed: dict[str, Entry] = {}
        self.sent = 0
        self.error: DatavcError | None = None
        self.futures: list[Future[None]] = []

    def claim(self, blob: str) -> bool:
        """Whether `blob` is new to the remote and to this push; a new one is queued."""
        if blob in self.known or blob in self.queued:
            return False
        self.queued.add(blob)
        return True

    def room(self, needed: int) -> tuple[bytearray, int]:
        """(the buffer being filled, where the next blob goes), with at least `needed`
        bytes free after it: the full one is sealed first."""
        if self.buffer is not None and LAID_OUT - self.cursor < needed:
            self.seal()
        if self.buffer is None:
            self.slots.acquire()            # at most PACKS_IN_FLIGHT buffers in memory
            with self.lock:
                self.buffer = self.free.pop() if self.free else bytearray(LAID_OUT)
            self.buffer[:len(MAGIC_PACK)] = MAGIC_PACK
            self.cursor = len(MAGIC_PACK)
        return self.buffer, self.cursor

    def laid(self, end: int, blobs: list[tuple[str, memoryview]], stream: str | None) -> None:
        """`blobs` were laid out in the buffer from `room`'s place up to `end`."""
        self.blobs.extend(blobs)
        if stream is not None:
            self.streams.update(dict.fromkeys((b for b, _ in blobs), stream))
        self.cursor = end
        if end - len(MAGIC_PACK) >= PACK_TARGET:
            self.seal()

    def add(self, blob: str, data: bytes) -> None:
        """Queue a small object stored whole (`blob` is its id)."""
        if not self.claim(blob):
            return
        if len(data) > PACK_TARGET:         # a huge directory manifest: a pack of its own
            self.slots.acquire()
            self._submit([(blob, data)], {}, None, None)
            return
        buffer, start = self.room(len(data))
        end = start + len(data)
        buffer[start:end] = data
        self.laid(end, [(blob, memoryview(buffer)[start:end])], None)

    def seal(self) -> None:
        """Upload the buffer being filled (or give it back if nothing was laid out)."""
        buffer, self.buffer = self.buffer, None
        if buffer is None:
            return
        blobs, streams, end = self.blobs, self.streams, self.cursor
        self.blobs, self.streams, self.cursor = [], {}, len(MAGIC_PACK)
        if not blobs:
            self._give_back(buffer)
            return
        self._submit(blobs, streams, memoryview(buffer)[:end], buffer)

    def _submit(self, blobs: list[tuple[str, bytes]] | list[tuple[str, memoryview]],
                streams: dict[str, str], laid_out: memoryview | None,
                buffer: bytearray | None) -> None:
        """Build and upload a pack on a worker; the caller holds a slot for it."""
        try:
            self.futures.append(self.pool.submit(self._upload, blobs, streams, laid_out,
                                                 buffer))
        except BaseException:
            self._give_back(buffer)
            raise

    def _give_back(self, buffer: bytearray | None) -> None:
        if buffer is not None:
            with self.lock:
                self.free.append(buffer)
        self.slots.release()

    def _upload(self, blobs: list[tuple[str, bytes]] | list[tuple[str, memoryview]],
                streams: dict[str, str], laid_out: memoryview | None,
                buffer: bytearray | None) -> None:
        try:
            if self.error is not None:
                return
            name, data, places = build_pack(blobs, streams=streams, laid_out=laid_out)
            retrying(lambda: self.remote.backend.put_bytes(pack_key(name), data))
            with self.lock:
                self.sent += len(data)
                for blob, (offset, length, size, packed) in places.items():
                    self.placed[blob] = Entry(name, offset, length, size, packed)
        except DatavcError as e:
            with self.lock:
                if self.error is None:
                    self.error = e
        finally:
            self._give_back(buffer)

    def finish(self) -> None:
        self.seal()
        self.pool.shutdown(wait=True)
        for future in self.futures:
            future.result()     # a bug in a worker is raised here

    def where(self, blob: str) -> Entry | None:
        return self.placed.get(blob) or self.known.get(blob)


def push(cache: Cache, remote: PackedRemote, oids: list[str], jobs: int = 0) -> Result:
    """Upload the objects of `oids` (valid ids, in the cache) that the remote lacks."""
    from .transfer import Result, to_upload

    result = Result(packed=True)
    todo = to_upload(cache, remote, oids, result)  # type: ignore[arg-type]
    return _push(remote, [(oid, cache.path_str(oid)) for oid in todo], jobs, result,
                 lambda oid, path: cache.readable(oid))


def push_files(remote: PackedRemote, items: list[tuple[str, str]], jobs: int = 0) -> Result:
    """Pack the files of `items` ((oid, path), paths the caller vouches for) as new objects."""
    from .transfer import Result

    return _push(remote, items, jobs, Result(packed=True))


Opener = Callable[[str, str], ContextManager[str]]


@contextmanager
def _as_is(oid: str, path: str) -> Iterator[str]:
    yield path


def _push(remote: PackedRemote, items: list[tuple[str, str]], jobs: int, result: Result,
          opener: Opener = _as_is) -> Result:
    """Pack and upload `items` ((oid, path); `opener` gives the file to read for each)."""
    from .transfer import _progress

    if not items:
        return result
    if remote.marker_pending:
        from .packed import write_marker

        retrying(lambda: write_marker(remote.backend))
        remote.marker_pending = False
    index = remote.index()
    chunk_lists: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    total = sum(_size(path) for _, path in items if path)
    with _progress(f"push to {remote.name}", total, "B") as bar:
        packer = _Packer(remote, jobs or remote.jobs, index.blobs, bar)
        try:
            for n, (oid, path) in enumerate(items):
                if packer.error is not None:
                    result.failures.extend((o, f"not tried: {packer.error.message}")
                                           for o, _ in items[n:])
                    break
                try:
                    with opener(oid, path) as readable:
                        chunk_lists[oid], sizes[oid] = _pack_object(packer, oid, readable)
                    bar.update(sizes[oid])     # bytes read and cut, sent or found there
                except (CorruptObject, ObjectMissing) as e:
                    result.failures.append((oid, e.message))
                except RemoteError as e:
                    result.failures.append((oid, e.message))
                    if not e.retriable:
                        packer.error = e
                except OSError as e:
                    result.failures.append((oid, f"local file {e.filename}: "
                                                 f"{e.strerror or e}"))
        finally:
            packer.finish()
    return _write_index(remote, packer, chunk_lists, sizes, result)


def _pack_object(packer: _Packer, oid: str, path: str) -> tuple[list[str], int]:
    """Queue the blobs of one object; returns (its chunk list, [] if stored whole; size)."""
    size = os.stat(path).st_size
    if size < CHUNK_FROM or oid.endswith(".dir"):
        with open(path, "rb") as f:
            data = f.read()
        base = oid.removesuffix(".dir")
        if hash_bytes(data) != base:
            raise CorruptObject(f"object {oid} is corrupt in the local cache; not pushed")
        packer.add(base, data)
        return [], len(data)
    return _pack_large(packer, oid, path), size


def _pack_large(packer: _Packer, oid: str, path: str) -> list[str]:
    """Read a large object into pack buffers, cut it there and keep its new chunks there;
    returns the object's chunk list. The bytes at a buffer's end that cannot be cut yet
    (less than a chunk's maximum) start the next read, in the next buffer if need be."""
    import blake3

    chunks: list[str] = []
    tail, final = b"", False
    with open(path, "rb", buffering=0) as stream:
        while not final or tail:
            buffer, start = packer.room(len(tail) + 2 * MAX)
            view = memoryview(buffer)
            view[start:start + len(tail)] = tail
            filled = start + len(tail)
            blobs: list[tuple[str, memoryview]] = []
            try:
                while filled < LAID_OUT and not final:
                    got = stream.readinto(view[filled:])
                    final = not got
                    filled += got or 0
                cursor, taken = start, 0
                for offset, data in exact_chunks(view[start:filled], final):
                    taken, size = offset + len(data), len(data)
                    blob = str(blake3.blake3(data).hexdigest())
                    chunks.append(blob)
                    if packer.claim(blob):
                        if start + offset != cursor:    # an earlier chunk was not new
                            view[cursor:cursor + size] = data
                        blobs.append((blob, view[cursor:cursor + size]))
                        cursor += size
                tail = bytes(view[start + taken:filled])
            except BaseException:
                packer.queued.difference_update(b for b, _ in blobs)   # never laid out
                raise
            packer.laid(cursor, blobs, oid)
    return chunks


def _write_index(remote: PackedRemote, packer: _Packer, chunk_lists: dict[str, list[str]],
                 sizes: dict[str, int], result: Result) -> Result:
    """The push's index, naming only objects whose every blob is stored; uploaded last."""
    new = Index(created=time.time())
    for oid, chunks in chunk_lists.items():
        blobs = chunks or [oid.removesuffix(".dir")]
        places = {b: packer.where(b) for b in blobs}
        if any(e is None for e in places.values()):
            why = packer.error.message if packer.error else "a pack upload failed"
            result.failures.append((oid, why))
            continue
        new.objects[oid] = chunks
        new.blobs.update(places)  # type: ignore[arg-type]
    result.sent += packer.sent
    if packer.error is not None:
        result.error, result.hint = packer.error.message, packer.error.hint
    _drop_vanished(remote, packer, new, result)
    if not new.objects:
        return result
    name, data = encode_index(new)
    try:
        retrying(lambda: remote.backend.put_bytes(index_key(name), data))
    except DatavcError as e:
        result.failures.extend((oid, e.message) for oid in new.objects)
        result.error, result.hint = e.message, e.hint
        return result
    remote.added(name, new)
    result.sent += len(data)
    result.transferred += len(new.objects)
    result.bytes += sum(sizes[oid] for oid in new.objects)
    return result


def _drop_vanished(remote: PackedRemote, packer: _Packer, new: Index, result: Result) -> None:
    """Leave out of the index objects that reuse a pack gone since the indexes were read
    (a `gc --cloud` of another clone deleted it): they fail, and a rerun uploads them."""
    mine = {e.pack for e in packer.placed.values()}
    reused = {e.pack for e in new.blobs.values()} - mine
    if not reused:
        return
    there = {k.key[len("packs/"):-len(".pack")] for k in remote.backend.list_keys("packs")}
    gone = reused - there
    for oid in [o for o, chunks in new.objects.items()
                if any(new.blobs[b].pack in gone for b in chunks or [o.removesuffix(".dir")])]:
        del new.objects[oid]
        result.failures.append((oid, f"object {oid} reused chunks of a pack deleted by "
                                     "gc --cloud during the push; rerun push"))
    live = {b for o, chunks in new.objects.items() for b in chunks or [o.removesuffix(".dir")]}
    for blob in [b for b in new.blobs if b not in live]:
        del new.blobs[blob]


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# -- fetch ----------------------------------------------------------------------------------

@dataclass
class _Target:
    """An object being rebuilt: in memory (small) or in a temp file (large)."""
    oid: str
    size: int
    path: str = ""
    fd: int = -1
    missing: set[int] = field(default_factory=set)     # offsets not written yet
    error: str = ""
    local: bool = False     # some chunks were copied from objects in the cache


class _Rebuild:
    """Blobs arrive (from the cache or the remote) and are written where objects need them."""

    def __init__(self, remote: PackedRemote, index: Index, result: Result) -> None:
        self.remote, self.index, self.result = remote, index, result
        self.lock = threading.Lock()
        self.wants: dict[str, list[tuple[_Target, int]]] = {}  # blob -> (target, offset)
        self.small: dict[str, bytes] = {}                        # whole objects, verified
        self.stop: DatavcError | None = None

    def want(self, target: _Target, chunks: list[str]) -> None:
        offset = 0
        for blob in chunks:
            self.wants.setdefault(blob, []).append((target, offset))
            target.missing.add(offset)
            offset += self.index.blobs[blob].size

    def put(self, blob: str, data: bytes) -> None:
        for target, offset in self.wants.get(blob, ()):
            if target.fd < 0:
                with self.lock:
                    self.small[target.oid] = data
            else:
                os.pwrite(target.fd, data, offset)
            with self.lock:
                target.missing.discard(offset)

    def fail(self, blobs: Iterable[str], message: str) -> None:
        with self.lock:
            for blob in blobs:
                for target, _ in self.wants.get(blob, ()):
                    if not target.error:
                        target.error = f"{message}: object {target.oid} cannot be rebuilt"

    def read_spans(self, spans: list[Span], jobs: int, bar: object) -> None:
        def read(span: Span) -> None:
            blobs = [b for b, _ in span.blobs]
            if self.stop is not None:
                self.fail(blobs, f"not tried: {self.stop.message}")
                return
            key = pack_key(span.pack)
            try:
                data = retrying(lambda: self.remote.backend.read_range(key, span.offset,
                                                                        span.length))
            except ObjectMissing:
                self.fail(blobs, f"pack {span.pack[:16]} is missing from remote "
                                 f"{self.remote.name!r}")
                return
            except DatavcError as e:
                with self.lock:
                    if self.stop is None:
                        self.stop = e
                self.fail(blobs, e.message)
                return
            with self.lock:
                self.result.sent += len(data)
            for blob, entry in span.blobs:
                start = entry.offset - span.offset
                try:
                    self.put(blob, blob_bytes(blob, entry, data[start:start + entry.length]))
                except CorruptObject as e:
                    self.fail([blob], e.message)
            bar.update(sum(e.size * len(self.wants.get(b, ()))  # type: ignore[attr-defined]
                           for b, e in span.blobs))

        if len(spans) <= 1:
            for span in spans:
                read(span)
            return
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, READS_IN_FLIGHT)),
                                thread_name_prefix="datavc-read") as pool:
            list(pool.map(read, spans))


def fetch(cache: Cache, remote: PackedRemote, oids: list[str], jobs: int = 0) -> Result:
    """Download the objects of `oids` (valid ids) missing from the cache."""
    from . import transfer

    result = transfer.Result(packed=True)
    todo = sorted(set(oids) - cache.present(oids))
    result.present = len(set(oids)) - len(todo)
    if not todo:
        return result
    before = remote.index_bytes     # what reading the indexes costs counts as received
    index = remote.index()
    loose = [oid for oid in todo if oid not in index.objects]
    packed = [oid for oid in todo if oid in index.objects]
    if loose:       # stored whole under files/ (layout 1, or not converted yet)
        more = transfer.fetch(cache, remote.backend, loose, jobs)
        more.sent = more.bytes
        result.absorb(more)
    if packed:
        os.makedirs(cache.tmp, exist_ok=True)
        sources = _local_chunks(cache, index, packed)
        small = [o for o in packed if not index.objects[o]]
        large = [o for o in packed if index.objects[o]]
        with transfer._progress(f"fetch from {remote.name}",
                                sum(index.size_of(o) for o in packed), "B") as bar:
            for batch in _small_batches(index, small):
                _fetch_batch(cache, remote, index, batch, sources, jobs or remote.jobs,
                             result, bar)
            for i in range(0, len(large), LARGE_BATCH):
                _fetch_batch(cache, remote, index, large[i:i + LARGE_BATCH], sources,
                             jobs or remote.jobs, result, bar)
    result.sent += remote.index_bytes - before
    return result


def _small_batches(index: Index, oids: list[str]) -> Iterator[list[str]]:
    """Whole objects in pack order, in batches of about SMALL_BATCH bytes: each batch's
    bytes wait in memory until it is stored, and neighbours in a pack stay together, so
    their reads still coalesce."""
    def place(oid: str) -> tuple[str, int]:
        entry = index.blobs[oid.removesuffix(".dir")]
        return entry.pack, entry.offset

    batch: list[str] = []
    size = 0
    for oid in sorted(oids, key=place):
        batch.append(oid)
        size += index.size_of(oid)
        if size >= SMALL_BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _local_chunks(cache: Cache, index: Index, todo: list[str]) -> dict[str, tuple[str, int]]:
    """Chunks the cache already holds: blob -> (file holding it, offset in that file). The
    file is a whole cache object that contains the chunk, or (`cache.chunked`) the chunk's
    own file in the local chunk store, which is cut and named the same way as the remote's."""
    exclude = set(todo)
    chunked = [oid for oid, chunks in index.objects.items() if chunks and oid not in exclude]
    found: dict[str, tuple[str, int]] = {}
    for oid in sorted(cache.present(chunked)):
        path = cache.path_str(oid)
        if not os.path.isfile(path):
            continue    # a chunk list: its chunks are found in the chunk store below
        offset = 0
        for blob in index.objects[oid]:
            found.setdefault(blob, (path, offset))
            offset += index.blobs[blob].size
    if os.path.isdir(os.path.join(cache.root, "chunks")):
        from .cachechunks import chunk_path

        for oid in todo:
            for blob in index.objects.get(oid) or ():
                if blob not in found and os.path.isfile(where := chunk_path(cache, blob)):
                    found[blob] = (where, 0)
    return found


def _fetch_batch(cache: Cache, remote: PackedRemote, index: Index, oids: list[str],
                 sources: dict[str, tuple[str, int]], jobs: int, result: Result,
                 bar: object) -> None:
    rebuild = _Rebuild(remote, index, result)
    targets = []
    retry: list[str] = []
    try:
        for oid in oids:
            target = _Target(oid, index.size_of(oid))
            if index.objects[oid]:
                fd, target.path = cache.tempfile()
                target.fd = fd
                os.ftruncate(fd, target.size)
            rebuild.want(target, index.chunks_of(oid))
            targets.append(target)
        if sources:
            for target in targets:
                if target.fd >= 0:
                    bar.update(_copy_local(index, target, sources))  # type: ignore
        remote_blobs = [(blob, index.blobs[blob]) for blob, places in rebuild.wants.items()
                        if any(offset in target.missing for target, offset in places)]
        rebuild.read_spans(coalesce(remote_blobs), jobs, bar)
        retry = _publish(cache, remote, rebuild, targets, result)
    finally:
        for target in targets:
            if target.fd >= 0:
                os.close(target.fd)
            if target.path:
                unlink_quietly(target.path)
    if retry:
        _fetch_batch(cache, remote, index, retry, {}, jobs, result, bar)


def _copy_local(index: Index, target: _Target,
                sources: dict[str, tuple[str, int]]) -> int:
    """Fill `target` with the chunks the cache already holds (`_local_chunks`): runs of
    chunks that follow each other in both files are copied in one call (copy_file_range:
    no bytes through Python). Cache files were checked when they entered the cache, and
    the rebuilt object's own hash is checked before it is stored, so a damaged cache file
    cannot slip through (`_publish` then fetches the object again from the remote alone).
    Returns the bytes copied."""
    runs: list[_Run] = []
    copied = 0
    offset = 0
    for blob in index.objects[target.oid]:
        size = index.blobs[blob].size
        if blob in sources:
            src, src_offset = sources[blob]
            last = runs[-1] if runs else None
            if last and last.src == src and last.src_offset + last.length == src_offset \
                    and last.offset + last.length == offset:
                last.length += size
                last.starts.append(offset)
            else:
                runs.append(_Run(src, src_offset, offset, size, [offset]))
        offset += size
    for run in runs:
        try:
            fd = os.open(run.src, os.O_RDONLY)
        except OSError:
            continue
        try:
            _copy_range(fd, run.src_offset, target.fd, run.offset, run.length)
        except OSError:
            continue
        finally:
            os.close(fd)
        target.missing.difference_update(run.starts)
        target.local = True
        copied += run.length
    return copied


@dataclass
class _Run:
    """Chunks that follow each other in a cache file and in the object being rebuilt."""
    src: str            # the cache file's path
    src_offset: int
    offset: int
    length: int
    starts: list[int]


def _copy_range(src: int, src_offset: int, dst: int, dst_offset: int, length: int) -> None:
    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src, dst, length - done, src_offset + done, dst_offset + done)
            if not n:
                raise OSError(errno.EIO, "short copy")
            done += n
        return
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while done < length:
        data = os.pread(src, min(8 << 20, length - done), src_offset + done)
        if not data:
            raise OSError(errno.EIO, "short read")
        os.pwrite(dst, data, dst_offset + done)
        done += len(data)


def _publish(cache: Cache, remote: PackedRemote, rebuild: _Rebuild, targets: list[_Target],
             result: Result) -> list[str]:
    """Check and store the rebuilt objects; returns those to fetch again from the remote
    alone (rebuilt with chunks of a cache object that turned out damaged)."""
    from .cache import BATCH_BELOW

    retry: list[str] = []
    writer = cache.writer(auto_flush=False)
    try:
        for t in targets:
            if not t.error and t.missing:
                t.error = f"object {t.oid} could not be rebuilt from remote {remote.name!r}"
            if t.error:
                result.failures.append((t.oid, t.error))
                continue
            if t.fd < 0:
                writer.store_verified(rebuild.small[t.oid], t.oid)   # its blob was checked
            else:
                os.close(t.fd)
                t.fd = -1
                got, _ = hash_file(t.path)
                if got != t.oid.removesuffix(".dir") and t.local:
                    retry.append(t.oid)     # a damaged cache object lent it chunks
                    continue
                if got != t.oid.removesuffix(".dir"):
                    result.failures.append((t.oid, f"object {t.oid} rebuilt from remote "
                                            f"{remote.name!r} is corrupt (hashes to "
                                            f"{got[:12]}...); it was not stored"))
                    continue
                if t.size >= BATCH_BELOW:
                    cache.publish_verified(t.path, t.oid)
                else:
                    os.chmod(t.path, 0o444)
                    writer.adopt({t.oid: t.path})
                t.path = ""
            result.transferred += 1
            result.bytes += t.size
            if writer.over_limit():
                writer.flush()
    finally:
        writer.flush()
    if rebuild.stop is not None and not result.error:
        result.error, result.hint = rebuild.stop.message, rebuild.stop.hint
    return retry


# -- single objects (the Remote protocol's read_small and download) -------------------------

def read_object(remote: PackedRemote, index: Index, oid: str) -> bytes:
    """The verified bytes of a small packed object."""
    parts = []
    for span in coalesce((b, index.blobs[b]) for b in index.chunks_of(oid)):
        data = _read_span(remote, span)
        got = {}
        for blob, entry in span.blobs:
            start = entry.offset - span.offset
            got[blob] = blob_bytes(blob, entry, data[start:start + entry.length])
        parts.append(got)
    blobs = {k: v for part in parts for k, v in part.items()}
    data = b"".join(blobs[b] for b in index.chunks_of(oid))
    if hash_bytes(data) != oid.removesuffix(".dir"):
        raise CorruptObject(f"object {oid} from remote {remote.name!r} is corrupt")
    return data


def read_object_to(remote: PackedRemote, index: Index, oid: str, dst: Path) -> None:
    with open(dst, "wb") as out:
        for chunk in _iter_blobs(remote, index, index.chunks_of(oid)):
            out.write(chunk)


def _iter_blobs(remote: PackedRemote, index: Index, chunks: list[str]) -> Iterator[bytes]:
    for blob in chunks:
        entry = index.blobs[blob]
        data = _read_span(remote, Span(entry.pack, entry.offset, entry.length,
                                       ((blob, entry),)))
        yield blob_bytes(blob, entry, data)


def _read_span(remote: PackedRemote, span: Span) -> bytes:
    key = pack_key(span.pack)
    try:
        return retrying(lambda: remote.backend.read_range(key, span.offset, span.length))
    except ObjectMissing:
        raise ObjectMissing(f"pack {span.pack[:16]} is missing from remote "
                            f"{remote.name!r}") from None
