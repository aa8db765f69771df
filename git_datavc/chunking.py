"""Content-defined chunks: cut a large object where its content says, not every N bytes.

A cut point depends only on the bytes around it (FastCDC 2020's rolling gear hash), so an
edit in the middle of a 1 GiB file changes the one or two chunks around the edit, and
bytes inserted at the front shift no later cut: every chunk after the insertion is found
again by its BLAKE3. This is what lets a remote store and move only what changed
(issue 13); the object's own BLAKE3 stays its identity everywhere else.

The chunker is pyfastcdc (a Cython FastCDC 2020): ~1.9 GB/s here on one core, faster than
BLAKE3 on one core, so cutting costs less than the hashing every chunk needs anyway
(`bench/chunk_bench.py` measures both, and the sizes below).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

AVG = 64 << 10       # FastCDC's target; pyfastcdc's actual mean is AVG + MIN (~80 KiB)
MIN = AVG // 4
MAX = AVG * 4
CHUNK_FROM = 1 << 20  # smaller objects are stored whole: chunking them saves ~nothing


@dataclass(frozen=True)
class Chunk:
    oid: str        # BLAKE3 of the chunk's bytes
    offset: int     # in the object
    length: int


def _chunker(avg: int) -> object:
    from pyfastcdc import FastCDC

    return FastCDC(avg, min_size=max(64, avg // 4), max_size=avg * 4)


def exact_chunks(view: memoryview, final: bool, avg: int = AVG) -> Iterator[tuple[int, memoryview]]:
    """The chunks cut in `view` (offset in it, bytes), each exactly as in the whole object:
    up to the first chunk whose cut could depend on bytes past the view's end, unless
    `final` (the view ends the object). A cut depends only on the chunk's first MAX bytes,
    so a chunk starting at least MAX before the end is exact; the caller carries the rest
    over to the next view."""
    cdc = _chunker(avg)
    for piece in cdc.cut_buf(view):  # type: ignore[attr-defined]
        if not final and len(view) - piece.offset < cdc.max_size:  # type: ignore[attr-defined]
            return
        yield piece.offset, piece.data


def chunks_of_file(path: str | os.PathLike[str], avg: int = AVG) -> Iterator[tuple[Chunk, memoryview]]:
    """The chunks of the file at `path`, in order, each with a view of its bytes (valid
    until the next chunk is asked for). Read as a stream, not mapped: a mapped 1 GiB file
    would count whole in the process's resident memory."""
    import blake3

    cdc = _chunker(avg)
    with open(path, "rb", buffering=0) as stream:
        for piece in cdc.cut_stream(stream):  # type: ignore[attr-defined]
            data = piece.data
            yield Chunk(str(blake3.blake3(data).hexdigest()), piece.offset, piece.length), data


def chunk_list(path: str | os.PathLike[str], avg: int = AVG) -> list[Chunk]:
    """Only the chunk ids and places of the file at `path`."""
    return [chunk for chunk, _ in chunks_of_file(path, avg)]
