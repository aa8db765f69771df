"""Remote layout v2: the bytes of packs and index files, and range planning.

A *blob* is a run of bytes named by its BLAKE3: a chunk of a large object, or a small object
stored whole (then the blob's id is the object's id). A *pack* is `MAGIC_PACK` followed by
blobs, each stored raw or zstd-compressed; its name is the BLAKE3 of all its bytes. An
*index* maps blobs to (pack, offset, stored length, size, compressed?) and objects to their
chunk lists; it is `MAGIC_INDEX`, its creation time, then a zstd-compressed body, and its
name is the BLAKE3 of all its bytes. Every index is self-contained: it locates every blob
its own objects need (copied from an older index when the blob was on the remote already),
which is what lets `gc --cloud` drop old indexes safely. docs/remote-layout.md has the prose.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import CorruptObject

MAGIC_PACK = b"DVCPACK1"
MAGIC_INDEX = b"DVCINDX1"
PACK_TARGET = 16 << 20      # a pack is closed when its raw blobs reach this
PACK_MAX = 64 << 20
COMPRESS_GAIN = 0.10        # keep the zstd form of a blob only if it is >= 10% smaller
ZSTD_LEVEL = 3
PROBE_AFTER = 8             # after this many blobs in a row zstd did not shrink, ...
PROBE_EVERY = 16            # ... only every 16th is tried, until one shrinks
GAP = 256 << 10             # ranges closer than this are read in one request
RANGE_MAX = 8 << 20         # ... up to this many bytes a request

_BLOB = struct.Struct(">32sIQIIB")  # id, pack number, offset, stored length, size, flags
_HEADER = struct.Struct(">8sQ")     # magic, created (ms since the epoch)
_COUNT = struct.Struct(">I")
_OBJ = struct.Struct(">32sBI")      # id, flags, chunk count
COMPRESSED = 1
IS_DIR, CHUNKED = 1, 2


@dataclass(frozen=True)
class Entry:
    """Where a blob's bytes are."""
    pack: str
    offset: int
    length: int         # bytes in the pack
    size: int           # bytes of the blob itself
    compressed: bool = False


@dataclass
class Index:
    created: float = 0.0                                    # seconds since the epoch
    blobs: dict[str, Entry] = field(default_factory=dict)
    objects: dict[str, list[str]] = field(default_factory=dict)   # oid -> chunk ids; [] = whole

    def chunks_of(self, oid: str) -> list[str]:
        """The blob ids that make up object `oid`, in order."""
        return self.objects[oid] or [oid.removesuffix(".dir")]

    def size_of(self, oid: str) -> int:
        return sum(self.blobs[b].size for b in self.chunks_of(oid))

    def merge(self, other: "Index") -> None:
        """Union: the first location seen of a blob stays."""
        for blob, entry in other.blobs.items():
            self.blobs.setdefault(blob, entry)
        for oid, chunks in other.objects.items():
            self.objects.setdefault(oid, chunks)

    def packs(self) -> set[str]:
        return {e.pack for e in self.blobs.values()}


def pack_key(name: str) -> str:
    return f"packs/{name}.pack"


def index_key(name: str) -> str:
    return f"index/{name}.idx"


def _zstd() -> tuple[object, object]:
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL), zstandard.ZstdDecompressor()


# -- packs ----------------------------------------------------------------------------------

def build_pack(blobs: Iterable[tuple[str, bytes | memoryview]], compress: bool = True,
               streams: Mapping[str, str] | None = None, laid_out: memoryview | None = None
               ) -> tuple[str, bytes | memoryview, dict[str, tuple[int, int, int, bool]]]:
    """(name, bytes, {blob: (offset, length, size, compressed)}) of a pack of `blobs`.
    `streams` names the object each chunk was cut from: within one object's chunks, zstd
    is only probed once it has failed a few in a row (other blobs are always tried).
    `laid_out`: the blobs are views of this buffer, which already holds `MAGIC_PACK` and
    then each blob, in order; when no blob shrinks it is the pack as it is, not copied."""
    zc = _zstd()[0] if compress else None
    parts: list[bytes | memoryview] = [MAGIC_PACK]
    places, offset = {}, len(MAGIC_PACK)
    misses, stream = 0, None  # chunks of one object in a row zstd did not shrink enough
    for blob, data in blobs:
        if blob in places:
            continue
        stored, packed = data, False
        # After PROBE_AFTER misses in a row within one object (random, compressed or float
        # data) only every PROBE_EVERY-th chunk is tried: zstd on 1 GiB that will not shrink
        # costs ~0.45 s of a push's CPU. One success and every chunk is tried again.
        this = streams.get(blob) if streams else None
        if this is None or this != stream:
            misses, stream = 0, this
        tried = misses < PROBE_AFTER or misses % PROBE_EVERY == 0
        if zc is not None and len(data) >= 64 and tried:
            squeezed = zc.compress(data)  # type: ignore[attr-defined]
            if len(squeezed) <= len(data) * (1 - COMPRESS_GAIN):
                stored, packed = squeezed, True
        misses = 0 if packed else misses + 1
        parts.append(stored)
        places[blob] = (offset, len(stored), len(data), packed)
        offset += len(stored)
    # A blob compressed (>= 10% smaller) or a repeat left out makes the pack shorter than
    # the buffer: only a buffer of the same length is the pack as it is.
    pack = laid_out if laid_out is not None and len(laid_out) == offset else b"".join(parts)
    return pack_name(places), pack, places


def pack_name(places: Mapping[str, tuple[int, int, int, bool]]) -> str:
    """A pack's name: the BLAKE3 of `MAGIC_PACK` and a line "ID LENGTH 0|1" per blob (its
    id, stored length, whether compressed), in order (`places` as `build_pack` gives them).
    Each id is the BLAKE3 of the blob's bytes, so this names the pack by its content
    without hashing a push's gigabytes a second time. Two packs of one name hold the same
    blobs at the same offsets (offsets follow from the lengths), so an index entry reads
    right from either; nothing recomputes a name, so packs named by their bytes' BLAKE3
    (the first layout-2 pushes) read the same."""
    import blake3

    toc = blake3.blake3(MAGIC_PACK)
    for blob, (_, length, _, packed) in places.items():
        toc.update(f"{blob} {length} {int(packed)}\n".encode())
    return str(toc.hexdigest())


def blob_bytes(blob: str, entry: Entry, stored: bytes) -> bytes:
    """A blob's bytes from its stored form, checked against its id; `CorruptObject`
    names the chunk and where it is."""
    import blake3

    data = stored
    try:
        if entry.compressed:
            data = _zstd()[1].decompress(stored, max_output_size=entry.size)  # type: ignore
    except Exception:
        data = b""
    if len(data) != entry.size or str(blake3.blake3(data).hexdigest()) != blob:
        raise CorruptObject(f"chunk {blob[:16]} in pack {entry.pack[:16]} at offset "
                            f"{entry.offset} is corrupt")
    return data


# -- indexes --------------------------------------------------------------------------------

def encode_index(index: Index) -> tuple[str, bytes]:
    """(name, bytes) of an index; every chunk of its objects must be among its blobs."""
    import blake3

    for oid, chunks in index.objects.items():
        for blob in chunks or [oid.removesuffix(".dir")]:
            if blob not in index.blobs:
                raise ValueError(f"index lacks blob {blob} of object {oid}")
    packs = sorted(index.packs())
    number = {p: i for i, p in enumerate(packs)}
    body = [_COUNT.pack(len(packs)), *(bytes.fromhex(p) for p in packs),
            _COUNT.pack(len(index.blobs))]
    for blob, e in sorted(index.blobs.items()):
        body.append(_BLOB.pack(bytes.fromhex(blob), number[e.pack], e.offset, e.length,
                               e.size, COMPRESSED if e.compressed else 0))
    body.append(_COUNT.pack(len(index.objects)))
    for oid, chunks in sorted(index.objects.items()):
        flags = (IS_DIR if oid.endswith(".dir") else 0) | (CHUNKED if chunks else 0)
        body.append(_OBJ.pack(bytes.fromhex(oid.removesuffix(".dir")), flags, len(chunks)))
        body.extend(bytes.fromhex(c) for c in chunks)
    zc = _zstd()[0]
    data = _HEADER.pack(MAGIC_INDEX, int(index.created * 1000)) + \
        zc.compress(b"".join(body))  # type: ignore[attr-defined]
    return str(blake3.blake3(data).hexdigest()), data


def decode_index(data: bytes, name: str = "") -> Index:
    """The index in `data`; with `name`, its bytes must hash to it. Damage is
    `CorruptObject`."""
    import blake3

    what = f"index {name[:16]}" if name else "index"
    if name and str(blake3.blake3(data).hexdigest()) != name:
        raise CorruptObject(f"{what} on the remote is corrupt (its bytes do not match its name)")
    try:
        magic, created = _HEADER.unpack_from(data)
        if magic != MAGIC_INDEX:
            raise ValueError("not an index")
        body = _zstd()[1].decompressobj().decompress(data[_HEADER.size:])  # type: ignore
        return _decode_body(body, created / 1000)
    except (ValueError, struct.error, IndexError) as e:
        raise CorruptObject(f"{what} cannot be read: {e}") from None
    except Exception as e:      # zstandard.ZstdError
        raise CorruptObject(f"{what} cannot be read: {e}") from None


def _decode_body(body: bytes, created: float) -> Index:
    pos = 0

    def count() -> int:
        nonlocal pos
        (n,) = _COUNT.unpack_from(body, pos)
        pos += _COUNT.size
        return int(n)

    def hexes(n: int) -> list[str]:
        nonlocal pos
        out = [body[pos + 32 * i: pos + 32 * (i + 1)].hex() for i in range(n)]
        if pos + 32 * n > len(body):
            raise ValueError("truncated")
        pos += 32 * n
        return out

    index = Index(created)
    packs = hexes(count())
    for _ in range(count()):
        blob, number, offset, length, size, flags = _BLOB.unpack_from(body, pos)
        pos += _BLOB.size
        index.blobs[blob.hex()] = Entry(packs[number], offset, length, size,
                                        bool(flags & COMPRESSED))
    for _ in range(count()):
        raw, flags, n = _OBJ.unpack_from(body, pos)
        pos += _OBJ.size
        oid = raw.hex() + (".dir" if flags & IS_DIR else "")
        index.objects[oid] = hexes(n) if flags & CHUNKED else []
    if pos != len(body):
        raise ValueError("trailing bytes")
    for oid, chunks in index.objects.items():
        if any(b not in index.blobs for b in chunks or [oid.removesuffix(".dir")]):
            raise ValueError(f"object {oid[:16]} names a blob the index does not locate")
    return index


# -- range planning -------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """One range read of a pack, covering one or more blobs."""
    pack: str
    offset: int
    length: int
    blobs: tuple[tuple[str, Entry], ...]


def coalesce(wanted: Iterable[tuple[str, Entry]], gap: int = GAP,
             limit: int = RANGE_MAX) -> list[Span]:
    """Group blob reads into as few range reads as possible: blobs of one pack whose bytes
    lie less than `gap` apart are read together, up to `limit` bytes a read (a blob bigger
    than that is read alone)."""
    by_pack: dict[str, dict[str, Entry]] = {}
    for blob, entry in wanted:
        by_pack.setdefault(entry.pack, {})[blob] = entry
    spans = []
    for pack in sorted(by_pack):
        entries = sorted(by_pack[pack].items(), key=lambda item: item[1].offset)
        group: list[tuple[str, Entry]] = []
        start = end = 0
        for blob, e in entries:
            if group and (e.offset - end > gap or e.offset + e.length - start > limit):
                spans.append(Span(pack, start, end - start, tuple(group)))
                group = []
            if not group:
                start = end = e.offset
            group.append((blob, e))
            end = max(end, e.offset + e.length)
        if group:
            spans.append(Span(pack, start, end - start, tuple(group)))
    return spans
