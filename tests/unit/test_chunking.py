"""Content-defined chunks: they tile the file, and an edit changes only the chunks near it."""

from __future__ import annotations

import random
from pathlib import Path

from git_datavc import chunking
from git_datavc.hashing import hash_bytes


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_chunks_tile_the_file_and_hash_their_bytes(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(3 << 20)
    offset = count = 0
    for chunk, view in chunking.chunks_of_file(_write(tmp_path / "f", data)):
        count += 1
        assert chunk.offset == offset
        assert chunk.oid == hash_bytes(data[offset:offset + chunk.length]) == hash_bytes(bytes(view))
        assert chunking.MIN <= chunk.length <= chunking.MAX or offset + chunk.length == len(data)
        offset += chunk.length
    assert offset == len(data)
    assert 10 < count < 200


def test_an_insertion_at_the_front_keeps_the_later_chunks(tmp_path: Path) -> None:
    rng = random.Random(2)
    data = rng.randbytes(4 << 20)
    before = {c.oid for c in chunking.chunk_list(_write(tmp_path / "a", data))}
    after = chunking.chunk_list(_write(tmp_path / "b", rng.randbytes(12345) + data))
    new = [c for c in after if c.oid not in before]
    assert sum(c.length for c in new) < 2 * chunking.MAX   # the first chunk or two, no more


def test_an_edit_in_the_middle_changes_only_the_chunks_around_it(tmp_path: Path) -> None:
    rng = random.Random(3)
    data = bytearray(rng.randbytes(4 << 20))
    before = {c.oid for c in chunking.chunk_list(_write(tmp_path / "a", bytes(data)))}
    data[2 << 20:(2 << 20) + 1000] = rng.randbytes(1000)
    new = [c for c in chunking.chunk_list(_write(tmp_path / "b", bytes(data))) if c.oid not in before]
    assert 1 <= len(new) <= 3


def test_an_empty_file_has_no_chunks(tmp_path: Path) -> None:
    assert chunking.chunk_list(_write(tmp_path / "e", b"")) == []


def _cut_in_pieces(data: bytes, piece: int) -> list[tuple[int, int]]:
    """(offset, length) of the chunks exact_chunks finds reading `data` `piece` bytes at a
    time, carrying the uncut rest over, as a push reading into pack buffers does."""
    found: list[tuple[int, int]] = []
    start, read = 0, 0          # start: of the uncut rest in data; read: bytes read so far
    while True:
        read = min(len(data), read + piece)
        final = read == len(data)
        view = memoryview(data)[start:read]
        taken = 0
        for offset, chunk in chunking.exact_chunks(view, final):
            found.append((start + offset, len(chunk)))
            taken = offset + len(chunk)
        start += taken
        if final:
            return found


def test_chunks_cut_buffer_by_buffer_are_the_chunks_of_the_whole(tmp_path: Path) -> None:
    rng = random.Random(4)
    # random bytes, then a run of zeros (no content cut: every chunk ends at MAX), then more
    data = rng.randbytes(3 << 20) + bytes(2 << 20) + rng.randbytes((1 << 20) + 12345)
    whole = [(c.offset, c.length) for c in chunking.chunk_list(_write(tmp_path / "f", data))]
    assert any(length == chunking.MAX for _, length in whole)
    pieces = [2 * chunking.MAX + k * 37_777 for k in range(12)] + [5 << 20, len(data)]
    for piece in pieces:
        assert _cut_in_pieces(data, piece) == whole, piece
