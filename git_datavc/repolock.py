"""The repository lock: one git-datavc writer at a time.

Commands that write the cache, metafiles, `datavc.lock` or the workspace (add, commit,
checkout, repro, fetch, pull, gc, import-dvc, migrate, unprotect, exp apply, and the
post-checkout, post-merge and post-rewrite hooks when they have work) hold their worktree's
`<git-dir>/datavc/lock`, so two `repro`s, or a `pull` and a `checkout`, never mix their
writes. It is per worktree, as `datavc.lock` and the workspace are: experiments run their
`repro`s side by side in worktrees of their own. `gc`, which deletes from the cache all
worktrees share, takes every worktree's lock. Readers (status, diff, ls-files, push) take
none. Nor do git's filter process and the pre-commit hook: like git's own object writes,
theirs are atomic additions of content-addressed objects while git holds its index.lock,
so a `git add` never waits for a long `repro`.

The lock is an flock(2), which the kernel drops when its holder dies, even by kill -9. The
file says who holds it (pid, host, start, command) for the message of whoever waits. Where
flock is not supported (some network and FUSE filesystems) the lock is instead a file
created with O_EXCL next to it; one whose pid is dead on this host is removed (pid reuse can
make a dead holder look alive: the message names the pid to check).

The lock is re-entrant within a process, and a process started while it is held (a stage's
command, a git hook run by a command's own `git checkout`) runs inside its parent's lock:
the holder's pid is in DATAVC_LOCK_PID.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator

from . import git, output
from .errors import DatavcError

ENV = "DATAVC_LOCK_PID"
POLL_SECONDS = 0.05
UNREADABLE_STALE_AFTER = 10.0  # an O_EXCL lock file still empty this long lost its writer
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, getattr(errno, "ENOTSUP", 95)}

_guard = threading.Lock()
_depth: dict[Path, int] = {}  # lock path -> how many times this process holds it

Release = Callable[[], None]


class LockBusy(DatavcError):
    """Another git-datavc process held the repository lock for the whole timeout."""


@dataclass(frozen=True)
class Holder:
    pid: int
    since: float
    command: str
    host: str = ""

    def encode(self) -> bytes:
        return json.dumps(self.__dict__).encode() + b"\n"

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        host = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"(pid {self.pid}{host}, {self.command!r}) holds the repository lock since {when}"


def read_holder(path: Path) -> Holder | None:
    try:
        fields = json.loads(path.read_bytes() or b"null")
        return Holder(int(fields["pid"]), float(fields["since"]), str(fields["command"]),
                      str(fields.get("host", "")))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # free, being written, or not ours


def hold_repo(repo: git.Repo, command: str, hint: str = "") -> ContextManager[None]:
    """The lock of `repo`'s worktree, with the timeout of core.lockTimeout."""
    from . import config

    return hold(repo.git_dir / "datavc", command, config.load(repo.root).lock_timeout, hint)


@contextmanager
def hold(datavc_dir: Path, command: str, timeout: float, hint: str = "") -> Iterator[None]:
    """Hold the lock in `datavc_dir` (wait up to `timeout` seconds, negative:
    without limit), saying `command` to whoever waits for it meanwhile. `hint`: what to
    tell the user if it cannot be had (default: how to wait longer)."""
    path = datavc_dir / "lock"
    with _guard:
        nested = _depth.get(path, 0) > 0
        _depth[path] = _depth.get(path, 0) + 1
    try:
        release = (lambda: None) if nested else _acquire(path, command, timeout, hint)
        try:
            yield
        finally:
            release()
    finally:
        with _guard:
            _depth[path] -= 1


def _acquire(path: Path, command: str, timeout: float, hint: str) -> Release:
    path.parent.mkdir(parents=True, exist_ok=True)
    me = Holder(os.getpid(), time.time(), command, socket.gethostname())
    deadline = time.monotonic() + timeout
    said = False
    while True:
        release = _take(path, me)
        if release is not None:
            return _with_env(release)
        holder = read_holder(path) or read_holder(_excl_path(path))
        if holder is not None and str(holder.pid) == os.environ.get(ENV):
            return lambda: None  # our parent holds it and waits for us
        if timeout >= 0 and time.monotonic() >= deadline:
            raise LockBusy(f"another git-datavc process {_who(holder)}; wait for it to "
                           "finish or stop it", hint or f"core.lockTimeout in .datavc/config"
                           f".local sets how many seconds to wait (now {timeout:g}; -1: no limit)")
        if not said:
            output.info(f"datavc: waiting: another git-datavc process {_who(holder)}")
            said = True
        time.sleep(POLL_SECONDS)


def _who(holder: Holder | None) -> str:
    return holder.describe() if holder else "holds the repository lock"


def _with_env(release: Release) -> Release:
    before = os.environ.get(ENV)
    os.environ[ENV] = str(os.getpid())

    def undo() -> None:
        release()
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
    return undo


def _take(path: Path, me: Holder) -> Release | None:
    """Take the lock now or return None; flock where the filesystem has it."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return _take_excl(_excl_path(path), me)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError as e:
        os.close(fd)
        if e.errno in _NO_FLOCK:
            return _take_excl(_excl_path(path), me)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, me.encode(), 0)
    except OSError:
        os.close(fd)
        raise

    def release() -> None:
        os.ftruncate(fd, 0)  # before the unlock: a waiter never reads a past holder
        os.close(fd)         # drops the flock
    return release


def _excl_path(path: Path) -> Path:
    return path.with_name(path.name + ".held")


def _take_excl(path: Path, me: Holder) -> Release | None:
    """The lock as a file that exists only while held, for filesystems without flock."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        if _stale(path):
            path.unlink(missing_ok=True)
            return _take_excl(path, me)
        return None
    try:
        os.write(fd, me.encode())
    finally:
        os.close(fd)
    return lambda: path.unlink(missing_ok=True)


def _stale(path: Path) -> bool:
    holder = read_holder(path)
    if holder is None:
        try:
            return time.time() - path.stat().st_mtime > UNREADABLE_STALE_AFTER
        except FileNotFoundError:
            return False
    return holder.host == socket.gethostname() and not _alive(holder.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
