"""Layout-2 upkeep: `remote upgrade` (whole objects into packs) and `verify --remote`
(read every object back and check it), over the push and read paths of `packsync`."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .errors import CorruptObject, ObjectMissing, RemoteError
from .fsutil import unlink_quietly
from .hashing import hash_bytes, hash_file
from .packs import Span, blob_bytes, coalesce
from .packsync import READS_IN_FLIGHT, _push, _read_span, retrying

if TYPE_CHECKING:
    from .cache import Cache
    from .remotes import Remote


# -- remote upgrade -------------------------------------------------------------------------

@dataclass
class UpgradeReport:
    moved: int = 0
    bytes: int = 0          # of the objects moved
    stored: int = 0         # pack and index bytes written
    failed: int = 0
    first_error: str = ""


def upgrade(cache: Cache, remote: Remote, jobs: int = 0) -> UpgradeReport:
    """Make `remote` layout 2: write the marker, pack every object stored whole (each
    downloaded, checked against its id, chunked), write the index, then delete the whole
    copies. Killed midway, the remote still reads: the marker says layout 2, and objects
    not yet in an index are read from `files/` as before."""
    from .packed import PackedRemote, read_layout, write_marker
    from .transfer import Result

    packed = remote if isinstance(remote, PackedRemote) else PackedRemote(remote)
    if read_layout(packed.backend) < 2:
        retrying(lambda: write_marker(packed.backend))
    packed.marker_pending = False
    known = packed.index().objects
    loose = [oid for oid in packed.backend.iter_oids() if oid not in known]
    os.makedirs(cache.tmp, exist_ok=True)

    @contextmanager
    def downloaded(oid: str, _: str) -> Iterator[str]:
        fd, tmp = cache.tempfile()
        os.close(fd)
        try:
            retrying(lambda: packed.backend.download(oid, Path(tmp)))
            if hash_file(tmp)[0] != oid.removesuffix(".dir"):
                raise CorruptObject(f"object {oid} on remote {packed.name!r} is corrupt; "
                                    "left as it is")
            yield tmp
        finally:
            unlink_quietly(tmp)

    result = _push(packed, [(oid, "") for oid in loose], jobs, Result(packed=True),
                   downloaded)
    moved = [oid for oid in loose if oid in packed.index().objects]
    packed.backend.delete(moved)
    return UpgradeReport(len(moved), result.bytes, result.sent, len(result.failures),
                         result.failures[0][1] if result.failures else "")


# -- verify --remote ------------------------------------------------------------------------

@dataclass
class VerifyReport:
    objects: int = 0
    blobs: int = 0
    bytes: int = 0                                        # read from the remote
    broken: dict[str, str] = field(default_factory=dict)  # object -> why it cannot be read


def verify_remote(remote: Remote, jobs: int = 0) -> VerifyReport:
    """Read back every object of the remote (packed: every blob, by coalesced range reads;
    whole: every object) and check it against its hash; nothing is written anywhere."""
    from .packed import PackedRemote

    report = VerifyReport()
    if isinstance(remote, PackedRemote):
        index = remote.index()
        report.objects, report.blobs = len(index.objects), len(index.blobs)
        users: dict[str, list[str]] = {}
        for oid in index.objects:
            for blob in index.chunks_of(oid):
                users.setdefault(blob, []).append(oid)
        lock = threading.Lock()

        def check(span: Span) -> None:
            try:
                data = _read_span(remote, span)
            except (ObjectMissing, RemoteError) as e:
                bad = [(b, e.message) for b, _ in span.blobs]
            else:
                bad = []
                with lock:
                    report.bytes += len(data)
                for blob, entry in span.blobs:
                    start = entry.offset - span.offset
                    try:
                        blob_bytes(blob, entry, data[start:start + entry.length])
                    except CorruptObject as e:
                        bad.append((blob, e.message))
            with lock:
                for blob, why in bad:
                    for oid in users.get(blob, ()):
                        report.broken.setdefault(oid, why)

        spans = coalesce(index.blobs.items())
        with ThreadPoolExecutor(max_workers=max(1, min(jobs or remote.jobs,
                                                       READS_IN_FLIGHT))) as pool:
            list(pool.map(check, spans))
        whole = remote.backend
        loose = [oid for oid in whole.iter_oids() if oid not in index.objects]
    else:
        whole, loose = remote, list(remote.iter_oids())
    report.objects += len(loose)
    for oid in loose:
        try:
            data = whole.read_small(oid, 64 << 20)
            if data is None:
                raise _TooBig()
            got, size = hash_bytes(data), len(data)
        except _TooBig:
            fd, tmp = _tempfile()
            try:
                whole.download(oid, Path(tmp))
                got, size = hash_file(tmp)
            finally:
                os.close(fd)
                unlink_quietly(tmp)
        except (ObjectMissing, RemoteError) as e:
            report.broken[oid] = e.message
            continue
        report.bytes += size
        if got != oid.removesuffix(".dir"):
            report.broken[oid] = f"object {oid} is corrupt (its bytes hash to {got[:12]}...)"
    return report


class _TooBig(Exception):
    pass


def _tempfile() -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix="datavc-verify-")
