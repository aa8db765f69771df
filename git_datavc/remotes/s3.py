"""S3 and S3-compatible stores (MinIO, Ceph, moto) through boto3.

boto3 because it is the reference client: it reads the standard AWS environment, shared
config and profiles, signs for every S3-compatible server, retries throttling, and its
transfer manager does parallel multipart uploads and ranged downloads for big files.

Keys: `PREFIX/files/blake3/ab/cdef…`. A PUT (or a completed multipart upload) is atomic, so
readers never see a partial object; a killed multipart upload leaves only invisible parts,
which a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up.

Credentials, in boto3's order: `remote.NAME.accesskeyid`/`secretaccesskey` (config.local),
else `remote.NAME.profile`, else the AWS environment, shared files and instance roles.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, ContextManager, Iterable, Iterator

from ..errors import ObjectMissing, RemoteError
from . import (OBJECTS, KeyInfo, RemoteURL, group_by_prefix, mapped_errors, object_key,
               valid_oid)

if TYPE_CHECKING:
    from ..config import Settings

MULTIPART_FROM = 64 << 20       # below: one PUT / GET; above: the transfer manager
PART_SIZE = 16 << 20            # upload parts (the transfer manager grows them past 10,000)
PART_THREADS = 8
BIG_AT_ONCE = 2                 # multipart transfers in flight (PART_THREADS threads each)
RANGE_MAX = 256 << 20           # download ranges: one per thread, within [PART_SIZE, this]
READ_CHUNK = 1 << 20
IO_QUEUE = 16                   # downloaded chunks waiting for the disk: bounds memory
EXPECT_FROM = 2 << 20           # smaller PUTs go without "Expect: 100-continue"
HEAD_BELOW = 32                 # fewer objects than this: a HEAD each, in parallel
PER_PREFIX_BELOW = 16           # fewer 2-hex prefixes than this: list each; else by 1st digit
DELETE_BATCH = 1000             # DeleteObjects takes at most 1000 keys

_ACCESS_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                 "InvalidToken", "ExpiredToken", "AllAccessDisabled", "403"}
_RETRY_CODES = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                "500", "502", "503", "504"}


class S3Remote:
    def __init__(self, name: str, url: str, parsed: RemoteURL, settings: Settings,
                 jobs: int) -> None:
        self.name, self.url, self.jobs = name, url, jobs
        self.bucket = parsed.host
        self.prefix = f"{parsed.path}/" if parsed.path else ""
        self.endpoint = settings.get(f"remote.{name}.endpointurl") or None
        self.client = self._connect(settings)
        self._big: dict[str, int] = {}     # sizes of big objects that read_small turned down
        self._big_slots = threading.BoundedSemaphore(BIG_AT_ONCE)

    def _connect(self, settings: Settings) -> Any:
        import boto3
        import botocore.config
        import botocore.exceptions

        opt = lambda key: settings.get(f"remote.{self.name}.{key}") or None  # noqa: E731
        try:
            session = boto3.session.Session(
                aws_access_key_id=opt("accesskeyid"), aws_secret_access_key=opt("secretaccesskey"),
                region_name=opt("region"), profile_name=opt("profile"))
            config = botocore.config.Config(
                max_pool_connections=self.jobs + BIG_AT_ONCE * PART_THREADS,
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=10, read_timeout=60,
                s3={"addressing_style": "path"} if self.endpoint else None)
            client = session.client("s3", endpoint_url=self.endpoint, config=config)
            client.meta.events.register_last("before-call.s3", _no_expect_for_small_puts)
            return client
        except botocore.exceptions.ProfileNotFound:
            raise RemoteError(f"remote {self.name!r}: AWS profile {opt('profile')!r} not found",
                              "fix remote.NAME.profile or ~/.aws/config") from None
        except (botocore.exceptions.BotoCoreError, ValueError) as e:
            raise RemoteError(f"remote {self.name!r}: {e}") from None

    def _key(self, oid: str) -> str:
        return self.prefix + object_key(oid)

    # -- listing ----------------------------------------------------------------------------

    def missing(self, oids: Collection[str]) -> set[str]:
        """One listing per 2-hex prefix for a few objects; for many, one listing per first hex
        digit (at most 16, in parallel), so 50,000 objects cost about 50 requests."""
        if len(oids) < HEAD_BELOW:
            few = list(oids)
            with ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(few)))) as pool:
                lacking = {oid for oid, there in zip(few, pool.map(self._exists, few))
                           if not there}
            if lacking:
                self._check_bucket()    # a HEAD's bare 404 may mean "no such bucket"
            return lacking
        groups = group_by_prefix(oids)
        if len(groups) < PER_PREFIX_BELOW:
            prefixes = [f"{p}/" for p in groups]
        else:
            prefixes = sorted({p[0] for p in groups})
        with ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(prefixes)))) as pool:
            present = set().union(*pool.map(self._list, prefixes))
        return set(oids) - present

    def _exists(self, oid: str) -> bool:
        try:
            with self._errors("look up", oid):
                self.client.head_object(Bucket=self.bucket, Key=self._key(oid))
        except ObjectMissing:
            return False
        return True

    def _check_bucket(self) -> None:
        with self._errors("look up"):   # a 404 here is "no such bucket" (see map_error)
            self.client.head_bucket(Bucket=self.bucket)

    def _list(self, sub: str) -> set[str]:
        """Object ids under `files/blake3/<sub>`."""
        start = len(self.prefix) + len(OBJECTS) + 1
        found: set[str] = set()
        with self._errors("list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}{OBJECTS}/{sub}")
            for page in pages:
                for item in page.get("Contents", ()):
                    oid = item["Key"][start:].replace("/", "", 1)
                    if valid_oid(oid):
                        found.add(oid)
        return found

    def iter_oids(self) -> Iterator[str]:
        for digit in "0123456789abcdef":
            yield from sorted(self._list(digit))

    # -- objects ----------------------------------------------------------------------------

    def upload(self, oid: str, src: str) -> None:
        if os.stat(src).st_size >= MULTIPART_FROM:
            # By file name, so the transfer manager reads each part from disk when it sends
            # it; upload_fileobj would buffer PART_SIZE x PART_THREADS bytes in memory.
            with self._big_slots, self._errors(f"upload {oid} to"):
                self.client.upload_file(src, self.bucket, self._key(oid),
                                        Config=self._config(PART_SIZE))
            return
        with open(src, "rb") as f, self._errors(f"upload {oid} to"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(oid), Body=f)

    def read_small(self, oid: str, limit: int) -> bytes | None:
        with self._errors(f"download {oid} from", oid):
            head = self.client.get_object(Bucket=self.bucket, Key=self._key(oid))
            size = head.get("ContentLength", limit)
            with head["Body"] as body:
                if size < limit:
                    return body.read()
            if size >= MULTIPART_FROM:
                self._big[oid] = size   # download() goes straight to ranged GETs
            return None

    def download(self, oid: str, dst: Path) -> None:
        size = self._big.pop(oid, 0)     # known big: no probing GET
        body: Any = None
        with self._errors(f"download {oid} from", oid):
            if not size:
                head = self.client.get_object(Bucket=self.bucket, Key=self._key(oid))
                size, body = head.get("ContentLength", 0), head["Body"]
            if size >= MULTIPART_FROM:
                if body is not None:
                    body.close()
                # Parallel ranged GETs, one range per thread: as fast as smaller ranges on
                # S3, and far fewer requests (a server such as moto reads the whole object
                # for each range).
                part = min(RANGE_MAX, max(PART_SIZE, -(-size // PART_THREADS)))
                with self._big_slots:
                    self.client.download_file(self.bucket, self._key(oid), str(dst),
                                              Config=self._config(part))
                return
        with body, open(dst, "wb") as out:  # errors writing here are the caller's disk
            while True:
                with self._errors(f"download {oid} from", oid):
                    chunk = body.read(READ_CHUNK)
                if not chunk:
                    break
                out.write(chunk)

    def delete(self, oids: Iterable[str]) -> None:
        self._delete_full([self._key(oid) for oid in oids])

    def _delete_full(self, full_keys: list[str]) -> None:
        keys = [{"Key": key} for key in full_keys]
        for i in range(0, len(keys), DELETE_BATCH):
            with self._errors("delete from"):
                reply = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys[i:i + DELETE_BATCH], "Quiet": True})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise RemoteError(f"cannot delete {first.get('Key')} from remote {self.name!r}: "
                                  f"{first.get('Message') or first.get('Code')}")

    def sweep(self, older_than: float) -> int:
        """Abort multipart uploads under our prefix begun more than `older_than` ago (their
        parts are invisible, but stored and billed)."""
        import datetime as dt

        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=older_than)
        removed = 0
        with self._errors("clean up"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}{OBJECTS}/")
            for page in pages:
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        removed += 1
        return removed

    def flush(self) -> None:
        pass    # a PUT is durable and visible when it returns

    # -- named files (layout v2) ------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes | memoryview) -> None:
        body = bytes(data) if isinstance(data, memoryview) else data  # botocore wants bytes
        with self._errors(f"upload {key} to"):
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body)

    def get_bytes(self, key: str) -> bytes:
        with self._errors(f"download {key} from", key):
            reply = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            with reply["Body"] as body:
                return bytes(body.read())

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        with self._errors(f"download {key} from", key):
            try:
                reply = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key,
                                               Range=f"bytes={offset}-{offset + length - 1}")
            except Exception as e:      # a range past the end: nothing there
                if getattr(e, "response", {}).get("Error", {}).get("Code") == \
                        "InvalidRange":
                    return b""
                raise
            with reply["Body"] as body:
                return bytes(body.read())

    def list_keys(self, folder: str) -> list[KeyInfo]:
        start = len(self.prefix)
        found = []
        with self._errors("list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}{folder}/", Delimiter="/")
            for page in pages:
                for item in page.get("Contents", ()):
                    found.append(KeyInfo(item["Key"][start:], int(item["Size"]),
                                         item["LastModified"].timestamp()))
        return sorted(found, key=lambda k: k.key)

    def delete_keys(self, keys: Iterable[str]) -> None:
        self._delete_full([self.prefix + key for key in keys])

    def close(self) -> None:
        self.client.close()

    def _config(self, part_size: int) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=MULTIPART_FROM, multipart_chunksize=part_size,
                              max_concurrency=PART_THREADS, io_chunksize=READ_CHUNK,
                              max_io_queue=IO_QUEUE)

    def _errors(self, doing: str, oid: str = "") -> ContextManager[None]:
        return mapped_errors(lambda exc: map_error(self, doing, exc, oid))


def _no_expect_for_small_puts(model: Any, params: dict[str, Any], **_: Any) -> None:
    """botocore asks for "100-continue" on every PUT with a body, which costs a round trip
    before the body goes; worth it only for big bodies (AWS's Go SDK: 2 MB and up)."""
    if model.name == "PutObject" and "Expect" in params.get("headers", {}):
        from botocore.utils import determine_content_length

        size = determine_content_length(params.get("body"))
        if size is not None and size < EXPECT_FROM:
            del params["headers"]["Expect"]


def map_error(remote: S3Remote, doing: str, exc: BaseException,
              oid: str = "") -> RemoteError | ObjectMissing | None:
    import botocore.exceptions as bx
    from boto3.exceptions import S3TransferFailedError, S3UploadFailedError

    where = f"s3://{remote.bucket}/{remote.prefix}".rstrip("/")
    at = f" at {remote.endpoint}" if remote.endpoint else ""
    if isinstance(exc, (S3UploadFailedError, S3TransferFailedError)) and exc.__context__:
        inner = map_error(remote, doing, exc.__context__, oid)
        if inner is not None:
            return inner
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        if code == "NoSuchBucket" or code in ("404", "NotFound") and not oid:
            # (HeadBucket's 404 has no body; calls about one object pass its `oid`)
            return RemoteError(f"bucket {remote.bucket!r} does not exist{at}",
                               f"create it, or fix remote.{remote.name}.url")
        if code in ("NoSuchKey", "404", "NotFound") and oid:
            return ObjectMissing(f"object {oid} is not on remote {remote.name!r}")
        if code in _ACCESS_CODES:
            return RemoteError(f"access denied to {where}{at} ({code})",
                               f"check the credentials: remote.{remote.name}.accesskeyid/"
                               "secretaccesskey in config.local, a profile or AWS_* variables")
        message = err.get("Message") or code
        return RemoteError(f"cannot {doing} {where}: {message}", retriable=code in _RETRY_CODES)
    if isinstance(exc, bx.NoCredentialsError):
        return RemoteError(f"no AWS credentials for remote {remote.name!r}",
                           f"set remote.{remote.name}.accesskeyid and secretaccesskey with "
                           "--local, a profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionError,
                        bx.ConnectionClosedError, bx.ReadTimeoutError)):
        target = remote.endpoint or "the S3 endpoint"
        return RemoteError(f"cannot reach {target} for remote {remote.name!r}",
                           "check the network and remote.NAME.endpointurl", retriable=True)
    if isinstance(exc, (bx.BotoCoreError, S3UploadFailedError, S3TransferFailedError)):
        return RemoteError(f"cannot {doing} {where}: {exc}".splitlines()[0], retriable=True)
    return None
