"""The three remote backends against real servers on 127.0.0.1: a local directory, moto's
S3 server and OpenSSH's sshd. Faults are real: corrupted objects on the server, servers
killed in the middle of a push, wrong keys, missing buckets, closed ports."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from git_datavc import transfer
from git_datavc.cache import Cache
from git_datavc.config import Settings
from git_datavc.errors import RemoteError
from git_datavc.hashing import hash_bytes, hash_file
from git_datavc.remotes import Remote, object_key, open_remote, s3, ssh
from tests.servers import (AWS_KEY, MotoServer, SSHServer, aws_env, free_port,  # noqa: F401
                           moto_server, sshd_server, start_moto_with_auth)

pytestmark = pytest.mark.usefixtures("aws_env", "fast_retries")
MIB = 1 << 20


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BACKOFF", 0.01)


@dataclass
class Backend:
    kind: str
    root: Path                       # where the objects are: a local dir, or for S3 unused
    values: dict[str, str]
    server: Any = None
    bucket: str = ""
    opened: list[Remote] = field(default_factory=list)

    def open(self, **extra: str) -> Remote:
        values = {**self.values, **{f"remote.origin.{k}": v for k, v in extra.items()}}
        remote = open_remote("origin", Settings(self.root, values))
        self.opened.append(remote)
        return remote

    def corrupt(self, oid: str, data: bytes) -> None:
        if self.kind == "s3":
            self.server.client().put_object(Bucket=self.bucket, Key=f"pre/{object_key(oid)}",
                                            Body=data)
            return
        path = self.root / "store" / object_key(oid)
        path.chmod(0o644)
        path.write_bytes(data)

    def visible(self) -> list[str]:
        """Object keys a reader of the remote sees under files/."""
        if self.kind == "s3":
            pages = self.server.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix="pre/files/")
            return [o["Key"][4:] for p in pages for o in p.get("Contents", ())]
        base = self.root / "store"
        return [str(p.relative_to(base)) for p in (base / "files").rglob("*") if p.is_file()]


def make_backend(kind: str, tmp_path: Path, moto: MotoServer | None,
                 sshd: SSHServer | None) -> Backend:
    store = tmp_path / "store"
    if kind == "local":
        return Backend(kind, tmp_path, {"remote.origin.url": str(store)})
    if kind == "s3":
        assert moto is not None
        bucket = f"test-{uuid.uuid4().hex[:12]}"
        moto.make_bucket(bucket)
        return Backend(kind, tmp_path, moto.remote_values("origin", f"s3://{bucket}/pre"),
                       moto, bucket)
    assert sshd is not None
    return Backend(kind, tmp_path, sshd.remote_values("origin", store), sshd)


@pytest.fixture(params=["local", "s3", "ssh"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, moto_server: MotoServer,
            sshd_server: SSHServer) -> Iterator[Backend]:
    b = make_backend(request.param, tmp_path, moto_server, sshd_server)
    yield b
    for remote in b.opened:
        remote.close()


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def add_objects(cache: Cache, count: int, size: int = 2000) -> list[str]:
    return [cache.add_bytes(os.urandom(size) + i.to_bytes(4, "big")) for i in range(count)]


def add_dir_object(cache: Cache, oid: str) -> str:
    manifest = json.dumps([{"blake3": oid, "relpath": "a/b", "size": 1}],
                          sort_keys=True, separators=(",", ":")).encode()
    with cache.writer() as w:
        return w.add_chunks([manifest], suffix=".dir")[0]


def counting(remote: Remote, method: str, calls: list[str],
             before: Callable[[int], None] = lambda n: None) -> None:
    """Record the oids passed to `remote.<method>`; `before(n)` runs ahead of the n-th call."""
    real = getattr(remote, method)
    lock = threading.Lock()

    def wrapper(oid: str, path: Path) -> None:
        with lock:
            calls.append(oid)
            n = len(calls)
        before(n)
        real(oid, path)

    setattr(remote, method, wrapper)


# -- every backend ---------------------------------------------------------------------------

def test_push_fetch_round_trip(backend: Backend, cache: Cache, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3, "MULTIPART_FROM", 8 * MIB)     # S3: the 12 MiB one goes multipart
    monkeypatch.setattr(s3, "PART_SIZE", 5 * MIB)
    oids = add_objects(cache, 40) + [cache.add_bytes(os.urandom(12 * MIB)),
                                     cache.add_bytes(b"")]
    oids.append(add_dir_object(cache, oids[0]))
    remote = backend.open()
    pushed = transfer.push(cache, remote, oids, jobs=4)
    assert (pushed.transferred, pushed.present, pushed.failures) == (len(oids), 0, [])
    assert sorted(backend.visible()) == sorted(object_key(o) for o in oids)

    fresh = Cache(tmp_path / "fresh")
    fetched = transfer.fetch(fresh, backend.open(), oids, jobs=4)
    assert (fetched.transferred, fetched.failures) == (len(oids), [])
    assert fetched.bytes == pushed.bytes
    for oid in oids:
        assert fresh.path(oid).read_bytes() == cache.path(oid).read_bytes()
    assert sorted(remote.iter_oids()) == sorted(oids)


def test_missing_and_reruns(backend: Backend, cache: Cache) -> None:
    oids = add_objects(cache, 120)
    remote = backend.open()
    assert remote.missing(oids) == set(oids)
    first = transfer.push(cache, remote, oids[:70])
    assert first.transferred == 70
    assert remote.missing(oids) == set(oids[70:])
    assert remote.missing(oids[:3]) == set()

    uploads: list[str] = []
    counting(remote, "upload", uploads)
    second = transfer.push(cache, remote, oids)
    assert (second.transferred, second.present, second.failures) == (50, 70, [])
    assert sorted(uploads) == sorted(oids[70:])
    third = transfer.push(cache, remote, oids)
    assert (third.transferred, third.present) == (0, 120)

    remote.delete(oids[:10])
    assert remote.missing(oids) == set(oids[:10])


def test_corrupt_object_on_the_remote_is_rejected(backend: Backend, cache: Cache,
                                                  tmp_path: Path) -> None:
    good, bad = add_objects(cache, 2)
    transfer.push(cache, backend.open(), [good, bad])
    backend.corrupt(bad, b"flipped bits")
    fresh = Cache(tmp_path / "fresh")
    result = transfer.fetch(fresh, backend.open(), [good, bad])
    assert result.transferred == 1 and fresh.has(good) and not fresh.has(bad)
    assert [oid for oid, _ in result.failures] == [bad]
    assert "is corrupt" in result.failures[0][1]
    assert list(fresh.iter_oids()) == [good] and os.listdir(fresh.tmp) == []


def test_sweep_removes_only_old_leftovers_of_interrupted_uploads(backend: Backend,
                                                                cache: Cache) -> None:
    remote = backend.open()
    oid = add_objects(cache, 1)[0]
    transfer.push(cache, remote, [oid])
    if backend.kind == "s3":
        client = backend.server.client()
        for key in ("pre/files/blake3/ab/old", "elsewhere/not-ours"):
            client.create_multipart_upload(Bucket=backend.bucket, Key=key)
        # moto dates every multipart upload 2010-11-10, so each one here is "old".
        assert remote.sweep(3600) == 1
        left = client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", [])
        assert [u["Key"] for u in left] == ["elsewhere/not-ours"]   # outside the remote's prefix
    else:
        tmp = backend.root / "store" / "tmp"
        tmp.mkdir(exist_ok=True)
        (tmp / "old").write_bytes(b"partial")
        (tmp / "new").write_bytes(b"in flight")
        os.utime(tmp / "old", (time.time() - 7200, time.time() - 7200))
        assert remote.sweep(3600) == 1
        assert sorted(p.name for p in tmp.iterdir()) == ["new"]
    assert {"".join(key.split("/")[2:]) for key in backend.visible()} == {oid}


def test_fetch_of_objects_the_remote_lacks(backend: Backend, cache: Cache, tmp_path: Path) -> None:
    there, oid = add_objects(cache, 2)
    transfer.push(cache, backend.open(), [there])       # the remote exists, without `oid`
    result = transfer.fetch(Cache(tmp_path / "fresh"), backend.open(), [there, oid])
    assert result.transferred == 1
    assert result.failures == [(oid, f"object {oid} is not on remote 'origin'")]


# -- listing costs -----------------------------------------------------------------------------

def test_s3_missing_costs_a_few_listings(tmp_path: Path, cache: Cache,
                                         moto_server: MotoServer) -> None:
    backend = make_backend("s3", tmp_path, moto_server, None)
    oids = add_objects(cache, 800, size=100)
    remote = backend.open()
    assert transfer.push(cache, remote, oids[:600], jobs=16).transferred == 600
    calls: list[str] = []
    remote.client.meta.events.register(  # type: ignore[attr-defined]
        "before-call.s3", lambda model, **kw: calls.append(model.name))
    assert remote.missing(oids) == set(oids[600:])
    assert set(calls) == {"ListObjectsV2"} and len(calls) <= 16
    calls.clear()
    assert remote.missing(oids[:3]) == set()
    assert calls == ["HeadObject"] * 3          # a few objects: a HEAD each
    calls.clear()
    assert remote.missing(oids[598:602]) == set(oids[600:602])
    assert sorted(calls) == ["HeadBucket"] + ["HeadObject"] * 4   # 404: is the bucket there?
    calls.clear()
    assert transfer.push(cache, remote, oids).transferred == 200
    assert calls.count("ListObjectsV2") <= 16 and calls.count("PutObject") == 200
    remote.close()


def test_s3_fetch_of_a_big_object_is_one_probe_and_a_range_per_thread(
        tmp_path: Path, cache: Cache, moto_server: MotoServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Few big ranges, not many small ones: moto (and other simple servers) read the whole
    # object for every range request.
    monkeypatch.setattr(s3, "MULTIPART_FROM", 8 * MIB)
    monkeypatch.setattr(s3, "PART_SIZE", 1 * MIB)
    backend = make_backend("s3", tmp_path, moto_server, None)
    oid = cache.add_bytes(os.urandom(12 * MIB))
    assert transfer.push(cache, backend.open(), [oid]).transferred == 1
    remote = backend.open()
    calls: list[str] = []
    remote.client.meta.events.register(  # type: ignore[attr-defined]
        "before-call.s3", lambda model, **kw: calls.append(model.name))
    fresh = Cache(tmp_path / "fresh")
    result = transfer.fetch(fresh, remote, [oid])
    assert (result.transferred, result.failures) == (1, [])
    assert fresh.path(oid).read_bytes() == cache.path(oid).read_bytes()
    # the probe that learns the size, the transfer manager's HEAD, one range per thread
    assert calls.count("GetObject") == 1 + s3.PART_THREADS
    assert calls.count("HeadObject") <= 1 and len(calls) <= 2 + s3.PART_THREADS


def test_s3_small_puts_skip_the_100_continue_round_trip(tmp_path: Path, cache: Cache,
                                                       moto_server: MotoServer) -> None:
    backend = make_backend("s3", tmp_path, moto_server, None)
    small, medium = cache.add_bytes(os.urandom(5000)), cache.add_bytes(os.urandom(3 * MIB))
    remote = backend.open()
    expects: dict[int, str | None] = {}
    remote.client.meta.events.register(  # type: ignore[attr-defined]
        "before-send.s3.PutObject",
        lambda request, **kw: expects.__setitem__(int(request.headers["Content-Length"]),
                                                  request.headers.get("Expect")))
    assert transfer.push(cache, remote, [small, medium]).transferred == 2
    assert expects == {5000: None, 3 * MIB: b"100-continue"}
    fresh = Cache(tmp_path / "fresh")
    assert transfer.fetch(fresh, backend.open(), [small, medium]).transferred == 2
    assert fresh.path(small).read_bytes() == cache.path(small).read_bytes()


def test_s3_noop_push_of_a_directory_asks_about_its_manifest_only(
        tmp_path: Path, cache: Cache, moto_server: MotoServer) -> None:
    from git_datavc import metafile, needs, sync

    backend = make_backend("s3", tmp_path, moto_server, None)
    files = add_objects(cache, 300, size=100)
    entries = [metafile.Entry(f"d/f{i:03}", oid, 104) for i, oid in enumerate(files)]
    with cache.writer() as w:
        manifest = w.add_chunks([metafile.encode_manifest(entries)], suffix=".dir")[0]
    remote = backend.open()
    calls: list[str] = []
    remote.client.meta.events.register(  # type: ignore[attr-defined]
        "before-call.s3", lambda model, **kw: calls.append(model.name))

    def push() -> "transfer.Result":
        calls.clear()
        return sync.push_needed(cache, remote, needs.Needed({manifest: "d"}), jobs=8)

    first = push()
    assert first.ok and first.transferred == 301
    puts = [c for c in calls if c == "PutObject"]
    assert len(puts) == 301 and calls[-1] == "PutObject"    # the manifest went last
    assert {"".join(key.split("/")[2:]) for key in backend.visible()} == {*files, manifest}
    again = push()
    assert again.transferred == 0 and again.present == 301
    assert calls == ["HeadObject"]          # one request, whatever the number of files
    remote.close()


def test_ssh_missing_lists_prefix_directories(tmp_path: Path, cache: Cache,
                                              sshd_server: SSHServer) -> None:
    backend = make_backend("ssh", tmp_path, None, sshd_server)
    oids = add_objects(cache, 1500, size=100)
    remote = backend.open()
    transfer.push(cache, remote, oids[:1000], jobs=8)
    listed: list[str] = []
    real = remote._list_prefix  # type: ignore[attr-defined]
    remote._list_prefix = lambda p: (listed.append(p), real(p))[1]  # type: ignore[attr-defined]
    assert remote.missing(oids) == set(oids[1000:])
    assert len(listed) == len({o[:2] for o in oids}) <= 256
    remote.close()


def test_ssh_many_jobs_share_a_few_channels(tmp_path: Path, cache: Cache,
                                            sshd_server: SSHServer) -> None:
    """A stock sshd refuses an 11th session on one connection (MaxSessions 10): 24 jobs,
    over several transfers in one process, must borrow from a pool of at most CHANNELS."""
    backend = make_backend("ssh", tmp_path, None, sshd_server)
    oids = add_objects(cache, 120, size=2000)
    remote = backend.open()
    for part in (oids[:60], oids[60:]):         # two transfers: new worker threads each
        result = transfer.push(cache, remote, part, jobs=24)
        assert (result.transferred, result.failures) == (60, [])
    fresh = Cache(tmp_path / "fresh")
    fetched = transfer.fetch(fresh, remote, oids, jobs=24)
    assert (fetched.transferred, fetched.failures) == (120, [])
    transport = remote._client.get_transport()  # type: ignore[attr-defined]
    assert len(transport._channels.values()) <= ssh.CHANNELS   # paramiko's open channels
    remote.close()


# -- faults ------------------------------------------------------------------------------------

def test_s3_server_killed_in_the_middle_of_a_push(tmp_path: Path, cache: Cache) -> None:
    server = MotoServer(tmp_path)
    server.start()
    try:
        server.make_bucket("bucket")
        values = server.remote_values("origin", "s3://bucket/pre")
        oids = add_objects(cache, 200)
        remote = open_remote("origin", Settings(tmp_path, values))
        counting(remote, "upload", [], before=lambda n: n == 40 and server.stop())
        started = time.monotonic()
        first = transfer.push(cache, remote, oids, jobs=4)
        assert time.monotonic() - started < 60
        assert first.transferred < 200 and len(first.failures) == 200 - first.transferred
        assert first.error.startswith("cannot reach http://127.0.0.1:")
        assert "\n" not in first.error
        with pytest.raises(RemoteError) as e:
            first.raise_for_failures("push")
        assert "\n" not in e.value.message
        remote.close()

        server.start()                  # moto keeps its state in memory: it comes back empty
        server.make_bucket("bucket")
        remote = open_remote("origin", Settings(tmp_path, values))
        second = transfer.push(cache, remote, oids, jobs=4)
        assert (second.transferred, second.failures) == (200, [])
        assert remote.missing(oids) == set()
        remote.close()
    finally:
        server.stop()


def test_sshd_killed_in_the_middle_of_a_push(tmp_path: Path, cache: Cache) -> None:
    (tmp_path / "sshd").mkdir()
    server = SSHServer(tmp_path / "sshd")
    server.start()
    store = tmp_path / "store"
    try:
        oids = add_objects(cache, 200)
        values = server.remote_values("origin", store)
        remote = open_remote("origin", Settings(tmp_path, values))
        counting(remote, "upload", [], before=lambda n: n == 40 and server.stop())
        first = transfer.push(cache, remote, oids, jobs=4)
        assert 0 < first.transferred < 200
        assert first.error.startswith("cannot connect to") or \
            first.error.startswith("lost the connection to")
        remote.close()
        for path in (store / "files").rglob("*"):   # what is visible is whole
            if path.is_file():
                assert hash_file(path)[0] == path.parent.name + path.name

        server.start()
        remote = open_remote("origin", Settings(tmp_path, values))
        second = transfer.push(cache, remote, oids, jobs=4)
        assert second.failures == [] and second.present >= first.transferred
        assert second.transferred == 200 - second.present
        assert remote.missing(oids) == set()
        remote.close()
    finally:
        server.stop()


def test_sshd_killed_during_a_big_upload_leaves_nothing_visible(tmp_path: Path,
                                                                cache: Cache) -> None:
    (tmp_path / "sshd").mkdir()
    server = SSHServer(tmp_path / "sshd")
    server.start()
    store = tmp_path / "store"
    try:
        oid = cache.add_bytes(os.urandom(64 * MIB))
        remote = open_remote("origin", Settings(tmp_path, server.remote_values("origin", store)))

        def kill_when_half_there() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                temps = list((store / "tmp").glob("*")) if (store / "tmp").exists() else []
                if temps and temps[0].stat().st_size > 8 * MIB:
                    server.stop()
                    return
                time.sleep(0.005)

        killer = threading.Thread(target=kill_when_half_there)
        killer.start()
        result = transfer.push(cache, remote, [oid])
        killer.join()
        assert result.transferred == 0 and result.error
        assert not (store / "files").exists() or \
            [p for p in (store / "files").rglob("*") if p.is_file()] == []
        remote.close()
    finally:
        server.stop()


def test_s3_failed_multipart_upload_leaves_nothing_visible(tmp_path: Path, cache: Cache,
                                                           moto_server: MotoServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ConnectionClosedError

    monkeypatch.setattr(s3, "MULTIPART_FROM", 8 * MIB)
    monkeypatch.setattr(s3, "PART_SIZE", 5 * MIB)
    backend = make_backend("s3", tmp_path, moto_server, None)
    oid = cache.add_bytes(os.urandom(20 * MIB))
    remote = backend.open()
    parts: list[int] = []

    def fail_third_part(params: dict[str, Any], **kw: Any) -> None:
        parts.append(params["PartNumber"])
        if params["PartNumber"] == 3:     # what botocore raises when the server resets
            raise ConnectionClosedError(endpoint_url=moto_server.endpoint)

    remote.client.meta.events.register(  # type: ignore[attr-defined]
        "before-parameter-build.s3.UploadPart", fail_third_part)
    result = transfer.push(cache, remote, [oid])
    assert result.transferred == 0 and result.error and "\n" not in result.error
    assert 3 in parts
    assert backend.visible() == []
    assert remote.missing([oid]) == {oid}


# -- bad configuration: one-line errors --------------------------------------------------------

def one_line_error(action: Callable[[], object]) -> RemoteError:
    with pytest.raises(RemoteError) as e:
        action()
    assert "\n" not in e.value.message and "Traceback" not in e.value.message
    return e.value


def test_s3_missing_bucket(tmp_path: Path, cache: Cache, moto_server: MotoServer) -> None:
    values = moto_server.remote_values("origin", "s3://no-such-bucket/x")
    remote = open_remote("origin", Settings(tmp_path, values))
    e = one_line_error(lambda: transfer.push(cache, remote, add_objects(cache, 2)))
    assert e.message == f"bucket 'no-such-bucket' does not exist at {moto_server.endpoint}"
    assert not e.retriable


def test_s3_unreachable_endpoint(tmp_path: Path, cache: Cache, moto_server: MotoServer) -> None:
    values = moto_server.remote_values("origin", "s3://bucket/x")
    values["remote.origin.endpointurl"] = f"http://127.0.0.1:{free_port()}"
    remote = open_remote("origin", Settings(tmp_path, values))
    e = one_line_error(lambda: remote.missing(add_objects(cache, 2)))
    assert e.message.startswith("cannot reach http://127.0.0.1:") and e.retriable


def test_s3_without_credentials(tmp_path: Path, moto_server: MotoServer) -> None:
    values = {"remote.origin.url": "s3://bucket/x",
              "remote.origin.endpointurl": moto_server.endpoint}
    remote = open_remote("origin", Settings(tmp_path, values))
    e = one_line_error(lambda: remote.missing(["ab" * 32]))
    assert e.message == "no AWS credentials for remote 'origin'"
    e = one_line_error(lambda: open_remote("origin", Settings(
        tmp_path, {**values, "remote.origin.profile": "nope"})))
    assert e.message == "remote 'origin': AWS profile 'nope' not found"


def test_s3_credentials_from_the_environment(tmp_path: Path, cache: Cache,
                                             moto_server: MotoServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    moto_server.make_bucket("env-creds")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "anything")
    values = {"remote.origin.url": "s3://env-creds",
              "remote.origin.endpointurl": moto_server.endpoint}
    remote = open_remote("origin", Settings(tmp_path, values))
    assert transfer.push(cache, remote, add_objects(cache, 3)).transferred == 3


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, dict[str, str]]]:
    """A moto server that checks credentials, and the settings of a remote on it."""
    server, key_id, secret = start_moto_with_auth(tmp_path_factory.mktemp("moto-auth"), "secure")
    yield server, {"remote.origin.url": "s3://secure/x",
                   "remote.origin.endpointurl": server.endpoint,
                   "remote.origin.accesskeyid": key_id,
                   "remote.origin.secretaccesskey": secret}
    server.stop()


@pytest.mark.parametrize("override, code", [
    ({"remote.origin.accesskeyid": "AKIANOSUCHKEY0000000"}, "InvalidAccessKeyId"),
    ({"remote.origin.secretaccesskey": "wrong"}, "SignatureDoesNotMatch"),
])
def test_s3_wrong_credentials(tmp_path: Path, cache: Cache,
                              moto_with_auth: tuple[MotoServer, dict[str, str]],
                              override: dict[str, str], code: str) -> None:
    server, values = moto_with_auth
    oids = add_objects(cache, 2)
    good = open_remote("origin", Settings(tmp_path, values))
    assert transfer.push(cache, good, oids).transferred == 2
    bad = open_remote("origin", Settings(tmp_path, {**values, **override}))
    result = transfer.fetch(Cache(tmp_path / "fresh"), bad, oids)   # the queue stops at once
    assert result.transferred == 0 and len(result.failures) == 2
    assert result.error == f"access denied to s3://secure/x at {server.endpoint} ({code})"
    e = one_line_error(lambda: result.raise_for_failures("fetch"))
    assert e.message == f"could not fetch 2 of 2 objects: {result.error}"
    assert "accesskeyid" in e.hint


def test_ssh_wrong_key(tmp_path: Path, sshd_server: SSHServer) -> None:
    import subprocess

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    values = {**sshd_server.remote_values("origin", tmp_path / "store"),
              "remote.origin.keyfile": str(other)}
    e = one_line_error(lambda: open_remote("origin", Settings(tmp_path, values)))
    assert e.message == f"SSH authentication failed for {sshd_server.user}@127.0.0.1:" \
                        f"{sshd_server.port}"


def test_ssh_host_keys(tmp_path: Path, sshd_server: SSHServer, cache: Cache) -> None:
    known = tmp_path / "known_hosts"
    values = {**sshd_server.remote_values("origin", tmp_path / "store"),
              "remote.origin.knownhostsfile": str(known)}
    e = one_line_error(lambda: open_remote("origin", Settings(tmp_path, values)))
    assert e.message == f"127.0.0.1:{sshd_server.port} is not a known host"
    assert "accept-new" in e.hint

    values["remote.origin.stricthostkeychecking"] = "accept-new"
    remote = open_remote("origin", Settings(tmp_path, values))
    assert transfer.push(cache, remote, add_objects(cache, 1)).transferred == 1
    remote.close()
    assert f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 " in known.read_text()

    forged = sshd_server.known_hosts.read_text().split()[:2] + \
        ["AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"]
    known.write_text(" ".join(forged) + "\n")
    e = one_line_error(lambda: open_remote("origin", Settings(tmp_path, values)))
    assert e.message == "the host key of 127.0.0.1 does not match the known one"

    values["remote.origin.stricthostkeychecking"] = "maybe"
    e = one_line_error(lambda: open_remote("origin", Settings(tmp_path, values)))
    assert "stricthostkeychecking must be one of" in e.message


def test_ssh_unreachable(tmp_path: Path, sshd_server: SSHServer) -> None:
    port = free_port()
    values = {**sshd_server.remote_values("origin", tmp_path / "store"),
              "remote.origin.url": f"ssh://127.0.0.1:{port}{tmp_path}/store"}
    e = one_line_error(lambda: open_remote("origin", Settings(tmp_path, values)))
    assert e.message == f"cannot connect to {sshd_server.user}@127.0.0.1:{port} (remote 'origin')"
    assert e.retriable


def test_malformed_url_through_open_remote(tmp_path: Path) -> None:
    e = one_line_error(lambda: open_remote("origin", Settings(
        tmp_path, {"remote.origin.url": "s3:/bucket"})))
    assert "scp syntax" in e.message or "malformed" in e.message


def test_hash_of_a_dir_object_is_its_manifest(cache: Cache) -> None:
    oid = add_dir_object(cache, "ab" * 32)
    assert oid == hash_bytes(cache.path(oid).read_bytes()) + ".dir"
