"""Remote URLs, `open_remote`, the local-directory remote and the transfer queue."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Collection, Iterable, Iterator

import pytest

from git_datavc import transfer
from git_datavc.cache import Cache
from git_datavc.config import Settings
from git_datavc.errors import ObjectMissing, RemoteError
from git_datavc.hashing import hash_bytes
from git_datavc.remotes import RemoteURL, local, open_remote, parse_url

MIB = 1 << 20


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def remote_dir(tmp_path: Path) -> Path:
    return tmp_path / "remote"


def settings(tmp_path: Path, **values: str) -> Settings:
    return Settings(tmp_path, {f"remote.{k.replace('_', '.')}": v for k, v in values.items()})


def open_local(tmp_path: Path, remote_dir: Path) -> local.LocalRemote:
    remote = open_remote("origin", settings(tmp_path, origin_url=str(remote_dir)))
    assert isinstance(remote, local.LocalRemote)
    return remote


def add_objects(cache: Cache, count: int, size: int = 1000) -> list[str]:
    return [cache.add_bytes(os.urandom(size) + i.to_bytes(4, "big")) for i in range(count)]


def one_line(e: pytest.ExceptionInfo[RemoteError]) -> str:
    assert "\n" not in e.value.message and "Traceback" not in e.value.message
    return e.value.message


# -- URLs and open_remote -------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("/srv/store", RemoteURL("local", "/srv/store")),
    ("../store", RemoteURL("local", "../store")),
    ("file:///srv/my%20store", RemoteURL("local", "/srv/my store")),
    ("file://localhost/srv/store", RemoteURL("local", "/srv/store")),
    ("s3://bucket", RemoteURL("s3", "", host="bucket")),
    ("s3://my-bucket/some/prefix/", RemoteURL("s3", "some/prefix", host="my-bucket")),
    ("ssh://example.org/srv/data", RemoteURL("ssh", "/srv/data", host="example.org")),
    ("ssh://ann@example.org:2222/srv/data",
     RemoteURL("ssh", "/srv/data", host="example.org", user="ann", port=2222)),
    ("ssh://example.org/~/data", RemoteURL("ssh", "data", host="example.org")),
])
def test_parse_url(url: str, expected: RemoteURL) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize("url, words", [
    ("", "empty"),
    ("gs://bucket/x", "unsupported remote URL scheme 'gs'"),
    ("http://example.org/x", "unsupported"),
    ("host:path/to/data", "scp syntax"),
    ("file://otherhost/srv", "names a host"),
    ("s3://", "no valid bucket"),
    ("s3://Bad_Bucket!/x", "no valid bucket"),
    ("ssh:///srv/data", "no host"),
    ("ssh://example.org", "no path"),
    ("ssh://example.org:port/x", "malformed"),
    ("ssh://example.org:99999/x", "malformed"),
    ("s3://bucket/x?versionId=1", "no '?'"),
])
def test_malformed_urls_are_one_line_errors(url: str, words: str) -> None:
    with pytest.raises(RemoteError) as e:
        parse_url(url)
    assert words in one_line(e)


def test_unknown_remote_name(tmp_path: Path) -> None:
    with pytest.raises(RemoteError) as e:
        open_remote("nope", settings(tmp_path, origin_url="/x"))
    assert one_line(e) == "no remote named 'nope'"


def test_bad_jobs(tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match="jobs must be a positive number"):
        open_remote("origin", settings(tmp_path, origin_url="/x", origin_jobs="many"))
    remote = open_remote("origin", settings(tmp_path, origin_url="/x", origin_jobs="3"))
    assert remote.jobs == 3


def test_relative_path_is_relative_to_the_repository(tmp_path: Path) -> None:
    remote = open_remote("origin", settings(tmp_path, origin_url="store"))
    assert isinstance(remote, local.LocalRemote) and remote.root == tmp_path / "store"
    file_remote = open_remote("origin", settings(tmp_path, origin_url=f"file://{tmp_path}/x"))
    assert isinstance(file_remote, local.LocalRemote) and file_remote.root == tmp_path / "x"


def test_backends_import_lazily(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from git_datavc import transfer, remotes; "
            "from git_datavc.remotes import local; "
            "print(' '.join(m for m in ('boto3', 'botocore', 'paramiko', 'tqdm') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- the local remote -----------------------------------------------------------------------

def test_push_fetch_round_trip(tmp_path: Path, cache: Cache, remote_dir: Path) -> None:
    oids = add_objects(cache, 20) + [cache.add_bytes(os.urandom(9 * MIB))]
    manifest = b'[{"blake3":"' + oids[0].encode() + b'","relpath":"a","size":1004}]'
    dir_oid = hash_bytes(manifest) + ".dir"
    with cache.writer() as w:
        w.add_chunks([manifest], suffix=".dir")
    oids.append(dir_oid)
    remote = open_local(tmp_path, remote_dir)

    pushed = transfer.push(cache, remote, oids, jobs=4)
    assert (pushed.transferred, pushed.present, pushed.failures) == (22, 0, [])
    assert pushed.bytes == sum(cache.size(o) for o in oids)
    for oid in oids:
        path = remote_dir / "files" / "blake3" / oid[:2] / oid[2:]
        assert path.read_bytes() == cache.path(oid).read_bytes()
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert os.listdir(remote_dir / "tmp") == []

    fresh = Cache(tmp_path / "fresh")
    fetched = transfer.fetch(fresh, remote, oids, jobs=4)
    assert (fetched.transferred, fetched.present, fetched.failures) == (22, 0, [])
    assert all(fresh.verify(oid) for oid in oids)
    assert all(not fresh.path(o).stat().st_mode & stat.S_IWUSR for o in oids)
    assert os.listdir(fresh.tmp) == []
    again = transfer.fetch(fresh, remote, oids)
    assert (again.transferred, again.present) == (0, 22)
    assert sorted(remote.iter_oids()) == sorted(oids)


@pytest.mark.parametrize("count", [10, 300])   # below and above the stat/listing switch
def test_missing(tmp_path: Path, cache: Cache, remote_dir: Path, count: int) -> None:
    oids = add_objects(cache, count)
    remote = open_local(tmp_path, remote_dir)
    assert remote.missing(oids) == set(oids)
    transfer.push(cache, remote, oids[::2])
    assert remote.missing(oids) == set(oids[1::2])
    assert remote.missing([]) == set()


def test_rerun_transfers_only_what_is_missing(tmp_path: Path, cache: Cache,
                                              remote_dir: Path) -> None:
    oids = add_objects(cache, 50)
    remote = open_local(tmp_path, remote_dir)
    first = transfer.push(cache, remote, oids[:30])
    assert first.transferred == 30
    uploaded: list[str] = []
    real_upload = remote.upload
    remote.upload = lambda oid, src: (uploaded.append(oid), real_upload(oid, src))[1]  # type: ignore[method-assign]
    second = transfer.push(cache, remote, oids + oids[:5])     # duplicates count once
    assert (second.transferred, second.present, second.failures) == (20, 30, [])
    assert sorted(uploaded) == sorted(oids[30:])


def test_corrupt_object_on_the_remote_never_enters_the_cache(tmp_path: Path, cache: Cache,
                                                             remote_dir: Path) -> None:
    good, bad = add_objects(cache, 2)
    remote = open_local(tmp_path, remote_dir)
    transfer.push(cache, remote, [good, bad])
    path = remote_dir / "files" / "blake3" / bad[:2] / bad[2:]
    path.chmod(0o644)
    path.write_bytes(b"not what was pushed")

    fresh = Cache(tmp_path / "fresh")
    result = transfer.fetch(fresh, remote, [good, bad])
    assert result.transferred == 1 and fresh.has(good) and not fresh.has(bad)
    [(oid, message)] = result.failures
    assert oid == bad and "is corrupt" in message and "not stored" in message
    assert os.listdir(fresh.tmp) == []
    with pytest.raises(RemoteError) as e:
        result.raise_for_failures("fetch")
    assert one_line(e).startswith("could not fetch 1 of 2 objects: object ")


def test_objects_missing_on_either_side(tmp_path: Path, cache: Cache, remote_dir: Path) -> None:
    oid = add_objects(cache, 1)[0]
    absent = "ab" * 32
    remote = open_local(tmp_path, remote_dir)
    pushed = transfer.push(cache, remote, [oid, absent, "not-an-oid"])
    assert pushed.transferred == 1
    assert dict(pushed.failures) == {absent: f"object {absent} is not in the local cache",
                                     "not-an-oid": "invalid object id 'not-an-oid'"}
    fetched = transfer.fetch(Cache(tmp_path / "fresh"), remote, [oid, absent])
    assert fetched.transferred == 1
    assert fetched.failures == [(absent, f"object {absent} is not on remote 'origin'")]
    with pytest.raises(ObjectMissing):
        remote.download(absent, tmp_path / "out")


def test_interrupted_upload_leaves_no_partial_object(tmp_path: Path, cache: Cache,
                                                     remote_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    oid = cache.add_bytes(os.urandom(9 * MIB))
    remote = open_local(tmp_path, remote_dir)
    seen: list[str] = []

    def dying_copy(src: int, dst: int, size: int, durable: bool = False) -> int:
        os.write(dst, b"x" * MIB)
        seen.extend(str(p.relative_to(remote_dir)) for p in remote_dir.rglob("*") if p.is_file())
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local, "copy_fd", dying_copy)
    result = transfer.push(cache, remote, [oid])
    assert seen and all(p.startswith("tmp/") for p in seen)     # in flight: outside files/
    assert result.transferred == 0
    assert "No space left on device" in result.error and "free some space" not in result.error
    assert remote.missing([oid]) == {oid}
    assert [p for p in remote_dir.rglob("*") if p.is_file()] == []


def test_remote_that_cannot_be_written(tmp_path: Path, cache: Cache) -> None:
    (tmp_path / "a-file").write_text("")
    remote = open_local(tmp_path, tmp_path / "a-file" / "remote")
    oids = add_objects(cache, 5)
    result = transfer.push(cache, remote, oids, jobs=1)
    assert result.transferred == 0 and len(result.failures) == 5
    assert result.error.startswith("cannot write to remote 'origin'") and "\n" not in result.error
    assert sum("not tried" in m for _, m in result.failures) == 4    # stopped at the first


def test_delete(tmp_path: Path, cache: Cache, remote_dir: Path) -> None:
    oids = add_objects(cache, 3)
    remote = open_local(tmp_path, remote_dir)
    transfer.push(cache, remote, oids)
    remote.delete([oids[0], "cd" * 32])
    assert sorted(remote.iter_oids()) == sorted(oids[1:])


def test_no_progress_output_without_a_terminal(tmp_path: Path, cache: Cache, remote_dir: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    transfer.push(cache, open_local(tmp_path, remote_dir), add_objects(cache, 3))
    assert capfd.readouterr().err == ""


# -- the transfer queue against a scripted remote ------------------------------------------

class FlakyRemote:
    """Fails `fail_times` times per object with a retriable error, then succeeds."""

    name, url, jobs = "flaky", "flaky://", 4

    def __init__(self, fail_times: int, retriable: bool = True) -> None:
        self.fail_times, self.retriable = fail_times, retriable
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def missing(self, oids: Collection[str]) -> set[str]:
        return set(oids)

    def upload(self, oid: str, src: str) -> None:
        with self.lock:
            self.calls[oid] = self.calls.get(oid, 0) + 1
            if self.calls[oid] <= self.fail_times:
                raise RemoteError("cannot reach the server", retriable=self.retriable)

    def read_small(self, oid: str, limit: int) -> bytes | None:
        raise NotImplementedError

    def download(self, oid: str, dst: Path) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def delete(self, oids: Iterable[str]) -> None:
        pass

    def iter_oids(self) -> Iterator[str]:
        return iter(())

    def close(self) -> None:
        pass


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "BACKOFF", 0.001)


@pytest.mark.usefixtures("fast_retries")
def test_retriable_errors_are_retried(cache: Cache) -> None:
    oids = add_objects(cache, 10)
    remote = FlakyRemote(fail_times=transfer.RETRIES)
    result = transfer.push(cache, remote, oids)
    assert (result.transferred, result.failures) == (10, [])
    assert set(remote.calls.values()) == {transfer.RETRIES + 1}


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("retriable", [True, False])
def test_a_dead_remote_stops_the_queue(cache: Cache, retriable: bool) -> None:
    oids = add_objects(cache, 200)
    remote = FlakyRemote(fail_times=10**9, retriable=retriable)
    result = transfer.push(cache, remote, oids, jobs=2)
    assert result.transferred == 0 and len(result.failures) == 200
    assert result.error == "cannot reach the server"
    assert len(remote.calls) <= 4       # the others were not tried
    tries = transfer.RETRIES + 1 if retriable else 1
    assert max(remote.calls.values()) == tries
