"""BLAKE3 hashing: streaming, memory-flat, multi-threaded for large inputs."""

from __future__ import annotations

import os
import re
from typing import IO, Any

CHUNK = 1 << 20  # read size; large chunks let blake3 use several threads
THREADED_FROM = 16 << 20  # below this, threads cost more than they give
_OID = re.compile(r"[0-9a-f]{64}")


def is_oid(text: str) -> bool:
    """A file object id: 64 lowercase hex digits."""
    return bool(_OID.fullmatch(text))


def new_hasher(size_hint: int = 0) -> Any:
    import blake3

    if size_hint >= THREADED_FROM:
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


def hash_bytes(data: bytes) -> str:
    hasher = new_hasher(len(data))
    hasher.update(data)
    return str(hasher.hexdigest())


def hash_stream(stream: IO[bytes], size_hint: int = 0) -> tuple[str, int]:
    """Hash everything left in `stream`; returns (oid, bytes read)."""
    hasher = new_hasher(size_hint)
    total = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = stream.readinto(view)  # type: ignore[attr-defined]
        if not n:
            return str(hasher.hexdigest()), total
        hasher.update(view[:n])
        total += n


SMALL = 1 << 20


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Hash a file's bytes; returns (oid, size). Small files take one read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size <= SMALL:
            data = os.read(fd, size + 1)
            while len(data) <= size and (more := os.read(fd, SMALL)):
                data += more
            if len(data) <= SMALL:
                return hash_bytes(data), len(data)
            hasher = new_hasher(len(data))
            hasher.update(data)
            total = len(data)
        else:
            hasher, total = new_hasher(size), 0
        while chunk := os.read(fd, CHUNK):
            hasher.update(chunk)
            total += len(chunk)
        return str(hasher.hexdigest()), total
    finally:
        os.close(fd)
