"""A remote on a server reached over SSH, through paramiko's SFTP client.

paramiko because it is pure Python with wheels everywhere, speaks SFTP (including OpenSSH's
posix-rename and fsync extensions) and is thread-safe at the channel level; it needs
nothing on the server but a stock sshd. One TCP connection carries a pool of at most
`CHANNELS` SFTP channels that the worker threads borrow one operation at a time, so
parallel transfers do not pay for a handshake each, and a stock sshd (MaxSessions 10)
never refuses a channel however many jobs run.

Layout as in the cache, under the URL's path. Uploads go to `PATH/tmp/` (outside `files/`),
are made read-only, and are moved into place with posix-rename, so a listing never sees a
partial object.

Host keys (like OpenSSH's `StrictHostKeyChecking`): `remote.NAME.stricthostkeychecking`
is `yes` by default: the server's key must already be in ~/.ssh/known_hosts,
/etc/ssh/ssh_known_hosts or `remote.NAME.knownhostsfile`. `accept-new` accepts and saves
the key of a host never seen before; `no` accepts it without saving. A key that differs
from a known one is always refused. User, port, key file: the URL and `remote.NAME.user`,
`port`, `keyfile`, then ~/.ssh/config, then paramiko's defaults (agent, ~/.ssh/id_*).
"""

from __future__ import annotations

import errno
import getpass
import os
import posixpath
import socket
import stat
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, ContextManager, Iterable, Iterator

from ..errors import ObjectMissing, RemoteError
from . import (OBJECTS, KeyInfo, RemoteURL, mapped_errors, missing_by_prefix, object_key,
               valid_oid)

if TYPE_CHECKING:
    from ..config import Settings

CHUNK = 1 << 20
CHANNELS = 8        # SFTP channels on the connection; a stock sshd allows 10 (MaxSessions)
PREFETCH_FROM = 1 << 20
WINDOW = 1 << 27
POLICIES = ("yes", "accept-new", "no")


class SSHRemote:
    def __init__(self, name: str, url: str, parsed: RemoteURL, settings: Settings,
                 jobs: int) -> None:
        self.name, self.url, self.jobs = name, url, jobs
        opt = lambda key: settings.get(f"remote.{name}.{key}") or ""  # noqa: E731
        host_cfg = _ssh_config(parsed.host)
        self.host = host_cfg.get("hostname", parsed.host)
        self.user = parsed.user or opt("user") or host_cfg.get("user") or getpass.getuser()
        port = str(parsed.port or opt("port") or host_cfg.get("port") or 22)
        if not port.isdigit():
            raise RemoteError(f"remote.{name}.port must be a number, not {port!r}")
        self.port = int(port)
        self.keyfile = opt("keyfile") or None
        self.keyfiles = [os.path.expanduser(self.keyfile)] if self.keyfile else \
            [os.path.expanduser(k) for k in host_cfg.get("identityfile", [])] or None
        self.known_hosts = os.path.expanduser(opt("knownhostsfile")) or None
        self.policy = (opt("stricthostkeychecking") or "yes").lower()
        if self.policy not in POLICIES:
            raise RemoteError(f"remote.{name}.stricthostkeychecking must be one of "
                              f"{', '.join(POLICIES)}, not {self.policy!r}")
        self.root = parsed.path.rstrip("/") or "."
        self._lock = threading.RLock()   # error mapping may reset while connecting
        self._slots = threading.BoundedSemaphore(CHANNELS)
        self._idle: list[tuple[int, Any]] = []     # (generation, channel) free for a borrower
        self._client: Any = None
        self._generation = 0
        self._made: set[str] = set()
        with self._channel():   # connect now: a wrong host or key is reported before any work
            pass

    # -- connection -------------------------------------------------------------------------

    @contextmanager
    def _channel(self) -> Iterator[Any]:
        """Borrow an SFTP channel on the shared connection (made or remade on demand); at
        most CHANNELS at a time, the other threads wait. Errors come out mapped."""
        with self._slots:
            generation, sftp = self._take()
            try:
                yield sftp
            finally:
                with self._lock:
                    if generation == self._generation and self.connected():
                        self._idle.append((generation, sftp))
                    else:
                        _close_quietly(sftp)

    def _take(self) -> tuple[int, Any]:
        with self._lock:
            if not self.connected():
                self._close_client()
                self._client = self._connect()
                self._generation += 1
            while self._idle:
                generation, sftp = self._idle.pop()
                if generation == self._generation:
                    return generation, sftp
                _close_quietly(sftp)
            generation, client = self._generation, self._client
        with self._errors("open a channel to"):
            sftp = client.open_sftp()
            sftp.get_channel().in_window_size = WINDOW
        return generation, sftp

    def _connect(self) -> Any:
        import paramiko

        client = paramiko.SSHClient()
        known = [p for p in ("/etc/ssh/ssh_known_hosts", "~/.ssh/known_hosts",
                             self.known_hosts) if p and os.path.isfile(os.path.expanduser(p))]
        for path in known:
            client.load_host_keys(os.path.expanduser(path))  # the last one loaded is saved to
        if self.policy == "accept-new":
            save = self.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
            Path(save).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            Path(save).touch(mode=0o600)
            client.load_host_keys(save)
        if self.policy != "yes":
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        with self._errors("connect to"):
            client.connect(self.host, self.port, self.user, key_filename=self.keyfiles,
                           timeout=15, banner_timeout=15, auth_timeout=15)
        return client

    def connected(self) -> bool:
        with self._lock:
            transport = self._client.get_transport() if self._client is not None else None
            return transport is not None and transport.is_active()

    def _reset(self) -> None:
        """Drop a broken connection; the next call reconnects."""
        with self._lock:
            self._close_client()

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()    # closes its channels too
            self._client = None
        self._idle.clear()

    def close(self) -> None:
        self._reset()

    # -- listing ----------------------------------------------------------------------------

    def missing(self, oids: Collection[str]) -> set[str]:
        return missing_by_prefix(oids, self._list_prefix, self.jobs)

    def _list_prefix(self, prefix: str) -> list[str]:
        with self._channel() as sftp, self._errors("list"):
            try:
                return list(sftp.listdir(f"{self.root}/{OBJECTS}/{prefix}"))
            except FileNotFoundError:
                return []

    def iter_oids(self) -> Iterator[str]:
        with self._channel() as sftp, self._errors("list"):
            try:
                prefixes = sorted(sftp.listdir(f"{self.root}/{OBJECTS}"))
            except FileNotFoundError:
                return
        for prefix in prefixes:
            if len(prefix) == 2:
                yield from (prefix + name for name in sorted(self._list_prefix(prefix))
                            if valid_oid(prefix + name))

    # -- objects ----------------------------------------------------------------------------

    def upload(self, oid: str, src: str) -> None:
        with open(src, "rb", buffering=0) as f, self._channel() as sftp, \
                self._errors(f"upload {oid} to"):
            tmp_dir = f"{self.root}/tmp"
            final = f"{self.root}/{object_key(oid)}"
            self._ensure_dir(sftp, tmp_dir)
            tmp = f"{tmp_dir}/{oid[:16]}-{uuid.uuid4().hex}"
            try:
                with sftp.open(tmp, "wb") as out:
                    out.set_pipelined(True)
                    while chunk := f.read(CHUNK):
                        out.write(chunk)
                    out.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                self._ensure_dir(sftp, posixpath.dirname(final))
                sftp.posix_rename(tmp, final)
            except BaseException:
                _remove_quietly(sftp, tmp)
                raise

    def read_small(self, oid: str, limit: int) -> bytes | None:
        with self._channel() as sftp, self._errors(f"download {oid} from", oid):
            with sftp.open(f"{self.root}/{object_key(oid)}", "rb") as f:
                size = f.stat().st_size
                if size >= limit:
                    return None
                if size >= PREFETCH_FROM:
                    f.prefetch(size)
                return bytes(f.read())

    def download(self, oid: str, dst: Path) -> None:
        # errors writing `out` are the caller's disk, not ours
        with open(dst, "wb") as out, self._channel() as sftp:
            with self._errors(f"download {oid} from", oid):
                f = sftp.open(f"{self.root}/{object_key(oid)}", "rb")
            with f:
                with self._errors(f"download {oid} from", oid):
                    size = f.stat().st_size
                    if size >= PREFETCH_FROM:
                        f.prefetch(size)
                while True:
                    with self._errors(f"download {oid} from", oid):
                        chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)

    def delete(self, oids: Iterable[str]) -> None:
        self.delete_keys(object_key(oid) for oid in oids)

    def sweep(self, older_than: float) -> int:
        removed, now, tmp_dir = 0, time.time(), f"{self.root}/tmp"
        with self._channel() as sftp, self._errors("clean up"):
            try:
                entries = sftp.listdir_attr(tmp_dir)
            except FileNotFoundError:
                return 0
            for entry in entries:
                if now - (entry.st_mtime or now) > older_than:
                    _remove_quietly(sftp, f"{tmp_dir}/{entry.filename}")
                    removed += 1
        return removed

    def flush(self) -> None:
        pass    # each upload is renamed into place before `upload` returns

    # -- named files (layout v2) ------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes | memoryview) -> None:
        with self._channel() as sftp, self._errors(f"upload {key} to"):
            tmp_dir, final = f"{self.root}/tmp", f"{self.root}/{key}"
            self._ensure_dir(sftp, tmp_dir)
            tmp = f"{tmp_dir}/{posixpath.basename(key)[:16]}-{uuid.uuid4().hex}"
            try:
                with sftp.open(tmp, "wb") as out:
                    out.set_pipelined(True)
                    for i in range(0, len(data), CHUNK):
                        out.write(bytes(data[i:i + CHUNK]))
                    out.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                self._ensure_dir(sftp, posixpath.dirname(final))
                sftp.posix_rename(tmp, final)
            except BaseException:
                _remove_quietly(sftp, tmp)
                raise

    def get_bytes(self, key: str) -> bytes:
        return self._read_key(key, 0, -1)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        return self._read_key(key, offset, length)

    def _read_key(self, key: str, offset: int, length: int) -> bytes:
        with self._channel() as sftp, self._errors(f"download {key} from", key):
            with sftp.open(f"{self.root}/{key}", "rb") as f:
                if length < 0:
                    length = max(0, f.stat().st_size - offset)
                if length == 0:
                    return b""
                # readv pipelines the range's SFTP reads instead of one round trip each
                return b"".join(f.readv([(offset, length)]))

    def list_keys(self, folder: str) -> list[KeyInfo]:
        with self._channel() as sftp, self._errors("list"):
            try:
                entries = sftp.listdir_attr(f"{self.root}/{folder}")
            except FileNotFoundError:
                return []
        return sorted((KeyInfo(f"{folder}/{e.filename}", e.st_size or 0, e.st_mtime or 0)
                       for e in entries if stat.S_ISREG(e.st_mode or 0)), key=lambda k: k.key)

    def delete_keys(self, keys: Iterable[str]) -> None:
        with self._channel() as sftp:
            for key in keys:
                with self._errors(f"delete {key} from"):
                    try:
                        sftp.remove(f"{self.root}/{key}")
                    except FileNotFoundError:
                        pass

    def _ensure_dir(self, sftp: Any, path: str) -> None:
        if path in self._made:
            return
        try:
            sftp.stat(path)
        except FileNotFoundError:
            parent = posixpath.dirname(path)
            if parent and parent not in (path, "/", "."):
                self._ensure_dir(sftp, parent)
            try:
                sftp.mkdir(path)
            except OSError:
                sftp.stat(path)     # made by another thread meanwhile; else raise
        self._made.add(path)

    def _errors(self, doing: str, oid: str = "") -> ContextManager[None]:
        return mapped_errors(lambda exc: map_error(self, doing, exc, oid))


def map_error(remote: SSHRemote, doing: str, exc: BaseException,
              oid: str = "") -> RemoteError | ObjectMissing | None:
    import paramiko

    where = f"{remote.user}@{remote.host}:{remote.port}"
    if isinstance(exc, paramiko.BadHostKeyException):
        return RemoteError(f"the host key of {remote.host} does not match the known one",
                           "if the server's key really changed, remove its line from "
                           "known_hosts")
    if isinstance(exc, paramiko.AuthenticationException):
        return RemoteError(f"SSH authentication failed for {where}",
                           f"check remote.{remote.name}.user and remote.{remote.name}.keyfile")
    if isinstance(exc, paramiko.SSHException) and "known_hosts" in str(exc):
        return RemoteError(f"{remote.host}:{remote.port} is not a known host",
                           "connect once with ssh to accept its key, or set remote."
                           f"{remote.name}.stricthostkeychecking accept-new")
    if isinstance(exc, socket.gaierror):
        return RemoteError(f"cannot resolve host {remote.host!r} of remote {remote.name!r}",
                           retriable=True)
    if isinstance(exc, FileNotFoundError) and oid:
        return ObjectMissing(f"object {oid} is not on remote {remote.name!r}")
    if isinstance(exc, PermissionError):
        return RemoteError(f"cannot {doing} remote {remote.name!r} ({where}{remote.root}): "
                           "permission denied")
    if isinstance(exc, (paramiko.SSHException, EOFError, ConnectionError, socket.timeout)) or \
            (isinstance(exc, OSError) and not remote.connected()) or \
            (isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.ECONNRESET,
                                                        errno.EPIPE, errno.ETIMEDOUT,
                                                        errno.EHOSTUNREACH, errno.ENETUNREACH)) \
            or type(exc).__name__ == "NoValidConnectionsError":
        remote._reset()
        verb = "cannot connect to" if doing == "connect to" else "lost the connection to"
        return RemoteError(f"{verb} {where} (remote {remote.name!r})", retriable=True)
    if isinstance(exc, OSError):
        reason = (exc.strerror or str(exc) or type(exc).__name__).splitlines()[0]
        return RemoteError(f"cannot {doing} remote {remote.name!r} ({where}{remote.root}): "
                           f"{reason}")
    return None


def _ssh_config(host: str) -> dict[str, Any]:
    path = os.path.expanduser("~/.ssh/config")
    if not os.path.isfile(path):
        return {}
    import paramiko

    try:
        return dict(paramiko.SSHConfig.from_path(path).lookup(host))
    except Exception:   # a config paramiko cannot parse: ignore it, as if absent
        return {}


def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        sftp.remove(path)
    except Exception:
        pass


def _close_quietly(sftp: Any) -> None:
    """Close a channel whose connection may be gone (an error here must not hide the one
    being raised)."""
    try:
        sftp.close()
    except Exception:
        pass
