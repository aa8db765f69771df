"""Layout v2's bytes: packs, indexes and the planning of range reads (git_datavc/packs.py)."""

from __future__ import annotations

import os

import blake3
import pytest

from git_datavc import packs
from git_datavc.errors import CorruptObject
from git_datavc.packs import Entry, Index, Span, coalesce


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def test_pack_round_trip_compresses_only_what_shrinks_by_a_tenth() -> None:
    text = b"row,value\n" * 5000            # compresses well
    noise = os.urandom(50_000)                # does not
    blobs = [(b3(text), text), (b3(noise), noise), (b3(text), text)]   # a repeat is stored once
    name, data, places = packs.build_pack(blobs)
    assert name == packs.pack_name(places) and data.startswith(packs.MAGIC_PACK)
    assert set(places) == {b3(text), b3(noise)}
    t_off, t_len, t_size, t_packed = places[b3(text)]
    n_off, n_len, n_size, n_packed = places[b3(noise)]
    assert t_packed and t_len < t_size * 0.9
    assert not n_packed and n_len == n_size == len(noise)
    for blob, raw in ((b3(text), text), (b3(noise), noise)):
        off, length, size, packed = places[blob]
        entry = Entry(name, off, length, size, packed)
        assert packs.blob_bytes(blob, entry, data[off:off + length]) == raw


def test_a_damaged_blob_is_named_and_refused() -> None:
    raw = os.urandom(1000)
    name, data, places = packs.build_pack([(b3(raw), raw)])
    off, length, size, packed = places[b3(raw)]
    entry = Entry(name, off, length, size, packed)
    bad = bytearray(data[off:off + length])
    bad[10] ^= 0xFF
    with pytest.raises(CorruptObject, match=f"chunk {b3(raw)[:16]} in pack {name[:16]}"):
        packs.blob_bytes(b3(raw), entry, bytes(bad))
    with pytest.raises(CorruptObject):      # truncated: a short range read
        packs.blob_bytes(b3(raw), entry, data[off:off + length - 1])


def sample_index() -> Index:
    index = Index(created=1234.5)
    chunks = [b3(bytes([i]) * 100) for i in range(3)]
    for i, c in enumerate(chunks):
        index.blobs[c] = Entry("a" * 64, 8 + 100 * i, 100, 100, False)
    small = b3(b"small")
    index.blobs[small] = Entry("b" * 64, 8, 20, 5000, True)
    big = b3(b"the big object")
    index.objects[big] = chunks
    index.objects[small] = []
    index.objects[small + ".dir"] = []     # a manifest stored whole shares its blob id form
    return index


def test_index_round_trip() -> None:
    index = sample_index()
    name, data = packs.encode_index(index)
    assert name == b3(data)
    back = packs.decode_index(data, name)
    assert back.created == 1234.5
    assert back.blobs == index.blobs and back.objects == index.objects
    big = next(o for o, c in back.objects.items() if c)
    assert back.size_of(big) == 300 and back.chunks_of(big) == index.objects[big]
    small = next(o for o, c in back.objects.items() if not c and not o.endswith(".dir"))
    assert back.chunks_of(small + ".dir") == [small] and back.size_of(small) == 5000


def test_index_must_locate_every_blob_of_its_objects() -> None:
    index = sample_index()
    index.objects[b3(b"x")] = [b3(b"not located")]
    with pytest.raises(ValueError, match="lacks blob"):
        packs.encode_index(index)


def test_a_damaged_index_is_refused() -> None:
    name, data = packs.encode_index(sample_index())
    bad = bytearray(data)
    bad[-5] ^= 1
    with pytest.raises(CorruptObject, match="corrupt"):
        packs.decode_index(bytes(bad), name)     # its name no longer matches
    with pytest.raises(CorruptObject, match="cannot be read"):
        packs.decode_index(bytes(bad))          # and its body does not decode
    with pytest.raises(CorruptObject):
        packs.decode_index(b"not an index at all")


def test_union_keeps_the_first_location() -> None:
    one, two = sample_index(), Index()
    blob = next(iter(one.blobs))
    two.blobs[blob] = Entry("c" * 64, 8, 100, 100)
    two.objects[b3(b"other")] = [blob]
    one.merge(two)
    assert one.blobs[blob].pack == "a" * 64
    assert b3(b"other") in one.objects
    assert one.packs() == {"a" * 64, "b" * 64}


def entry(pack: str, offset: int, length: int) -> Entry:
    return Entry(pack, offset, length, length)


def test_adjacent_blobs_become_one_read() -> None:
    wanted = [(f"{i:064x}", entry("p", 8 + 100 * i, 100)) for i in range(10)]
    spans = coalesce(reversed(wanted))          # order of asking does not matter
    assert spans == [Span("p", 8, 1000, tuple(wanted))]


def test_gaps_packs_and_size_limit_split_reads() -> None:
    a = [("a1", entry("p", 0, 10)), ("a2", entry("p", 10, 10))]
    far = [("f", entry("p", 10_000, 10))]
    other = [("o", entry("q", 0, 10))]
    spans = coalesce(a + far + other, gap=100)
    assert [(s.pack, s.offset, s.length) for s in spans] == \
        [("p", 0, 20), ("p", 10_000, 10), ("q", 0, 10)]
    merged = coalesce(a + far, gap=20_000)      # a gap under the limit is read through
    assert [(s.offset, s.length) for s in merged] == [(0, 10_010)]
    limited = coalesce([(str(i), entry("p", 10 * i, 10)) for i in range(10)], limit=30)
    assert [(s.offset, s.length) for s in limited] == [(0, 30), (30, 30), (60, 30), (90, 10)]
    huge = coalesce([("h", entry("p", 0, 1000))], limit=30)    # bigger than the limit: alone
    assert [(s.offset, s.length) for s in huge] == [(0, 1000)]


def test_the_same_blob_asked_twice_is_read_once() -> None:
    e = entry("p", 8, 10)
    spans = coalesce([("x", e), ("x", e)])
    assert spans == [Span("p", 8, 10, (("x", e),))]


def test_zstd_probing_skips_only_within_one_objects_chunks() -> None:
    rnd = [(b3(raw), raw) for raw in (os.urandom(4096) for _ in range(40))]
    txt = [(b3(raw), raw) for raw in ((b"row,%d,some text\n" % i) * 300 for i in range(20))]
    # whole objects (no stream): each is tried, however many random ones came before
    _, _, places = packs.build_pack(rnd + txt)
    assert {b for b, p in places.items() if p[3]} == {b for b, _ in txt}
    # one object's chunks: after 40 misses zstd is only probed every 16th chunk; the probe
    # at the 48th miss finds text, and from there every chunk is tried again
    streams = {b: "obj" for b, _ in rnd + txt}
    _, data, places = packs.build_pack(rnd + txt, streams=streams)
    packed = [b for b, _ in txt if places[b][3]]
    assert packed == [b for b, _ in txt][8:]
    for blob, raw in rnd + txt:  # and every blob reads back as itself
        entry = packs.Entry("p", *places[blob])
        offset, length = places[blob][0], places[blob][1]
        assert packs.blob_bytes(blob, entry, data[offset:offset + length]) == raw


def _laid_out(blobs: list[bytes]) -> tuple[memoryview, list[tuple[str, memoryview]]]:
    buffer = bytearray(packs.MAGIC_PACK + b"".join(blobs))
    view, at, views = memoryview(buffer), len(packs.MAGIC_PACK), []
    for blob in blobs:
        views.append((b3(blob), view[at:at + len(blob)]))
        at += len(blob)
    return view, views


def test_a_laid_out_pack_nothing_shrinks_in_is_its_buffer_as_it_is() -> None:
    noise = [os.urandom(70_000), os.urandom(90_000)]
    view, views = _laid_out(noise)
    name, data, places = packs.build_pack(views, laid_out=view)
    assert data is view                         # not copied
    assert (name, bytes(data), places) == packs.build_pack([(b3(n), n) for n in noise])


def test_a_laid_out_pack_with_a_blob_that_shrinks_is_joined_as_usual() -> None:
    blobs = [os.urandom(70_000), b"row,value\n" * 5000]
    view, views = _laid_out(blobs)
    name, data, places = packs.build_pack(views, laid_out=view)
    assert isinstance(data, bytes) and places[b3(blobs[1])][3]      # compressed
    assert (name, data, places) == packs.build_pack([(b3(b), b) for b in blobs])


def test_a_packs_name_is_its_table_of_contents() -> None:
    """Same blobs in the same order and form: same name, whatever buffer they were laid
    out in; another order, another blob or another stored form: another name."""
    text, noise = b"row,1,some text\n" * 400, os.urandom(5000)
    blobs = [(b3(text), text), (b3(noise), noise)]
    name, data, _ = packs.build_pack(blobs)
    buffer = bytearray(packs.MAGIC_PACK + text + noise)
    view = memoryview(buffer)
    laid = [(b3(text), view[len(packs.MAGIC_PACK):][:len(text)]),
            (b3(noise), view[len(packs.MAGIC_PACK) + len(text):])]
    assert packs.build_pack(laid, compress=False, laid_out=view)[0] != name   # text stored raw
    assert packs.build_pack(blobs)[0] == name
    assert packs.build_pack(blobs[::-1])[0] != name
    assert packs.build_pack(blobs[:1])[0] != name
    assert packs.build_pack(blobs, compress=False)[0] == packs.build_pack(laid, laid_out=view,
                                                                          compress=False)[0]
