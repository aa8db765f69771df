"""clean and smudge of one file (DESIGN §4), over a real cache, writer and stat cache."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from git_datavc import filters, pointer
from git_datavc.cache import Cache
from git_datavc.errors import CorruptObject
from git_datavc.filters import FilterContext
from git_datavc.hashing import hash_bytes
from git_datavc.pointer import Pointer
from git_datavc.state import State


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FilterContext]:
    monkeypatch.setattr(filters, "HINT_FROM", 0)  # keep hints for the tests' small files
    cache = Cache(tmp_path / ".git" / "datavc" / "cache")
    state = State(tmp_path / ".git" / "datavc" / "state.db", table="clean_hints")
    with cache.writer() as writer:
        yield FilterContext(cache, writer, state, root=tmp_path)
    state.close()


def cache_files(ctx: FilterContext) -> list[Path]:
    return sorted(p for p in ctx.cache.root.rglob("*") if p.is_file())


def chunked(data: bytes, size: int = 7) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def smudge(ctx: FilterContext, pathname: str, data: bytes) -> bytes:
    return b"".join(filters.smudge(ctx, pathname, chunked(data)))


# --- clean ------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"x", b"hello world\n", os.urandom(201), os.urandom(70000)],
                         ids=["1", "12", "201", "70000"])
def test_clean_content_gives_its_pointer_and_stores_it(ctx: FilterContext, data: bytes) -> None:
    out = filters.clean(ctx, "not-on-disk.bin", chunked(data, 4096))
    assert out == Pointer(hash_bytes(data), len(data)).encode()
    ctx.writer.flush()
    ptr = pointer.parse(out)
    assert ptr is not None and ctx.cache.has(ptr.oid)
    assert ctx.cache.path(ptr.oid).read_bytes() == data


def test_clean_of_a_valid_pointer_passes_it_through(ctx: FilterContext) -> None:
    ptr = Pointer(hash_bytes(b"elsewhere"), 9).encode()
    assert filters.clean(ctx, "p.bin", chunked(ptr)) == ptr
    ctx.writer.flush()
    assert cache_files(ctx) == []


def test_clean_of_empty_is_empty(ctx: FilterContext) -> None:
    assert filters.clean(ctx, "empty.bin", iter([])) == b""
    assert filters.clean(ctx, "empty.bin", iter([b"", b""])) == b""
    ctx.writer.flush()
    assert cache_files(ctx) == []


def test_clean_of_a_damaged_pointer_stores_it_as_content(
        ctx: FilterContext, capsys: pytest.CaptureFixture[str]) -> None:
    damaged = b"version: datavc/1\nblake3: nothex\nsize: 3\n"
    out = filters.clean(ctx, "d.bin", iter([damaged]))
    assert out == Pointer(hash_bytes(damaged), len(damaged)).encode()
    assert "d.bin" in capsys.readouterr().err


def test_clean_of_pointer_plus_more_is_content(ctx: FilterContext) -> None:
    data = Pointer(hash_bytes(b"a"), 1).encode() + b"more"
    assert filters.clean(ctx, "x.bin", iter([data])) == \
        Pointer(hash_bytes(data), len(data)).encode()


def test_clean_records_the_file_in_the_stat_cache(ctx: FilterContext, tmp_path: Path) -> None:
    data = b"on disk " * 100
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.bin").write_bytes(data)
    backdate(tmp_path / "sub" / "f.bin")
    out = filters.clean(ctx, "sub/f.bin", chunked(data, 100))
    assert ctx.hints is not None
    assert ctx.hints.get(os.stat(tmp_path / "sub" / "f.bin")) == hash_bytes(data)
    assert out == Pointer(hash_bytes(data), len(data)).encode()


def test_clean_of_a_file_written_this_instant_records_no_hint(ctx: FilterContext,
                                                              tmp_path: Path) -> None:
    # racy git: changed again within the clock tick, the file would keep this stat
    data = b"fresh " * 100
    (tmp_path / "f.bin").write_bytes(data)
    filters.clean(ctx, "f.bin", chunked(data, 100))
    assert ctx.hints is not None
    assert ctx.hints.get(os.stat(tmp_path / "f.bin")) is None


def backdate(path: Path, seconds: float = 10) -> None:
    past = time.time_ns() - int(seconds * 1e9) + 123
    os.utime(path, ns=(past, past))


def test_second_clean_of_an_unchanged_file_takes_the_stat_cache(
        ctx: FilterContext, tmp_path: Path) -> None:
    data = os.urandom(5000)
    (tmp_path / "f.bin").write_bytes(data)
    first = filters.clean(ctx, "f.bin", chunked(data, 1000))
    ctx.writer.flush()
    before = cache_files(ctx)
    # Any temp file made and removed in tmp/ would move the directory's mtime off 0.
    os.utime(ctx.cache.tmp, ns=(0, 0))
    second = filters.clean(ctx, "f.bin", chunked(data, 1000))
    assert second == first
    assert os.stat(ctx.cache.tmp).st_mtime_ns == 0, "content was stored again"
    ctx.writer.flush()
    assert cache_files(ctx) == before


def test_stat_cache_is_not_used_when_the_object_is_gone(ctx: FilterContext,
                                                        tmp_path: Path) -> None:
    data = b"will be collected"
    (tmp_path / "f.bin").write_bytes(data)
    first = filters.clean(ctx, "f.bin", iter([data]))
    ctx.writer.flush()
    oid = hash_bytes(data)
    ctx.cache.path(oid).unlink()
    assert filters.clean(ctx, "f.bin", iter([data])) == first
    ctx.writer.flush()
    assert ctx.cache.has(oid)


def test_clean_after_the_file_changed_gives_the_new_pointer(ctx: FilterContext,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"version one")
    filters.clean(ctx, "f.bin", iter([b"version one"]))
    path.write_bytes(b"version two!")
    assert filters.clean(ctx, "f.bin", iter([b"version two!"])) == \
        Pointer(hash_bytes(b"version two!"), 12).encode()


def test_clean_of_content_that_is_not_the_file_on_disk_same_size(ctx: FilterContext,
                                                                 tmp_path: Path) -> None:
    # git cleans bytes that are not the work-tree file too: `git hash-object --path=f.bin
    # other`, `git add --renormalize`, merges with renormalize. The pointer must be of the
    # bytes git sent, even when the stat cache knows the file at that path.
    (tmp_path / "f.bin").write_bytes(b"AAAA")
    filters.clean(ctx, "f.bin", iter([b"AAAA"]))
    assert filters.clean(ctx, "f.bin", iter([b"BBBB"])) == \
        Pointer(hash_bytes(b"BBBB"), 4).encode()


def test_clean_of_content_that_is_not_the_file_on_disk_other_size(ctx: FilterContext,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"AAAA")
    filters.clean(ctx, "f.bin", iter([b"AAAA"]))
    assert filters.clean(ctx, "f.bin", iter([b"other size"])) == \
        Pointer(hash_bytes(b"other size"), 10).encode()


def test_clean_of_other_content_does_not_poison_the_stat_cache(ctx: FilterContext,
                                                               tmp_path: Path) -> None:
    # First clean gets bytes that are not the file on disk (same size): the stat cache
    # must not then map the file's stat to those bytes' id.
    (tmp_path / "f.bin").write_bytes(b"AAAA")
    assert filters.clean(ctx, "f.bin", iter([b"BBBB"])) == \
        Pointer(hash_bytes(b"BBBB"), 4).encode()
    assert filters.clean(ctx, "f.bin", iter([b"AAAA"])) == \
        Pointer(hash_bytes(b"AAAA"), 4).encode()


def test_clean_without_a_stat_cache(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    (tmp_path / "f.bin").write_bytes(b"data")
    with cache.writer() as writer:
        ctx = FilterContext(cache, writer, None, root=tmp_path)
        assert filters.clean(ctx, "f.bin", iter([b"data"])) == \
            Pointer(hash_bytes(b"data"), 4).encode()
    assert cache.has(hash_bytes(b"data"))


# --- smudge -----------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 200, 201, 3 << 20])
def test_smudge_of_a_pointer_gives_the_content(ctx: FilterContext, size: int) -> None:
    data = os.urandom(size)
    ptr = filters.clean(ctx, "f.bin", iter([data]))
    ctx.writer.flush()
    assert smudge(ctx, "f.bin", ptr) == data


@pytest.mark.parametrize("data", [b"plain text\n", b"", os.urandom(500),
                                  b"version: datavc/1\nnot a pointer\n"],
                         ids=["text", "empty", "binary", "damaged-pointer"])
def test_smudge_of_anything_else_passes_it_through(ctx: FilterContext, data: bytes) -> None:
    assert smudge(ctx, "f.bin", data) == data


def test_smudge_of_the_empty_object_pointer(ctx: FilterContext) -> None:
    assert filters.EMPTY_OID == hash_bytes(b"")
    assert smudge(ctx, "e.bin", Pointer(hash_bytes(b""), 0).encode()) == b""


def test_smudge_with_missing_object_gives_the_pointer_back(
        ctx: FilterContext, capsys: pytest.CaptureFixture[str]) -> None:
    ptr = Pointer(hash_bytes(b"never stored"), 12).encode()
    assert smudge(ctx, "dir/missing.bin", ptr) == ptr
    assert "dir/missing.bin" in capsys.readouterr().err


def test_smudge_fetches_a_missing_object(ctx: FilterContext) -> None:
    data = b"from the remote"
    oid = hash_bytes(data)
    asked: list[list[str]] = []

    def fetch(oids: list[str]) -> set[str]:
        asked.append(oids)
        ctx.cache.add_bytes(data)
        return {oid}

    ctx.fetch = fetch
    assert smudge(ctx, "f.bin", Pointer(oid, len(data)).encode()) == data
    assert asked == [[oid]]


def test_smudge_when_fetch_fails_gives_the_pointer_back(ctx: FilterContext) -> None:
    ctx.fetch = lambda oids: set()
    ptr = Pointer(hash_bytes(b"nowhere"), 7).encode()
    assert smudge(ctx, "f.bin", ptr) == ptr


def test_smudge_of_a_corrupt_object_raises_after_the_bytes(ctx: FilterContext) -> None:
    data = b"original bytes"
    ptr = filters.clean(ctx, "f.bin", iter([data]))
    ctx.writer.flush()
    path = ctx.cache.path(hash_bytes(data))
    path.chmod(0o644)
    path.write_bytes(b"corrupted byte")
    got = bytearray()
    with pytest.raises(CorruptObject):
        for chunk in filters.smudge(ctx, "f.bin", iter([ptr])):
            got += chunk
    assert bytes(got) == b"corrupted byte"


def test_smudge_of_a_truncated_object_raises(ctx: FilterContext) -> None:
    data = b"original bytes"
    ptr = filters.clean(ctx, "f.bin", iter([data]))
    ctx.writer.flush()
    path = ctx.cache.path(hash_bytes(data))
    path.chmod(0o644)
    path.write_bytes(data[:5])
    with pytest.raises(CorruptObject):
        list(filters.smudge(ctx, "f.bin", iter([ptr])))


def test_smudge_with_pointer_size_not_matching_the_object_raises(ctx: FilterContext) -> None:
    data = b"twelve bytes"
    ctx.cache.add_bytes(data)
    wrong = Pointer(hash_bytes(data), 13).encode()
    with pytest.raises(CorruptObject):
        list(filters.smudge(ctx, "f.bin", iter([wrong])))


def test_peek() -> None:
    head, rest, at_end = filters.peek(iter([b"ab", b"cd"]), limit=3)
    assert (head, at_end) == (b"abcd", False)
    assert list(rest) == []
    head, rest, at_end = filters.peek(iter([b"ab", b"c"]), limit=3)
    assert (head, at_end) == (b"abc", True)
