"""Put a cache object at a workspace path: reflink, hardlink, symlink or copy, in the
order `cache.type` gives, falling back only on the errors that mean "not supported here".

Every placement goes to a temp name beside the target and is renamed over it, so the
target is always either the old file or the whole new one.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import Callable, Sequence

from .errors import DatavcError
from .fsutil import copy_fd, unlink_quietly

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
NOT_SUPPORTED = {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM, errno.EMLINK,
                 errno.EINVAL, errno.ENOTTY, errno.ENOSYS}
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def _reflink(src: str, dst: str, mode: int) -> None:
    import fcntl

    _write_new(src, dst, mode, lambda s, d: fcntl.ioctl(d, FICLONE, s))


def _copy(src: str, dst: str, mode: int) -> None:
    _write_new(src, dst, mode, lambda s, d: copy_fd(s, d, os.fstat(s).st_size))


def _write_new(src: str, dst: str, mode: int, fill: Callable[[int, int], object]) -> None:
    """Create `dst` (a temp name: a leftover of a killed run is replaced) with `mode` (less
    the umask, as git does) and `fill` it from `src`."""
    source = os.open(src, os.O_RDONLY)
    try:
        try:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            os.unlink(dst)
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            fill(source, fd)
        except BaseException:
            os.close(fd)
            os.unlink(dst)
            raise
        os.close(fd)
    finally:
        os.close(source)


def _hardlink(src: str, dst: str, mode: int) -> None:
    _replacing_leftover(os.link, src, dst)


def _symlink(src: str, dst: str, mode: int) -> None:
    _replacing_leftover(os.symlink, src, dst)


def _replacing_leftover(make: Callable[[str, str], None], src: str, dst: str) -> None:
    """make(src, dst) at a temp name; a killed run's leftover there is removed first."""
    try:
        make(src, dst)
    except FileExistsError:
        os.unlink(dst)
        make(src, dst)


_LINKERS: dict[str, Callable[[str, str, int], None]] = {
    "reflink": _reflink, "hardlink": _hardlink, "symlink": _symlink, "copy": _copy,
}


class Linker:
    """Places objects; remembers which link types turned out unsupported."""

    def __init__(self, types: Sequence[str], protected: bool = False) -> None:
        self.types = list(types)
        self.protected = protected

    @property
    def links(self) -> bool:
        """Whether workspace files share storage with the cache (not plain copies)."""
        return self.types[0] != "copy"

    def place(self, src: str, dst: str, isexec: bool = False) -> str:
        """Make `dst` hold the object at `src`; returns the link type used."""
        tmp = _temp_name(dst)
        mode = 0o755 if isexec else 0o644
        kind = self._link(src, tmp, mode & ~0o222 if self.protected else mode)
        try:
            os.replace(tmp, dst)
        except BaseException:
            unlink_quietly(tmp)
            raise
        return kind

    def _link(self, src: str, tmp: str, mode: int) -> str:
        while self.types:
            kind = self.types[0]
            try:
                _LINKERS[kind](src, tmp, mode)
                return kind
            except OSError as e:
                unlink_quietly(tmp)
                if e.errno not in NOT_SUPPORTED or len(self.types) == 1:
                    raise
                self.types.pop(0)  # not supported here: never try it again in this run
        raise DatavcError("no cache.type works on this filesystem")


def is_linked(path: str) -> bool:
    """A symlink, or a file sharing its inode with another name (a hardlink)."""
    st = os.lstat(path)
    return stat.S_ISLNK(st.st_mode) or st.st_nlink > 1


def unprotect(path: str) -> bool:
    """Replace a linked or read-only file by a writable copy; True if it changed."""
    st = os.lstat(path)
    if not (stat.S_ISLNK(st.st_mode) or st.st_nlink > 1 or not st.st_mode & stat.S_IWUSR):
        return False
    tmp = _temp_name(path)
    try:
        shutil.copyfile(path, tmp)
        mode = os.stat(path).st_mode  # a symlink's own mode says nothing about its target
        os.chmod(tmp, 0o755 if mode & stat.S_IXUSR else 0o644)
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise
    return True


def _temp_name(dst: str) -> str:
    """The one temp name for `dst`, the same in every process: a leftover of a killed run
    (which `git status` would list) is replaced by the rerun placing the same file."""
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}.datavc-tmp")
