"""What `migrate` does to one blob or one root .gitattributes: read it from git, turn content
into a datavc pointer (bytes into the cache), a Git LFS pointer into a datavc pointer (the LFS
object into the cache), or a datavc pointer back into its content.

Blobs are read through one `git cat-file --batch-command` process and streamed: a big blob
never sits whole in memory.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

from . import git, install, pointer
from .cache import Writer
from .errors import CorruptObject, GitError, ObjectMissing
from .hashing import CHUNK

SMALL = 1024          # pointers of either kind are far smaller; bigger blobs are content
LFS_VERSIONS = (b"https://git-lfs.github.com/spec/v1", b"https://hawser.github.com/spec/v1")
_LFS_OID = re.compile(rb"sha256:([0-9a-f]{64})")
NOT_TRACKED = "!filter !diff !merge !text"   # an --exclude line: back to git's defaults
# git maps packs in windows of 1 GiB (up to 8 GiB at once): reading every blob of a big
# pack would keep all of it resident. Small windows keep the reader's memory flat.
SMALL_PACK_WINDOWS = ("-c", "core.packedGitWindowSize=16m", "-c", "core.packedGitLimit=64m")


class BlobReader:
    """Sizes and contents of git objects by name, from one long-running cat-file."""

    def __init__(self, repo: git.Repo) -> None:
        self.proc = git.popen(repo, [*SMALL_PACK_WINDOWS, "cat-file", "--batch-command"],
                              stdin=git.PIPE)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout

    def _header(self, command: str, name: str) -> tuple[str, int] | None:
        self._in.write(f"{command} {name}\n".encode("utf-8", "surrogateescape"))
        self._in.flush()
        line = self._out.readline()
        if not line:
            raise GitError("git cat-file stopped unexpectedly")
        parts = line.split()
        if len(parts) != 3:     # "<name> missing" / "ambiguous"
            return None
        if parts[1] != b"blob":
            if command == "contents":
                self._skip(int(parts[2]))
            return None
        return parts[0].decode(), int(parts[2])

    def size(self, name: str) -> int | None:
        """The blob's size; None when `name` is no blob."""
        found = self._header("info", name)
        return None if found is None else found[1]

    def sha(self, name: str) -> str | None:
        found = self._header("info", name)
        return None if found is None else found[0]

    def read(self, name: str) -> bytes | None:
        """A small blob's bytes (a pointer or a .gitattributes)."""
        found = self._header("contents", name)
        if found is None:
            return None
        data = self._read_exactly(found[1])
        self._out.read(1)   # the LF after each object
        return data

    def stream(self, name: str, size: int) -> Iterator[bytes]:
        """A blob's bytes in chunks; must be consumed to the end."""
        found = self._header("contents", name)
        if found is None or found[1] != size:
            raise GitError(f"blob {name} changed while being read")
        left = size
        while left:
            chunk = self._out.read(min(CHUNK, left))
            if not chunk:
                raise GitError("git cat-file stopped in the middle of a blob")
            left -= len(chunk)
            yield chunk
        self._out.read(1)

    def _read_exactly(self, size: int) -> bytes:
        data = self._out.read(size)
        if len(data) != size:
            raise GitError("git cat-file stopped in the middle of a blob")
        return data

    def _skip(self, size: int) -> None:
        for _ in _chunks_of(self._out, size + 1):
            pass

    def close(self) -> None:
        self._in.close()
        self.proc.wait()


def _chunks_of(f: IO[bytes], size: int) -> Iterator[bytes]:
    left = size
    while left:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


# --- Git LFS pointers ---------------------------------------------------------------

@dataclass(frozen=True)
class LfsPointer:
    oid: str      # sha256, 64 hex
    size: int


def parse_lfs(data: bytes) -> LfsPointer | None:
    """The Git LFS pointer in `data` (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md),
    or None. Pointers with extensions (`ext-*` keys) are not taken: their object is not the
    file's content."""
    if not data.startswith(b"version ") or len(data) > SMALL:
        return None
    fields = {}
    for line in data.split(b"\n"):
        if line:
            key, _, value = line.partition(b" ")
            fields[key] = value
    oid = _LFS_OID.fullmatch(fields.get(b"oid", b""))
    size = fields.get(b"size", b"")
    if fields.get(b"version") not in LFS_VERSIONS or not oid or not size.isdigit() \
            or set(fields) != {b"version", b"oid", b"size"}:
        return None
    return LfsPointer(oid.group(1).decode(), int(size))


def lfs_objects_dir(repo: git.Repo) -> Path:
    """Where Git LFS keeps objects: `lfs.storage` (relative to the git dir) or .git/lfs."""
    out = repo.git("config", "--get", "lfs.storage", check=False).decode().strip()
    storage = Path(out) if out else repo.common_dir / "lfs"
    if not storage.is_absolute():
        storage = repo.common_dir / storage
    return storage / "objects"


def lfs_to_datavc(writer: Writer, objects: Path, lfs: LfsPointer, path: str) -> pointer.Pointer:
    """Copy an LFS object into the cache, hashed with BLAKE3 as it streams by, and checked
    against its sha256 in the same pass."""
    source = objects / lfs.oid[:2] / lfs.oid[2:4] / lfs.oid
    try:
        f = open(source, "rb", buffering=0)
    except FileNotFoundError:
        raise ObjectMissing(f"{path}: Git LFS object {lfs.oid[:12]} is not in {objects}",
                            "fetch every LFS object first: git lfs fetch --all") from None
    sha = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            yield chunk

    with f:
        oid, size = writer.add_chunks(chunks(), lfs.size)
    if sha.hexdigest() != lfs.oid or size != lfs.size:
        raise CorruptObject(f"{path}: Git LFS object {lfs.oid[:12]} in {objects} does not "
                            "match its sha256", "fetch it again: git lfs fetch --all")
    return pointer.Pointer(oid, size)


# --- root .gitattributes ------------------------------------------------------------

def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").splitlines()


def _encode(lines: Sequence[str]) -> bytes | None:
    if not any(line.strip() for line in lines):
        return None
    return "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")


def _lfs_to_datavc_line(line: str) -> str:
    parts = line.split()
    if len(parts) < 2 or line.lstrip().startswith("#") or "filter=lfs" not in parts[1:]:
        return line
    swap = {"filter=lfs": "filter=datavc", "diff=lfs": "diff=datavc", "merge=lfs": "merge=datavc"}
    return " ".join([parts[0]] + [swap.get(p, p) for p in parts[1:]])


def lfs_rules_to_datavc(data: bytes) -> bytes:
    """A .gitattributes (in any directory) with its filter=lfs rules made datavc rules."""
    lines = _lines(data)
    new = [_lfs_to_datavc_line(line) for line in lines]
    return data if new == lines else "".join(line + "\n" for line in new).encode(
        "utf-8", "surrogateescape")


def import_attrs(data: bytes, include: Sequence[str], exclude: Sequence[str],
                 from_lfs: bool) -> bytes | None:
    """The root .gitattributes of a rewritten commit: the original lines (their LFS rules
    turned into datavc rules with --from-lfs), then a rule for each --include pattern and a
    "not tracked" line for each --exclude pattern, unless the line is there already."""
    lines = [_lfs_to_datavc_line(line) if from_lfs else line for line in _lines(data)]
    present = {" ".join(line.split()) for line in lines}
    for pattern in include:
        rule = f"{install.escape_pattern(pattern)} {install.ATTRS}"
        if rule not in present:
            lines.append(rule)
    for pattern in exclude:
        rule = f"{install.escape_pattern(pattern)} {NOT_TRACKED}"
        if rule not in present:
            lines.append(rule)
    return _encode(lines)


def export_attrs(data: bytes, include: Sequence[str], exclude: Sequence[str]) -> bytes | None:
    """The root .gitattributes after `migrate export`: without the datavc rules (and the "not
    tracked" lines) of the given patterns; None when nothing is left."""
    patterns = {install.escape_pattern(p) for p in (*include, *exclude)}
    kept = []
    for line in _lines(data):
        parts = line.split()
        ours = len(parts) > 1 and not line.lstrip().startswith("#") and parts[0] in patterns \
            and ("filter=datavc" in parts[1:] or " ".join(parts[1:]) == NOT_TRACKED)
        if not ours:
            kept.append(line)
    return _encode(kept)
