"""Small filesystem helpers shared by the cache, the links and the local remote."""

from __future__ import annotations

import errno
import itertools
import os
from typing import Any

_counter = itertools.count()
COPY_CHUNK = 8 << 20


def create_temp(directory: str | os.PathLike[str], prefix: str = "tmp-",
                mode: int = 0o600) -> tuple[int, str]:
    """A new empty file (fd, path) in `directory`: `PREFIX<pid>-<n>`, made with O_EXCL.
    Cheaper than mkstemp's random names, and as safe: a name taken (a crashed run's
    leftover, another host on a shared mount) is skipped. A read-only `mode` still gives
    a writable fd (and spares a chmod)."""
    pid = os.getpid()
    while True:
        path = f"{directory}/{prefix}{pid}-{next(_counter)}"
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode), path
        except FileExistsError:
            continue


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def expand_user(path: str) -> str:
    """`~` and `~user` expanded as the shell would; a path that cannot be (no such user, a
    NUL byte, no home) is kept as written, and fails later where it is used."""
    try:
        return os.path.expanduser(path)
    except (ValueError, KeyError, RuntimeError):
        return path


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


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename into the folder `path` durable (the file itself was fsynced before)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: str | os.PathLike[str]) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def copy_fd(src: int, dst: int, size: int, durable: bool = False) -> int:
    """Copy the `size` bytes of `src` (objects never change) to `dst`: copy_file_range
    (reflinks where the filesystem can; one call for a small file), else plain reads and
    writes. Memory stays at one chunk. `durable`: the caller fsyncs `dst` next, so each
    chunk starts on its way to the disk as soon as it is copied, and the fsync finds little
    left to write (the copy and the disk work side by side instead of one after the other)."""
    flush = start_writeback if durable and size > COPY_CHUNK else None
    total = 0
    try:
        while total < size:
            n = os.copy_file_range(src, dst, min(COPY_CHUNK, size - total))
            if not n:
                break
            if flush:
                flush(dst, total, n)
            total += n
        return total
    except (AttributeError, OSError) as e:
        if isinstance(e, OSError) and e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL,
                                                      errno.EOPNOTSUPP, errno.EBADF):
            raise
    while chunk := os.read(src, COPY_CHUNK):
        write_all(dst, chunk)
        if flush:
            flush(dst, total, len(chunk))
        total += len(chunk)
    return total


_sync_file_range: Any = None
SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing these bytes of `fd` to disk, without waiting
    (sync_file_range(2), Linux; elsewhere nothing). A hint: errors are ignored."""
    global _sync_file_range
    if _sync_file_range is None:
        try:
            import ctypes

            func = ctypes.CDLL(None, use_errno=True).sync_file_range
            func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            _sync_file_range = func
        except (OSError, AttributeError):
            _sync_file_range = False
    if _sync_file_range:
        _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)
