"""The filter-mode pointer: the three-line blob git stores for a tracked path."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DatavcError
from .hashing import is_oid

VERSION_LINE = b"version: datavc/1\n"
MAX_SIZE = 200  # a pointer is ~100 bytes; anything larger is content


@dataclass(frozen=True)
class Pointer:
    oid: str
    size: int

    def __post_init__(self) -> None:
        if not is_oid(self.oid):
            raise DatavcError(f"invalid blake3 hash {self.oid!r} in pointer")
        if self.size < 0:
            raise DatavcError(f"invalid size {self.size} in pointer")

    def encode(self) -> bytes:
        return b"%sblake3: %s\nsize: %d\n" % (VERSION_LINE, self.oid.encode(), self.size)


def parse(data: bytes) -> Pointer | None:
    """The pointer in `data`, or None when `data` is not exactly a canonical pointer."""
    if len(data) > MAX_SIZE or not data.startswith(VERSION_LINE):
        return None
    lines = data[len(VERSION_LINE):].split(b"\n")
    if len(lines) != 3 or lines[2] != b"":
        return None
    oid_line, size_line = lines[0], lines[1]
    if not oid_line.startswith(b"blake3: ") or not size_line.startswith(b"size: "):
        return None
    oid = oid_line[8:].decode("ascii", "replace")
    size_text = size_line[6:]
    if not size_text.isdigit() or (size_text.startswith(b"0") and size_text != b"0"):
        return None
    if not is_oid(oid):
        return None
    return Pointer(oid, int(size_text))


def looks_like_pointer(data: bytes) -> bool:
    """Starts like a pointer (used to warn about damaged pointers rather than store them)."""
    return data.startswith(VERSION_LINE)
