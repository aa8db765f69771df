"""Small filesystem helpers shared by the cache, the links and the local remote."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def sync_filesystem(path: str | os.PathLike[str]) -> None:
    """syncfs(2) on the filesystem holding `path` (Linux): one call makes every file
    written there durable. os.sync() elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def unlink_quietly(path: str | os.PathLike[str]) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
