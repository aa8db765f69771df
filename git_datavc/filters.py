"""Clean and smudge of one file over streams: the policy behind git's filter protocol.

clean: content -> pointer (bytes into the cache). A valid pointer passes through unchanged.
smudge: pointer -> content (streamed from the cache). Anything else passes through unchanged.
"""

from __future__ import annotations

import itertools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterable, Iterator

from . import output, pointer
from .cache import WRITE_BUFFER, Cache, Writer
from .errors import CorruptObject, DatavcError
from .hashing import CHUNK, new_hasher
from .pointer import Pointer
from .state import State, same_file

if TYPE_CHECKING:
    from .fetchfilter import FetchFilter

# Seam for the remotes: given object ids missing from the cache, fetch what it can and
# return the ids now present. None until a remote is configured.
Fetcher = Callable[[list[str]], set[str]]


# Below this size storing a file again costs less than keeping a hint for it.
HINT_FROM = 8 << 20


WARN_POINTERS = 10      # per filter process; then one line with the count


@dataclass
class FilterContext:
    cache: Cache
    writer: Writer
    hints: State | None              # the "clean_hints" table: stat -> oid, re-checked
    root: Path                       # the work tree; git runs filters from its top
    fetch: Fetcher | None = None
    smudge_links: Path | None = None  # git dir: link mode, smudge notes paths for the hooks
    # DATAVC_SKIP_SMUDGE: pointers are what the user asked for, no warning about them
    quiet_pointers: bool = field(default_factory=lambda: bool(os.environ.get("DATAVC_SKIP_SMUDGE")))
    pointers_left: int = 0           # files checked out as pointers (their objects missing)
    # partial fetch (fetchfilter.py): paths outside it are never fetched, stay pointers
    # (loaded on the first object missing from the cache: a `git config` call that a
    # checkout with everything cached, or a `git add`, never needs)
    load_fetch_filter: "Callable[[], FetchFilter] | None" = None
    fetch_filter: "FetchFilter | None" = None
    left_out: int = 0

    def wants(self, pathname: str) -> bool:
        if self.fetch_filter is None and self.load_fetch_filter is not None:
            self.fetch_filter, self.load_fetch_filter = self.load_fetch_filter(), None
        return self.fetch_filter is None or self.fetch_filter.selects(pathname)
    # big files smudged from the cache: path -> (object id, pointer blob sha), for the
    # hints recorded when the process ends (smudgehints)
    smudged_big: dict[str, tuple[str, str]] = field(default_factory=dict)

    def left_as_pointer(self, pathname: str, oid: str) -> None:
        """Warn about the first few files left as pointers; `summary` counts the rest."""
        self.pointers_left += 1
        if not self.quiet_pointers and self.pointers_left <= WARN_POINTERS:
            output.warn(f"{pathname}: object {oid[:12]} is not in the cache; "
                        "checked out the pointer instead")

    def summary(self) -> None:
        more = self.pointers_left - WARN_POINTERS
        if more > 0 and not self.quiet_pointers:
            output.warn(f"... and {more} more files checked out as pointers; "
                        "`git datavc pull` fetches their data")


def peek(chunks: Iterable[bytes], limit: int = pointer.MAX_SIZE) -> tuple[bytes, Iterator[bytes], bool]:
    """Read at least `limit`+1 bytes (or everything); returns (head, rest, at_end)."""
    it = iter(chunks)
    head = bytearray()
    for chunk in it:
        head += chunk
        if len(head) > limit:
            return bytes(head), it, False
    return bytes(head), it, True


def clean(ctx: FilterContext, pathname: str, chunks: Iterable[bytes]) -> bytes:
    """What git should store for `pathname`: its pointer, or the content if it is one already."""
    head, rest, at_end = peek(chunks)
    if at_end:
        if not head:
            return b""  # an empty file stays empty, as in Git LFS
        if pointer.parse(head) is not None:
            return head
        if pointer.looks_like_pointer(head):
            output.warn(f"{pathname}: looks like a damaged datavc pointer; storing it as content")
    if not at_end:  # small files (most of them) need no stat: their size is known now
        head, rest, at_end = peek(itertools.chain([head], rest), min(WRITE_BUFFER, HINT_FROM))
    content = itertools.chain([head], rest)
    path = os.path.join(ctx.root, pathname)
    st = _stat(path) if ctx.hints and not at_end else None
    if st is None or st.st_size < HINT_FROM:
        oid, size = ctx.writer.add_chunks(content)
        return Pointer(oid, size).encode()
    assert ctx.hints is not None
    hint = ctx.hints.get(st)
    if hint and ctx.writer.has(hint):
        return _clean_known(ctx, pathname, content, st, hint)
    oid, size = ctx.writer.add_chunks(content, st.st_size)
    after = _stat(path)
    if after and same_file(st, after) and size == after.st_size:
        ctx.hints.put(after, oid)
        ctx.hints.commit()  # now: a nested git command's filter may need the lock
    return Pointer(oid, size).encode()


def _clean_known(ctx: FilterContext, pathname: str, content: Iterable[bytes],
                 st: os.stat_result, hint: str) -> bytes:
    """The file was cleaned (or checked out) before and its stat has not changed since, so
    it holds `hint`. git's bytes are compared with the file's instead of hashed (a read of
    the page cache and a memcmp cost far less than BLAKE3): git may clean bytes that are
    not the file at the path it names (`hash-object --path`, a renormalizing merge)."""
    same = True
    size = 0
    mine = bytearray(COMPARE_BLOCK)    # the file's bytes, read into one reused buffer
    try:
        with open(os.path.join(ctx.root, pathname), "rb", buffering=0) as f:
            for chunk in content:
                if same:
                    if len(chunk) > len(mine):
                        mine = bytearray(len(chunk))
                    # startswith: a memcmp against the buffer's head, no slice copied
                    same = _read_into(f, mine, len(chunk)) and mine.startswith(chunk)
                size += len(chunk)
            same = same and not f.read(1)
            after = os.fstat(f.fileno())
    except OSError:
        same = False
    if same and size == st.st_size and same_file(st, after):
        return Pointer(hint, size).encode()
    for _ in content:
        pass
    assert ctx.hints is not None
    ctx.hints.forget(st)
    ctx.hints.commit()
    raise DatavcError(f"{pathname}: git sent content that is not the file on disk; "
                      "run the command again")


COMPARE_BLOCK = 2 << 20


def _read_into(f: IO[bytes], buf: bytearray, n: int) -> bool:
    """Fill buf[:n] from `f`; False when the file ends first."""
    with memoryview(buf) as view:
        done = 0
        while done < n:
            got = f.readinto(view[done:n])  # type: ignore[attr-defined]
            if not got:
                return False
            done += got
    return True


def _stat(path: str) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def smudge(ctx: FilterContext, pathname: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The work-tree content for what git stored. Raises CorruptObject after the last chunk
    when the cached bytes do not match their id (the caller then reports an error)."""
    head, rest, at_end = peek(chunks)
    ptr = pointer.parse(head) if at_end else None
    if ptr is None:
        if at_end and pointer.looks_like_pointer(head):
            output.warn(f"{pathname}: damaged datavc pointer, checked out as it is")
        yield head
        yield from rest
        return
    if ptr.size == 0 and ptr.oid == EMPTY_OID:
        return
    if not ctx.cache.has(ptr.oid) and not ctx.wants(pathname):
        ctx.left_out += 1   # what the user asked for: no warning
        yield head
        return
    if not ctx.cache.has(ptr.oid) and not _fetch(ctx, ptr.oid):
        ctx.left_as_pointer(pathname, ptr.oid)
        yield head
        return
    if ctx.smudge_links is not None:
        from .filterlinks import note_smudged

        note_smudged(ctx.smudge_links, pathname)
        yield head
        return
    yield from stream_verified(ctx.cache, ptr)
    if ptr.size >= HINT_FROM and ctx.hints is not None:
        from .smudgehints import blob_sha

        ctx.smudged_big[pathname] = (ptr.oid, blob_sha(head))


EMPTY_OID = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


def _fetch(ctx: FilterContext, oid: str) -> bool:
    return bool(ctx.fetch) and oid in ctx.fetch([oid])  # type: ignore[misc]


def stream_verified(cache: Cache, ptr: Pointer) -> Iterator[bytes]:
    """The object's bytes, hashing as they go; CorruptObject at the end on a mismatch."""
    hasher = new_hasher(ptr.size)
    size = 0
    with cache.open(ptr.oid) as f:
        while chunk := f.read(CHUNK * 4):
            hasher.update(chunk)
            size += len(chunk)
            yield chunk
    if size != ptr.size or hasher.hexdigest() != ptr.oid:
        raise CorruptObject(f"cache object {ptr.oid[:12]} is corrupt",
                            "run `git datavc verify` and restore it")
