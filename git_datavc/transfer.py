"""Move objects between the cache and a remote: batched existence check, a bounded pool of
worker threads, per-object retries, verification before anything enters the cache.

    result = transfer.push(cache, remote, oids, jobs)
    result = transfer.fetch(cache, remote, oids, jobs)

Errors about one object (missing on the remote, corrupt download) are recorded and the
others go on. An error about the remote itself (unreachable after retries, access denied,
disk full) stops the queue: the objects not yet tried are recorded as failures with that
message, so a run against a dead server ends in seconds. A failure of the first listing
raises `RemoteError`: nothing was tried. Memory stays flat: files are streamed, never read
whole, and workers pull object ids from one shared iterator instead of one future each.
"""

from __future__ import annotations

import errno
import os
import random
import stat
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .cache import BATCH_BELOW, Cache, Writer
from .errors import CorruptObject, DatavcError, ObjectMissing, RemoteError
from .hashing import hash_bytes, hash_file
from .remotes import Remote, valid_oid
from .fsutil import unlink_quietly

RETRIES = 3
BACKOFF = 0.5           # seconds before the first retry; doubled each time
READ_BELOW = 1 << 20    # objects smaller than this are fetched into memory, not a temp file
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass
class Result:
    transferred: int = 0
    bytes: int = 0
    present: int = 0                # already where they were going
    failures: list[tuple[str, str]] = field(default_factory=list)   # (oid, message)
    error: str = ""                 # the error about the remote that stopped the queue, if any
    hint: str = ""                  # ... and its hint
    left_out: int = 0               # files a partial fetch (fetch.include/exclude) skipped
    packed: bool = False            # a layout-2 remote: `sent` counts the bytes on the wire
    sent: int = 0                   # pack, range and index bytes moved (layout 2)

    def absorb(self, other: "Result") -> None:
        """Add the counts and failures of a later transfer of the same command."""
        self.transferred += other.transferred
        self.bytes += other.bytes
        self.present += other.present
        self.left_out += other.left_out
        self.sent += other.sent
        self.packed = self.packed or other.packed
        self.failures += other.failures
        if not self.error:
            self.error, self.hint = other.error, other.hint

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_for_failures(self, verb: str) -> None:
        """One-line `RemoteError` naming the count and the first failure, if any."""
        if self.failures:
            n, total = len(self.failures), len(self.failures) + self.transferred + self.present
            message = self.error or self.failures[0][1]
            raise RemoteError(f"could not {verb} {n} of {total} objects: {message}",
                              self.hint or f"rerun `git datavc {verb}`: it transfers only "
                              "what is missing")


def to_upload(cache: Cache, remote: Remote, oids: list[str], result: Result) -> list[str]:
    """The objects of `oids` the remote lacks, in order. One the cache lacks is a failure;
    those the remote has count as present (both recorded in `result`)."""
    local = []
    for oid in oids:
        if cache.has(oid):
            local.append(oid)
        else:
            result.failures.append((oid, f"object {oid} is not in the local cache"))
    lacking = remote.missing(local)
    result.present += len(local) - len(lacking)
    return [oid for oid in local if oid in lacking]


def push(cache: Cache, remote: Remote, oids: Iterable[str], jobs: int = 0) -> Result:
    """Upload the objects of `oids` that the remote lacks."""
    result = Result()
    if getattr(remote, "packed", False):
        from . import packsync

        valid = _valid(oids, result)
        result.absorb(packsync.push(cache, remote, valid, jobs))  # type: ignore[arg-type]
        return result
    lacking = to_upload(cache, remote, _valid(oids, result), result)
    sizes = {oid: _size(cache, oid) for oid in lacking}
    todo = sorted(lacking, key=lambda o: -sizes[o])    # big ones first: no lone tail

    def upload(oid: str) -> int:
        with cache.readable(oid) as path:
            remote.upload(oid, path)
        return sizes[oid]

    with _progress(f"push to {remote.name}", sum(sizes.values()), "B") as bar:
        done = _run(todo, upload, jobs or remote.jobs, result, bar, by_bytes=True,
                    local="local file")
        try:
            remote.flush()
        except RemoteError as e:        # the batch was never made visible: none of it counts
            result.failures.extend((oid, e.message) for oid in done)
            result.transferred, result.bytes = 0, 0
    return result


def fetch(cache: Cache, remote: Remote, oids: Iterable[str], jobs: int = 0) -> Result:
    """Download the objects of `oids` missing from the cache; each is verified first."""
    result = Result()
    valid = _valid(oids, result)
    if getattr(remote, "packed", False):
        from . import packsync

        result.absorb(packsync.fetch(cache, remote, valid, jobs))  # type: ignore[arg-type]
        return result
    todo = sorted(set(valid) - cache.present(valid))     # no listing of the remote first:
    result.present = len(valid) - len(todo)               # one it lacks fails on its own
    os.makedirs(cache.tmp, exist_ok=True)
    writer = cache.writer(auto_flush=False)

    def download(oid: str) -> int:
        return _download_verified(cache, remote, writer, oid)

    with _progress(f"fetch from {remote.name}", len(todo), "obj") as bar:
        try:
            _run(todo, download, jobs or remote.jobs, result, bar, by_bytes=False,
                 local=f"the cache in {cache.root}")
        finally:
            writer.flush()      # whatever was verified enters the cache, even after ^C
    return result


def _download_verified(cache: Cache, remote: Remote, writer: Writer, oid: str) -> int:
    """Download, check the hash, publish (small ones in batches). A small object comes as
    bytes, a big one through a temp file in the cache's tmp dir."""
    data = remote.read_small(oid, READ_BELOW)
    if data is not None:
        _check(remote, oid, hash_bytes(data))
        writer.store_verified(data, oid)
        if writer.over_limit():
            writer.flush()
        return len(data)
    fd, tmp = cache.tempfile()
    os.close(fd)
    try:
        remote.download(oid, Path(tmp))
        got, size = hash_file(tmp)
        _check(remote, oid, got)
        if size >= BATCH_BELOW:
            cache.publish_verified(tmp, oid)
            return size
        os.chmod(tmp, READ_ONLY)
    except BaseException:
        unlink_quietly(tmp)
        raise
    writer.adopt({oid: tmp})
    if writer.over_limit():
        writer.flush()
    return size


def _check(remote: Remote, oid: str, got: str) -> None:
    if got != oid.removesuffix(".dir"):
        raise CorruptObject(f"object {oid} from remote {remote.name!r} is corrupt "
                            f"(its bytes hash to {got[:12]}...); it was not stored")


def _valid(oids: Iterable[str], result: Result) -> list[str]:
    """`oids` without duplicates, in order; malformed ids become failures."""
    seen: dict[str, None] = {}
    for oid in oids:
        if valid_oid(oid):
            seen[oid] = None
        else:
            result.failures.append((oid, f"invalid object id {oid!r}"))
    return list(seen)


def _size(cache: Cache, oid: str) -> int:
    try:
        return cache.size(oid)
    except OSError:
        return 0    # gone since `has`: the upload reports it


def _run(todo: list[str], work: Callable[[str], int], jobs: int, result: Result, bar: Any,
         by_bytes: bool, local: str) -> list[str]:
    """Apply `work` to every oid on `jobs` threads; returns the oids done. `local` names the
    local side in messages about local errors that name no file (a full disk)."""
    queue = _Queue(todo, work, result, bar, by_bytes, local)
    threads = [threading.Thread(target=queue.worker, daemon=True,
                                name=f"datavc-transfer-{i}")
               for i in range(max(1, min(jobs, len(todo))))] if todo else []
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException:   # ^C: let the workers finish the object in hand, then stop
        queue.stop.set()
        for t in threads:
            t.join()
        raise
    if queue.crash:
        raise queue.crash[0]
    return queue.done


class _Queue:
    def __init__(self, todo: list[str], work: Callable[[str], int], result: Result, bar: Any,
                 by_bytes: bool, local: str) -> None:
        self.items = iter(todo)
        self.local = local
        self.work, self.result, self.bar, self.by_bytes = work, result, bar, by_bytes
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.done: list[str] = []
        self.crash: list[BaseException] = []

    def worker(self) -> None:
        while True:
            with self.lock:
                oid = next(self.items, None)
            if oid is None:
                return
            if self.stop.is_set():
                self._fail(oid, f"not tried: {self.result.error or 'interrupted'}")
                continue
            try:
                size = self._retrying(oid)
            except (ObjectMissing, CorruptObject) as e:     # this object only
                self._fail(oid, e.message)
            except DatavcError as e:                        # the remote itself: stop
                self._fail(oid, e.message, fatal=True, hint=e.hint)
            except OSError as e:
                fatal = e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
                where = f"local file {e.filename}" if e.filename else self.local
                self._fail(oid, f"{where}: {e.strerror or e}", fatal)
            except BaseException as e:  # a bug: re-raised in the calling thread
                self.crash.append(e)
                self.stop.set()
                return
            else:
                with self.lock:
                    self.result.transferred += 1
                    self.result.bytes += size
                    self.done.append(oid)
                    self.bar.update(size if self.by_bytes else 1)

    def _retrying(self, oid: str) -> int:
        delay = BACKOFF
        for attempt in range(RETRIES + 1):
            try:
                return self.work(oid)
            except RemoteError as e:
                if not e.retriable or attempt == RETRIES or self.stop.is_set():
                    raise
            time.sleep(delay * random.uniform(1, 1.5))
            delay *= 2
        raise AssertionError("unreachable")

    def _fail(self, oid: str, message: str, fatal: bool = False, hint: str = "") -> None:
        with self.lock:
            self.result.failures.append((oid, message))
            if fatal and not self.result.error:
                self.result.error, self.result.hint = message, hint
        if fatal:
            self.stop.set()


class _NoBar:
    def update(self, n: int) -> None:
        pass


@contextmanager
def _progress(desc: str, total: int, unit: str) -> Iterator[Any]:
    """A tqdm bar on stderr when stderr is a terminal; otherwise nothing."""
    if not total or not sys.stderr.isatty():
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
              unit_divisor=1024 if unit == "B" else 1000, dynamic_ncols=True) as bar:
        yield bar
