"""The local chunk store (cache.chunked): chunk lists over whole chunks, read back verified."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import blake3
import pytest

from git_datavc import cachechunks
from git_datavc.cache import Cache
from git_datavc.errors import CorruptObject, ObjectMissing

MIB = 1 << 20


def data_of(seed: str, size: int) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=size)


def edited(data: bytes, at: int, patch: bytes) -> bytes:
    return data[:at] + patch + data[at + len(patch):]


def stored_bytes(root: Path, folder: str) -> int:
    return sum(p.stat().st_size for p in (root / folder).rglob("*") if p.is_file())


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def test_list_round_trip_and_damage_is_told_apart() -> None:
    chunks = [("ab" * 32, 100), ("cd" * 32, 28)]
    data = cachechunks.encode(128, chunks)
    got = cachechunks.decode(data, "ef" * 32)
    assert (got.size, got.chunks) == (128, chunks)
    for bad in (data[:-1], data[:20] + bytes([data[20] ^ 1]) + data[21:], b""):
        with pytest.raises(CorruptObject, match="chunk list"):
            cachechunks.decode(bad, "ef" * 32)


def test_convert_then_read_rebuild_and_sharing(cache: Cache) -> None:
    v1 = data_of("v1", 6 * MIB)
    v2 = edited(v1, 3 * MIB, b"x" * 1000)
    o1, _ = cache.add_file(_write(cache.root.parent / "v1", v1))
    o2, _ = cache.add_file(_write(cache.root.parent / "v2", v2))
    first = cachechunks.convert(cache, o1)
    second = cachechunks.convert(cache, o2)
    assert first == len(v1)
    assert 0 < second < MIB // 2                 # only the chunks around the edit are new
    assert not cache.has_whole(o1) and not cache.has_whole(o2)
    assert cache.has(o1) and cache.present([o1, o2, "00" * 32]) == {o1, o2}
    assert cache.size(o2) == len(v2)
    assert stored_bytes(cache.root, "chunks") < len(v1) + MIB // 2
    with cache.open(o2) as f:
        assert f.read() == v2
    path = cache.whole(o1)                         # rebuilt: whole, read-only, list kept
    assert Path(path).read_bytes() == v1
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert cachechunks.is_chunked(cache, o1) and cache.has_whole(o1)


def test_a_rebuilt_version_goes_back_to_its_list_without_a_new_cut(cache: Cache) -> None:
    """Moving off a version that a checkout rebuilt again: its list still holds it, so the
    whole file goes after the chunks are checked; a damaged chunk means a full convert,
    which rewrites the chunk from the whole file."""
    v1 = data_of("back", 6 * MIB)
    oid, _ = cache.add_file(_write(cache.root.parent / "v1", v1))
    cachechunks.convert(cache, oid)
    list_before = Path(cachechunks.list_path(cache, oid)).stat()
    cache.whole(oid)
    assert cachechunks.convert(cache, oid) == 0
    assert not cache.has_whole(oid)
    assert Path(cachechunks.list_path(cache, oid)).stat().st_ino == list_before.st_ino
    cache.whole(oid)
    cid, length = cachechunks.read_list(cache, oid).chunks[1]
    bad = Path(cachechunks.chunk_path(cache, cid))
    bad.chmod(0o644)
    bad.write_bytes(b"\0" * length)
    assert cachechunks.convert(cache, oid) == length     # a full convert rewrote that chunk
    assert not cache.has_whole(oid)
    assert cachechunks.read_chunk(cache, cid, length, oid)   # intact again
    with cache.open(oid) as f:
        assert f.read() == v1


def test_readable_gives_a_temp_rebuild_and_leaves_the_cache_chunked(cache: Cache) -> None:
    data = data_of("r", 2 * MIB)
    oid, _ = cache.add_file(_write(cache.root.parent / "r", data))
    with cache.readable(oid) as path:
        assert path == cache.path_str(oid)          # whole: the cache file itself
    cachechunks.convert(cache, oid)
    with cache.readable(oid) as path:
        assert Path(path).parent == cache.tmp and Path(path).read_bytes() == data
    assert not Path(path).exists()
    assert cachechunks.is_chunked(cache, oid) and not cache.has_whole(oid)


def test_gc_of_chunks_keeps_what_lists_name(cache: Cache) -> None:
    v1 = data_of("a", 3 * MIB)
    v2 = edited(v1, MIB, b"y" * 500)
    o1, _ = cache.add_file(_write(cache.root.parent / "a", v1))
    o2, _ = cache.add_file(_write(cache.root.parent / "b", v2))
    cachechunks.convert(cache, o1)
    cachechunks.convert(cache, o2)
    assert cachechunks.collect_chunks(cache, dry=False)[0] == 0
    os.unlink(cachechunks.list_path(cache, o1))     # v1 no longer needed
    count, freed, damaged = cachechunks.collect_chunks(cache, dry=False)
    assert count >= 1 and 0 < freed < MIB and damaged == []
    with cache.open(o2) as f:
        assert f.read() == v2


def test_corrupt_chunk_is_named_and_never_read_or_rebuilt(cache: Cache) -> None:
    v1 = data_of("c", 3 * MIB)
    oid, _ = cache.add_file(_write(cache.root.parent / "c", v1))
    cachechunks.convert(cache, oid)
    cid, _ = cachechunks.read_list(cache, oid).chunks[5]
    path = Path(cachechunks.chunk_path(cache, cid))
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert cid in (cachechunks.check(cache, oid) or "")
    with pytest.raises(CorruptObject, match=cid):
        with cache.open(oid) as f:
            f.read()
    with pytest.raises(CorruptObject, match=cid):
        cache.whole(oid)
    assert not cache.has_whole(oid) and list(cache.tmp.iterdir()) == []


def test_corrupt_whole_object_is_not_chunked(cache: Cache) -> None:
    oid, _ = cache.add_file(_write(cache.root.parent / "d", data_of("d", 2 * MIB)))
    path = cache.path(oid)
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.seek(MIB)
        f.write(b"!")
    done = cachechunks.convert_all(cache, [oid])
    assert done.objects == 0 and done.failed and "corrupt" in done.failed[0][1]
    assert cache.has_whole(oid) and not cachechunks.is_chunked(cache, oid)


def test_small_objects_and_missing(cache: Cache) -> None:
    small = cache.add_bytes(b"tiny")
    assert cachechunks.convert_all(cache, [small]).objects == 0
    assert cache.has_whole(small)
    with pytest.raises(ObjectMissing):
        cache.open("12" * 32)


KILLED = """
import sys
from git_datavc import cachechunks
from git_datavc.cache import Cache
cachechunks.convert(Cache(sys.argv[1]), sys.argv[2])
"""


def test_kill_during_convert_never_loses_the_object(cache: Cache) -> None:
    """SIGKILL at many moments of a conversion: the object is always readable intact
    (whole, or a complete list); the whole file goes only after the list is in place."""
    data = data_of("k", 24 * MIB)
    src = _write(cache.root.parent / "k", data)
    oid, _ = cache.add_file(src)
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", KILLED, str(cache.root), oid], check=True)
    full = time.monotonic() - start
    outcomes = set()
    for trial in range(12):
        cache.whole(oid)                        # whole again for the next trial
        proc = subprocess.Popen([sys.executable, "-c", KILLED, str(cache.root), oid])
        time.sleep(full * trial / 12)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        listed = cachechunks.is_chunked(cache, oid)
        whole = cache.has_whole(oid)
        assert listed or whole, f"trial {trial}: object lost"
        if not whole:
            assert cachechunks.check(cache, oid) is None
        with cache.open(oid) as f:
            assert blake3.blake3(f.read()).hexdigest() == oid
        outcomes.add((listed, whole))
    assert len(outcomes) >= 2, outcomes          # the kills landed at different stages


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_converting_a_whole_version_repairs_a_damaged_shared_chunk(cache: Cache) -> None:
    v1 = data_of("s", 3 * MIB)
    v2 = edited(v1, 2 * MIB, b"z" * 300)
    o1, _ = cache.add_file(_write(cache.root.parent / "s1", v1))
    o2, _ = cache.add_file(_write(cache.root.parent / "s2", v2))
    cachechunks.convert(cache, o1)
    cid, _ = cachechunks.read_list(cache, o1).chunks[0]       # shared with v2
    path = Path(cachechunks.chunk_path(cache, cid))
    path.chmod(0o644)
    path.write_bytes(b"garbage")
    assert cid in (cachechunks.check(cache, o1) or "")
    cachechunks.convert(cache, o2)                              # v2's bytes repair it
    assert cachechunks.check(cache, o1) is None and cachechunks.check(cache, o2) is None
    assert not cache.has_whole(o2)


def test_convert_all_makes_a_batch_durable_together(cache: Cache,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Three versions sharing most chunks, one corrupt object among them: one batch, three
    # syncfs for it (not two per object), each shared new chunk written once, the corrupt
    # one kept whole and its chunks not left behind.
    v1 = data_of("b1", 4 * MIB)
    versions = [v1, edited(v1, MIB, b"y" * 500), edited(v1, 3 * MIB, b"z" * 500)]
    oids = [cache.add_file(_write(cache.root.parent / f"v{n}", v))[0]
            for n, v in enumerate(versions)]
    bad, _ = cache.add_file(_write(cache.root.parent / "bad", data_of("bad", 2 * MIB)))
    cache.path(bad).chmod(0o644)
    with open(cache.path(bad), "r+b") as f:
        f.seek(MIB)
        f.write(b"!")
    syncs = []
    real = cachechunks.sync_filesystem
    monkeypatch.setattr(cachechunks, "sync_filesystem",
                        lambda path: (syncs.append(path), real(path)))
    done = cachechunks.convert_all(cache, [oids[0], bad, oids[1], oids[2]])
    assert done.objects == 3 and [oid for oid, _ in done.failed] == [bad]
    assert len(syncs) == 3
    assert done.bytes_added < len(v1) + MIB                   # shared chunks stored once
    assert stored_bytes(cache.root, "chunks") == done.bytes_added
    assert not list(cache.tmp.iterdir())
    for oid, data in zip(oids, versions):
        assert not cache.has_whole(oid) and cachechunks.is_chunked(cache, oid)
        with cache.open(oid) as f:
            assert f.read() == data
    assert cache.has_whole(bad) and not cachechunks.is_chunked(cache, bad)
    # A version rebuilt for a checkout keeps its list: converting it again writes nothing
    # and syncs nothing, it only drops the whole file.
    cachechunks.rebuild(cache, oids[1])
    assert cache.has_whole(oids[1])
    syncs.clear()
    done = cachechunks.convert_all(cache, [oids[1]])
    assert done.objects == 1 and done.bytes_added == 0 and syncs == []
    assert not cache.has_whole(oids[1]) and cachechunks.is_chunked(cache, oids[1])
