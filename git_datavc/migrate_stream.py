"""The heart of `migrate`: a filter between `git fast-export --no-data` and `git fast-import`.

fast-export names every file of every commit by its blob id (`M 100644 <sha> <path>`); only
the blobs at selected paths are read (through `migrate_blobs.BlobReader`), converted once
each, and written into the stream as new blobs with marks of our own. The root .gitattributes
of every commit is replaced by its converted version. Nothing else passes through Python
but the commits' text, so history of any size streams in flat memory (a few ids per commit
and per converted blob).

A stream is commands separated by lines; `data N` is followed by N raw bytes. A commit
command is buffered until its end (the blank line) because fast-import takes no `blob`
command inside a commit: the blobs it needs are written first. Refs in the stream are moved
to `refs/datavc/migrate-tmp/`, so fast-import never moves a real ref; annotated tags are
dropped here and rewritten afterwards (`migrate.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from . import git, migrate_blobs, pointer
from .cache import Cache, Writer
from .errors import CorruptObject, ObjectMissing
from .hashing import CHUNK
from .migrate_blobs import BlobReader
from .pathmatch import PathFilter

TMP_NS = b"refs/datavc/migrate-tmp/"
BLOB_MARKS = 1 << 40      # fast-export numbers commits from 1; our blobs' marks start here
ATTRS = b".gitattributes"
FILE_MODES = (b"100644", b"100755")
AttrState = tuple[str, str] | tuple[str, int] | None   # ("sha", id) / ("mark", n) / absent


@dataclass(frozen=True)
class Options:
    mode: str                 # "import" or "export"
    paths: PathFilter
    include: tuple[str, ...]  # the patterns as given, for .gitattributes
    exclude: tuple[str, ...]
    from_lfs: bool = False
    lfs_objects: Path | None = None


@dataclass
class Stats:
    commits: int = 0
    blobs: int = 0            # content blobs that became pointers (export: the reverse)
    content_bytes: int = 0    # their size
    pointer_bytes: int = 0    # the size of their pointers
    lfs_objects: int = 0
    lfs_bytes: int = 0         # what those LFS objects hold (now in the cache too)
    paths: set[str] = field(default_factory=set)


@dataclass
class _Commit:
    lines: list[bytes]
    mark: int = 0
    original: str = ""
    parent: bytes | None = None
    attrs_touched: bool = False
    attrs: str | None = None
    changed: set[bytes] = field(default_factory=set)   # raw paths of its M lines


def tmp_ref(ref: bytes) -> bytes:
    return TMP_NS + (ref[5:] if ref.startswith(b"refs/") else ref)


def quote(raw: bytes) -> bytes:
    """A path for fast-import: C-quoted only when it needs to be."""
    if not raw.startswith(b'"') and b"\n" not in raw:
        return raw
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b'"' + escaped + b'"'


def unquote(raw: bytes) -> str:
    """A path as fast-export writes it: C-quoted when it holds spaces, quotes or odd bytes."""
    if not raw.startswith(b'"'):
        return raw.decode("utf-8", "surrogateescape")
    body, out, i = raw[1:-1], bytearray(), 0
    escapes = {ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13,
               ord("t"): 9, ord("v"): 11}
    while i < len(body):
        c = body[i]
        if c == 0x5C and i + 1 < len(body):
            n = body[i + 1]
            if 0x30 <= n <= 0x37:
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(escapes.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "surrogateescape")


class Rewriter:
    def __init__(self, repo: git.Repo, opts: Options, reader: BlobReader, cache: Cache,
                 writer: Writer, out: IO[bytes]) -> None:
        self.repo = repo
        self.opts, self.reader, self.cache, self.writer, self.out = opts, reader, cache, writer, out
        self.stats = Stats()
        self.commit_original: dict[int, str] = {}     # our commit mark -> original commit id
        self._attrs_of: dict[int, str | None] = {}    # mark -> its original .gitattributes
        self._attrs_memo: dict[str | None, AttrState] = {}
        self._blob_memo: dict[str, int | None] = {}   # original blob -> mark of its new blob
        self._nested_memo: dict[str, int | None] = {}  # the same for deeper .gitattributes
        self._next_mark = BLOB_MARKS

    # --- the stream ------------------------------------------------------------------

    def run(self, stream: IO[bytes]) -> None:
        commit: _Commit | None = None
        in_tag = False
        while line := stream.readline():
            if line.startswith(b"data "):
                payload = _read_exactly(stream, int(line[5:]))
                if commit is not None:
                    commit.lines += [line, payload]
                elif not in_tag:
                    self.out.write(line + payload)
            elif in_tag:
                in_tag = line != b"\n"
            elif commit is not None:
                if line == b"\n":
                    self._finish(commit)
                    commit = None
                else:
                    self._commit_line(commit, line)
            elif line.startswith(b"commit "):
                commit = _Commit([b"commit " + tmp_ref(line[7:-1]) + b"\n"])
            elif line.startswith(b"reset "):
                self.out.write(b"reset " + tmp_ref(line[6:-1]) + b"\n")
            elif line.startswith(b"tag "):
                in_tag = True
            else:       # feature done, done, a reset's `from`, blank lines
                self.out.write(line)

    def _commit_line(self, c: _Commit, line: bytes) -> None:
        if line.startswith(b"M "):
            new = self._modify(c, line)
            if new is not None:
                c.lines.append(new)
            return
        if line.startswith(b"D ") and line[2:-1] == ATTRS:
            c.attrs_touched, c.attrs = True, None
            return
        if line == b"deleteall\n":
            c.attrs_touched, c.attrs = True, None
        elif line.startswith(b"mark :"):
            c.mark = int(line[6:])
        elif line.startswith(b"original-oid "):
            c.original = line[13:-1].decode()
        elif line.startswith(b"from "):
            c.parent = line[5:-1]
        c.lines.append(line)

    def _modify(self, c: _Commit, line: bytes) -> bytes | None:
        mode, blob, raw = line[2:-1].split(b" ", 2)
        c.changed.add(raw)
        if raw == ATTRS:
            c.attrs_touched, c.attrs = True, blob.decode()
            return None         # replaced at the commit's end
        if mode not in FILE_MODES or blob.startswith(b":"):
            return line
        if raw.endswith(b"/.gitattributes"):
            mark = self._nested_attrs(blob.decode())
        else:
            mark = self._replacement(blob.decode(), unquote(raw))
        return line if mark is None else b"M %s :%d %s\n" % (mode, mark, raw)

    def _replacement(self, sha: str, path: str) -> int | None:
        """The mark of the new blob for `sha` at `path`, or None when it stays."""
        if not self.opts.paths.selects(path):
            return None
        if sha not in self._blob_memo:
            self._blob_memo[sha] = self._convert(sha, path)
        mark = self._blob_memo[sha]
        if mark is not None:
            self.stats.paths.add(path)
        return mark

    def _nested_attrs(self, sha: str) -> int | None:
        """A .gitattributes below the root: only --from-lfs changes it (its LFS rules)."""
        if not self.opts.from_lfs:
            return None
        if sha not in self._nested_memo:
            data = self.reader.read(sha) or b""
            new = migrate_blobs.lfs_rules_to_datavc(data)
            self._nested_memo[sha] = None if new == data else self._emit(iter([new]), len(new))
        return self._nested_memo[sha]

    def _boundary(self, c: _Commit) -> None:
        """A commit whose parent is not rewritten (`^REV`) lists only what it changed; its
        other files at selected paths are converted too, so that every rewritten commit
        agrees with its .gitattributes."""
        out = self.repo.git("ls-tree", "-r", "-z", "--full-tree", c.original)
        for record in filter(None, out.split(b"\0")):
            meta, raw = record.split(b"\t", 1)
            mode, kind, sha = meta.split()
            if kind != b"blob" or mode not in FILE_MODES or raw in c.changed or raw == ATTRS:
                continue
            if raw.endswith(b"/.gitattributes"):
                mark = self._nested_attrs(sha.decode())
            else:
                mark = self._replacement(sha.decode(), raw.decode("utf-8", "surrogateescape"))
            if mark is not None:
                c.lines.append(b"M %s :%d %s\n" % (mode, mark, quote(raw)))

    def _finish(self, c: _Commit) -> None:
        if c.parent is not None and not c.parent.startswith(b":"):
            self._boundary(c)
        base, parent_state = self._parent_attrs(c.parent)
        original = c.attrs if c.attrs_touched else base
        self._attrs_of[c.mark] = original
        self.commit_original[c.mark] = c.original
        state = self._attrs_state(original)
        if state != parent_state:
            c.lines.append(_attrs_change(state))
        self.out.write(b"".join(c.lines) + b"\n")
        self.stats.commits += 1

    def _parent_attrs(self, parent: bytes | None) -> tuple[str | None, AttrState]:
        """(original .gitattributes, new .gitattributes) of the first parent."""
        if parent is None:
            return None, None
        if parent.startswith(b":"):
            original = self._attrs_of[int(parent[1:])]
            return original, self._attrs_state(original)
        # A parent outside the rewritten range keeps its tree as it is.
        original = self.reader.sha(parent.decode() + ":.gitattributes")
        return original, (None if original is None else ("sha", original))

    def _attrs_state(self, original: str | None) -> AttrState:
        if original in self._attrs_memo:
            return self._attrs_memo[original]
        data = (self.reader.read(original) or b"") if original else b""
        o = self.opts
        if o.mode == "import":
            new = migrate_blobs.import_attrs(data, o.include, o.exclude, o.from_lfs)
        else:
            new = migrate_blobs.export_attrs(data, o.include, o.exclude)
        state: AttrState
        if new is None:
            state = None
        elif original is not None and new == data:
            state = ("sha", original)
        else:
            state = ("mark", self._emit(iter([new]), len(new)))
        self._attrs_memo[original] = state
        return state

    # --- blobs -----------------------------------------------------------------------

    def _convert(self, sha: str, path: str) -> int | None:
        """The mark of the blob that replaces `sha` at `path`, or None to keep it."""
        size = self.reader.size(sha)
        if size is None:
            return None
        if self.opts.mode == "export":
            return self._to_content(sha, size, path)
        return self._to_pointer(sha, size, path)

    def _to_pointer(self, sha: str, size: int, path: str) -> int | None:
        lfs_only = self.opts.from_lfs and not self.opts.include
        if size == 0:
            return None     # an empty file stays empty, as with the clean filter
        if size <= migrate_blobs.SMALL:
            data = self.reader.read(sha) or b""
            if pointer.parse(data) is not None:
                return None
            lfs = migrate_blobs.parse_lfs(data)
            if lfs is not None and self.opts.lfs_objects is not None:
                ptr = migrate_blobs.lfs_to_datavc(self.writer, self.opts.lfs_objects, lfs, path)
                self.stats.lfs_objects += 1
                self.stats.lfs_bytes += lfs.size
                return self._emit(iter([ptr.encode()]), len(ptr.encode()))
            elif lfs_only:
                return None
            else:
                ptr = pointer.Pointer(self.writer.add_chunks([data], size)[0], size)
        elif lfs_only:
            return None
        else:
            oid, _ = self.writer.add_chunks(self.reader.stream(sha, size), size)
            ptr = pointer.Pointer(oid, size)
        encoded = ptr.encode()
        self.stats.blobs += 1
        self.stats.content_bytes += size
        self.stats.pointer_bytes += len(encoded)
        return self._emit(iter([encoded]), len(encoded))

    def _to_content(self, sha: str, size: int, path: str) -> int | None:
        if size > pointer.MAX_SIZE:
            return None
        ptr = pointer.parse(self.reader.read(sha) or b"")
        if ptr is None:
            return None
        if not self.cache.has(ptr.oid):
            raise ObjectMissing(f"{path}: object {ptr.oid[:12]} is not in the cache",
                                "fetch every version first: git datavc fetch --all-commits")
        if self.cache.size(ptr.oid) != ptr.size:
            raise CorruptObject(f"{path}: cache object {ptr.oid[:12]} has the wrong size",
                                "run git datavc verify")
        self.stats.blobs += 1
        self.stats.content_bytes += ptr.size
        self.stats.pointer_bytes += size
        with self.cache.open(ptr.oid) as f:
            return self._emit(_file_chunks(f), ptr.size)

    def _emit(self, chunks: Iterator[bytes], size: int) -> int:
        mark = self._next_mark
        self._next_mark += 1
        self.out.write(b"blob\nmark :%d\ndata %d\n" % (mark, size))
        for chunk in chunks:
            self.out.write(chunk)
        self.out.write(b"\n")
        return mark


def _attrs_change(state: AttrState) -> bytes:
    if state is None:
        return b"D .gitattributes\n"
    kind, ref = state
    target = (f":{ref}" if kind == "mark" else str(ref)).encode()
    return b"M 100644 " + target + b" .gitattributes\n"


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CorruptObject("git fast-export stopped in the middle of a commit message")
    return data


def _file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk
