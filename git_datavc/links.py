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
from .fsutil import unlink_quietly

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
NOT_SUPPORTED = {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM, errno.EMLINK,
                 errno.EINVAL, errno.ENOTTY, errno.ENOSYS}
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def _reflink(src: str, dst: str) -> None:
    import fcntl

    with open(src, "rb") as s:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.ioctl(fd, FICLONE, s.fileno())
        except OSError:
            os.close(fd)
            os.unlink(dst)
            raise
        os.close(fd)


def _copy(src: str, dst: str) -> None:
    shutil.copyfile(src, dst)


_LINKERS: dict[str, Callable[[str, str], None]] = {
    "reflink": _reflink, "hardlink": os.link, "symlink": os.symlink, "copy": _copy,
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
        kind = self._link(src, tmp)
        try:
            if kind in ("copy", "reflink"):
                mode = 0o755 if isexec else 0o644
                os.chmod(tmp, mode & ~0o222 if self.protected else mode)
            os.replace(tmp, dst)
        except BaseException:
            unlink_quietly(tmp)
            raise
        return kind

    def _link(self, src: str, tmp: str) -> str:
        while self.types:
            kind = self.types[0]
            try:
                _LINKERS[kind](src, tmp)
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
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}.datavc-tmp-{os.getpid()}")
