"""Remote storage: the `Remote` protocol, URL parsing, and `open_remote`.

Every remote keeps objects in the cache's layout, `files/blake3/<2 hex>/<62 hex>[.dir]`,
under its root. Backends live in `local.py`, `s3.py` and `ssh.py` and are imported only when
a remote of that kind is opened, so boto3 and paramiko never slow down other commands.

Contract for every backend (the transfer queue relies on it):
- methods may be called from several threads at once;
- an object becomes visible under its final name only when all its bytes are there
  (temp name outside `files/` + rename, or an S3 PUT), so an interrupted upload leaves
  nothing partial behind;
- failures are `RemoteError`s (`retriable` for connection trouble) or, for `download` of an
  object the remote lacks, `ObjectMissing`.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Iterator, Protocol
from urllib.parse import unquote, urlsplit

from ..errors import ObjectMissing, RemoteError
from ..fsutil import expand_user
from ..hashing import is_oid

if TYPE_CHECKING:
    from ..config import Settings

OBJECTS = "files/blake3"
LOCAL_JOBS = min(8, 2 * (os.cpu_count() or 1))    # disk-bound: a few per core
S3_JOBS = 32        # small objects are bound by round trips: requests in flight, not cores
SWEEP_AFTER = 24 * 3600   # gc --cloud: an upload this old belongs to no running push
SCHEMES = "a path, file://, s3://bucket/prefix or ssh://[user@]host[:port]/path"


class Remote(Protocol):
    name: str
    url: str
    jobs: int       # default parallelism: `remote.NAME.jobs`, else a per-backend default

    def missing(self, oids: Collection[str]) -> set[str]:
        """The subset of `oids` the remote lacks, found with a few listing calls."""

    def upload(self, oid: str, src: str) -> None:
        """Store the file `src` as object `oid`, atomically."""

    def read_small(self, oid: str, limit: int) -> bytes | None:
        """Object `oid`'s bytes if it is smaller than `limit` bytes, else None (then use
        `download`): many small objects cost no temp file on the way in."""

    def download(self, oid: str, dst: Path) -> None:
        """Write object `oid` to `dst` (a temp path the caller verifies and publishes)."""

    def flush(self) -> None:
        """Make every upload so far durable and visible (backends may batch; S3: no-op)."""

    def delete(self, oids: Iterable[str]) -> None:
        """Remove objects; ids the remote lacks are ignored."""

    def iter_oids(self) -> Iterator[str]:
        """Every object id on the remote."""

    def sweep(self, older_than: float) -> int:
        """Remove what interrupted uploads left behind (temp files, unfinished multipart
        uploads) last touched more than `older_than` seconds ago; returns how many."""

    def close(self) -> None:
        """Release connections; the remote is not used afterwards."""

    # Named files beside the objects (layout v2: `datavc-layout`, `packs/…`, `index/…`).
    # Keys are relative to the remote's root, use '/', and never start with `files/`.

    def put_bytes(self, key: str, data: bytes | memoryview) -> None:
        """Store `data` under `key`, atomically and durably (temp name + rename, or a PUT)."""

    def get_bytes(self, key: str) -> bytes:
        """The bytes under `key`; `ObjectMissing` if there are none."""

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes of `key` from `offset` (fewer only at its end); `ObjectMissing`
        if `key` is not there. Local: seek and read; S3: a GET with a Range header; SSH: an
        SFTP seek and read."""

    def list_keys(self, folder: str) -> list[KeyInfo]:
        """The files directly in `folder` (e.g. "packs"), with size and modification time."""

    def delete_keys(self, keys: Iterable[str]) -> None:
        """Remove named files; keys that are not there are ignored."""


@dataclass(frozen=True)
class KeyInfo:
    key: str            # "packs/ab….pack"
    size: int
    mtime: float        # seconds since the epoch (S3: LastModified)


@dataclass(frozen=True)
class RemoteURL:
    scheme: str             # "local", "s3" or "ssh"
    path: str               # local: directory; s3: key prefix (no slashes at the ends); ssh: path
    host: str = ""          # s3: bucket; ssh: host
    user: str = ""
    port: int = 0


def object_key(oid: str) -> str:
    """`files/blake3/ab/cdef…` for an object id (`.dir` suffix kept)."""
    return f"{OBJECTS}/{oid[:2]}/{oid[2:]}"


def valid_oid(oid: str) -> bool:
    base = oid[:-4] if oid.endswith(".dir") else oid
    return is_oid(base)


def parse_url(url: str) -> RemoteURL:
    """Split a remote URL; anything malformed or of an unknown kind is a `RemoteError`."""
    url = url.strip()
    if not url:
        raise RemoteError("empty remote URL", f"use {SCHEMES}")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if not scheme:
        if re.match(r"[^/]+:", url) and not re.match(r"[A-Za-z]:[\\/]", url):
            raise RemoteError(f"remote URL {url!r} looks like scp syntax",
                              "write ssh://host/path, or ./name for a local directory")
        return RemoteURL("local", expand_user(url))
    kind = scheme.group(1).lower()
    try:
        parts = urlsplit(url)
        port = parts.port or 0
    except ValueError as e:
        raise RemoteError(f"malformed remote URL {url!r}: {e}") from None
    if parts.query or parts.fragment:
        raise RemoteError(f"malformed remote URL {url!r}: no '?' or '#' allowed")
    if kind == "file":
        if parts.netloc not in ("", "localhost"):
            raise RemoteError(f"file:// URL {url!r} names a host",
                              "use file:///absolute/path, or ssh:// for another machine")
        if not parts.path:
            raise RemoteError(f"file:// URL {url!r} has no path")
        return RemoteURL("local", unquote(parts.path))
    if kind == "s3":
        return _s3_url(url, parts.netloc, parts.path, port)
    if kind == "ssh":
        return _ssh_url(url, parts.hostname or "", parts.username or "", port, parts.path)
    raise RemoteError(f"unsupported remote URL scheme {kind!r} in {url!r}", f"use {SCHEMES}")


def _s3_url(url: str, bucket: str, path: str, port: int) -> RemoteURL:
    # Bucket names: 3-63 of lowercase letters, digits, '.', '-' (dots allowed for old buckets).
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-_]{1,62}", bucket) or port:
        raise RemoteError(f"malformed S3 URL {url!r}: no valid bucket name",
                          "use s3://bucket/prefix (set the server with remote.NAME.endpointurl)")
    return RemoteURL("s3", unquote(path).strip("/"), host=bucket)


def _ssh_url(url: str, host: str, user: str, port: int, path: str) -> RemoteURL:
    if not host:
        raise RemoteError(f"malformed SSH URL {url!r}: no host", "use ssh://[user@]host[:port]/path")
    path = unquote(path)
    if path.startswith("/~/"):          # ssh://host/~/data: relative to the login directory
        path = path[3:]
    elif path in ("", "/", "/~"):
        raise RemoteError(f"SSH URL {url!r} has no path", "use ssh://[user@]host[:port]/path")
    return RemoteURL("ssh", path, host=host, user=unquote(user), port=port)


def open_remote(name: str, settings: Settings, index_cache: Path | None = None) -> Remote:
    """The remote `name` of `settings`, connected lazily or now (SSH connects at once); a
    layout-2 remote (`packed.py`) comes wrapped, its indexes kept in `index_cache`."""
    from ..packed import wrap

    backend = _open_backend(name, settings)
    try:
        return wrap(backend, settings, index_cache)
    except BaseException:
        backend.close()
        raise


def _open_backend(name: str, settings: Settings) -> Remote:
    url = settings.get(f"remote.{name}.url")
    if not url:
        raise RemoteError(f"no remote named {name!r}",
                          "list them with `git datavc remote list`, add one with `remote add`")
    parsed = parse_url(url)
    jobs = _jobs(name, settings)
    if parsed.scheme == "local":
        from .local import LocalRemote

        root = Path(parsed.path)
        return LocalRemote(name, url, root if root.is_absolute() else settings.root / root,
                           jobs or LOCAL_JOBS)
    try:
        if parsed.scheme == "s3":
            from .s3 import S3Remote

            return S3Remote(name, url, parsed, settings, jobs or S3_JOBS)
        from .ssh import CHANNELS, SSHRemote

        # as many as the SFTP channels of its connection: more jobs would only wait
        return SSHRemote(name, url, parsed, settings, jobs or CHANNELS)
    except ImportError as e:    # installed without its dependencies
        raise RemoteError(f"remote {name!r} needs the Python package {e.name!r}",
                          f"pip install {e.name}") from None


def _jobs(name: str, settings: Settings) -> int:
    text = settings.get(f"remote.{name}.jobs")
    if text is None:
        return 0
    if not text.strip().isdigit() or int(text) < 1:
        raise RemoteError(f"remote.{name}.jobs must be a positive number, not {text!r}")
    return int(text)


@contextmanager
def mapped_errors(mapper: Callable[[BaseException], RemoteError | ObjectMissing | None]
                  ) -> Iterator[None]:
    """Turn a backend library's exceptions into one-line errors (`mapper` gives None for
    the ones it does not know, which go on unchanged)."""
    try:
        yield
    except (RemoteError, ObjectMissing):
        raise
    except BaseException as exc:
        mapped = mapper(exc)
        if mapped is None:
            raise
        raise mapped from None


def group_by_prefix(oids: Iterable[str]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for oid in oids:
        groups.setdefault(oid[:2], set()).add(oid)
    return groups


def missing_by_prefix(oids: Collection[str], list_prefix: Callable[[str], Iterable[str]],
                      jobs: int) -> set[str]:
    """`missing()` for stores with a directory per 2-hex prefix: one listing per prefix in use,
    `jobs` listings at a time. `list_prefix("ab")` yields the names in `files/blake3/ab/`."""
    groups = group_by_prefix(oids)

    def lacking(item: tuple[str, set[str]]) -> set[str]:
        prefix, wanted = item
        return wanted.difference(prefix + name for name in list_prefix(prefix))

    if len(groups) <= 1:
        return set().union(*map(lacking, groups.items()))
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(groups)))) as pool:
        return set().union(*pool.map(lacking, groups.items()))
