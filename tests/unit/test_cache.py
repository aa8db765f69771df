"""The content-addressed cache (DESIGN §3): layout, atomic read-only objects, batching."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

from git_datavc import cache as cache_mod
from git_datavc.cache import Cache, split_oid
from git_datavc.errors import CorruptObject, DatavcError, ObjectMissing
from git_datavc.hashing import hash_bytes

OID = hash_bytes(b"x")


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def tmp_files(c: Cache) -> list[Path]:
    return sorted(c.tmp.iterdir()) if c.tmp.exists() else []


@pytest.fixture
def c(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def test_add_bytes_gives_the_blake3_of_the_content(c: Cache) -> None:
    oid = c.add_bytes(b"hello")
    # BLAKE3("hello"), an independent known value
    assert oid == "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"
    assert oid == hash_bytes(b"hello")
    with c.open(oid) as f:
        assert f.read() == b"hello"
    assert c.size(oid) == 5


def test_object_path_layout(c: Cache) -> None:
    oid = c.add_bytes(b"layout")
    expected = c.root / "files" / "blake3" / oid[:2] / oid[2:]
    assert c.path(oid) == expected
    assert len(expected.name) == 62
    assert expected.is_file()
    assert all_files(c.root) == [expected]


def test_object_is_read_only(c: Cache) -> None:
    oid = c.add_bytes(b"ro")
    assert stat.S_IMODE(c.path(oid).stat().st_mode) == 0o444


def test_large_object_is_read_only(c: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "BATCH_BELOW", 4)
    oid = c.add_bytes(b"large enough")
    assert stat.S_IMODE(c.path(oid).stat().st_mode) == 0o444


def test_empty_object(c: Cache) -> None:
    oid = c.add_bytes(b"")
    assert oid == hash_bytes(b"")
    assert c.has(oid) and c.size(oid) == 0


def test_adding_the_same_bytes_twice_keeps_one_object_and_no_temp(c: Cache) -> None:
    a = c.add_bytes(b"same")
    b = c.add_bytes(b"same")
    assert a == b
    assert all_files(c.root) == [c.path(a)]
    assert tmp_files(c) == []


def test_same_bytes_twice_in_one_writer(c: Cache) -> None:
    with c.writer() as w:
        a, _ = w.add_chunks([b"dup"])
        b, _ = w.add_chunks([b"d", b"up"])
        assert a == b
        assert len(tmp_files(c)) == 1
    assert all_files(c.root) == [c.path(a)]


def test_add_file(c: Cache, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    data = os.urandom(3 << 20) + b"tail"  # more than one read chunk
    src.write_bytes(data)
    oid, size = c.add_file(src)
    assert (oid, size) == (hash_bytes(data), len(data))
    assert c.path(oid).read_bytes() == data
    assert src.read_bytes() == data


def test_chunks_are_hashed_as_one_stream(c: Cache) -> None:
    parts = [b"a" * 1000, b"", b"b" * (5 << 20), b"c"]  # crosses WRITE_BUFFER
    with c.writer() as w:
        oid, size = w.add_chunks(parts)
    assert (oid, size) == (hash_bytes(b"".join(parts)), sum(map(len, parts)))
    assert c.verify(oid)


def test_writer_batches_small_objects(c: Cache) -> None:
    with c.writer() as w:
        oid, size = w.add_chunks([b"small"])
        assert size == 5
        assert not c.has(oid)          # not visible before flush
        assert w.has(oid)              # but the writer knows it
        assert oid in w.pending
        w.flush()
        assert c.has(oid)
        assert oid not in w.pending
        assert tmp_files(c) == []


def test_writer_flushes_on_exit(c: Cache) -> None:
    with c.writer() as w:
        oid, _ = w.add_chunks([b"exit"])
    assert c.has(oid)
    assert tmp_files(c) == []


def test_writer_flushes_when_the_batch_is_full(c: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "BATCH_FILES", 2)
    with c.writer() as w:
        a, _ = w.add_chunks([b"one"])
        assert not c.has(a)
        b, _ = w.add_chunks([b"two"])
        assert c.has(a) and c.has(b)


def test_large_objects_are_visible_immediately(c: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "BATCH_BELOW", 10)
    with c.writer() as w:
        big, _ = w.add_chunks([b"0123456789abc"])
        small, _ = w.add_chunks([b"tiny"])
        assert c.has(big)
        assert not c.has(small)
    assert c.has(small)


def test_exception_inside_writer_leaves_no_temp_and_no_object(c: Cache) -> None:
    with pytest.raises(RuntimeError):
        with c.writer() as w:
            oid, _ = w.add_chunks([b"doomed"])
            raise RuntimeError("boom")
    assert not c.has(oid)
    assert tmp_files(c) == []
    assert all_files(c.root) == []


def test_failing_chunk_source_leaves_no_temp(c: Cache) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("read failed")

    with pytest.raises(OSError):
        with c.writer() as w:
            w.add_chunks(chunks())
    assert tmp_files(c) == []
    assert all_files(c.root) == []


def test_failing_chunk_source_keeps_earlier_objects_of_the_writer(c: Cache) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("read failed")

    with c.writer() as w:
        good, _ = w.add_chunks([b"good"])
        with pytest.raises(OSError):
            w.add_chunks(chunks())
    assert c.has(good)
    assert tmp_files(c) == []
    assert all_files(c.root) == [c.path(good)]


def test_verify_detects_corruption(c: Cache) -> None:
    oid = c.add_bytes(b"precious")
    assert c.verify(oid)
    path = c.path(oid)
    path.chmod(0o644)
    path.write_bytes(b"precioUs")
    assert not c.verify(oid)


def test_verify_of_a_dir_object(c: Cache) -> None:
    with c.writer() as w:
        oid, _ = w.add_chunks([b"[]"], suffix=".dir")
    assert oid == hash_bytes(b"[]") + ".dir"
    assert c.verify(oid)
    c.path(oid).chmod(0o644)
    c.path(oid).write_bytes(b"[ ]")
    assert not c.verify(oid)


def test_dir_object_layout_and_listing(c: Cache) -> None:
    manifest = b'[{"blake3":"' + OID.encode() + b'","relpath":"a","size":1}]'
    with c.writer() as w:
        dir_oid, _ = w.add_chunks([manifest], suffix=".dir")
        file_oid, _ = w.add_chunks([b"file"])
        # the same bytes as a file object are a different object
        plain, _ = w.add_chunks([manifest])
    assert dir_oid == hash_bytes(manifest) + ".dir"
    assert plain == hash_bytes(manifest)
    assert c.path(dir_oid) == c.objects / dir_oid[:2] / (dir_oid[2:64] + ".dir")
    assert c.has(dir_oid) and c.has(plain)
    assert sorted(c.iter_oids()) == sorted([dir_oid, file_oid, plain])


def test_iter_oids_of_an_empty_cache(c: Cache) -> None:
    assert list(c.iter_oids()) == []


def test_iter_oids_skips_stray_files(c: Cache) -> None:
    oid = c.add_bytes(b"real")
    (c.objects / oid[:2] / "junk").write_bytes(b"")
    (c.objects / oid[:2] / (oid[2:] + ".tmp")).write_bytes(b"")
    (c.objects / "README").write_bytes(b"")
    assert list(c.iter_oids()) == [oid]


@pytest.mark.parametrize("bad", ["", "abc", OID.upper(), OID[:63], OID + "0", OID + ".DIR",
                                 OID + ".dir.dir", ".dir", "../" + OID[3:], "g" * 64,
                                 OID[:2] + "/" + OID[3:]])
def test_split_oid_rejects(bad: str, c: Cache) -> None:
    with pytest.raises(CorruptObject):
        split_oid(bad)
    with pytest.raises(DatavcError):
        c.path(bad)


def test_split_oid() -> None:
    assert split_oid(OID) == (OID, False)
    assert split_oid(OID + ".dir") == (OID, True)


def test_open_missing_object(c: Cache) -> None:
    with pytest.raises(ObjectMissing):
        c.open(OID)
    assert not c.has(OID)
