"""Where objects that DVC stored can be read: its local cache and its remotes (a local
folder or S3), keyed as DVC keys them (`files/md5/ab/cdef...`, or `ab/cdef...` for DVC 2).

These are sources only: git-datavc never writes to DVC's cache or remote. Bytes read from
them are checked against their md5 by the caller before they count for anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from . import dvcrepo
from .config import Settings
from .errors import DatavcError, RemoteError
from .fsutil import expand_user


class ObjectSource(Protocol):
    name: str     # for messages: "the DVC cache", "DVC remote 'storage'"

    def has(self, key: str) -> bool:
        """Is there an object under `key`?"""

    def open(self, key: str) -> IO[bytes] | None:
        """A stream of the object under `key`, None when there is none."""


@dataclass
class LocalSource:
    name: str
    root: Path

    def has(self, key: str) -> bool:
        return os.path.isfile(self.root / key)

    def open(self, key: str) -> IO[bytes] | None:
        try:
            return open(self.root / key, "rb")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise DatavcError(f"cannot read {key} in {self.name}: {e.strerror}") from None


class S3Source:
    """A DVC S3 remote, read through the same boto3 client set-up as git-datavc's own S3
    remotes (endpoint, credentials, retries), but at DVC's keys."""

    def __init__(self, name: str, remote: Any) -> None:
        self.name = name
        self.remote = remote      # remotes.s3.S3Remote: its client, bucket and prefix

    def has(self, key: str) -> bool:
        return self._call("head_object", key) is not None

    def open(self, key: str) -> IO[bytes] | None:
        reply = self._call("get_object", key)
        return None if reply is None else reply["Body"]  # type: ignore[no-any-return]

    def _call(self, method: str, key: str) -> dict[str, Any] | None:
        import botocore.exceptions

        try:
            reply: dict[str, Any] = getattr(self.remote.client, method)(
                Bucket=self.remote.bucket, Key=self.remote.prefix + key)
            return reply
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise RemoteError(f"{self.name}: cannot read {key}: {code or e}") from None
        except botocore.exceptions.BotoCoreError as e:
            raise RemoteError(f"{self.name}: {e}", retriable=True) from None


# DVC's remote options, by the name git-datavc's S3 remote settings give them
_S3_KEYS = {"endpointurl": "endpointurl", "region": "region", "profile": "profile",
            "access_key_id": "accesskeyid", "secret_access_key": "secretaccesskey"}


def cache_source(root: Path, config: dict[str, dict[str, str]]) -> LocalSource:
    return LocalSource("the DVC cache", dvcrepo.cache_dir(root, config))


def remote_source(root: Path, config: dict[str, dict[str, str]],
                  name: str | None) -> ObjectSource:
    """DVC remote `name` (default: DVC's `core.remote`) of `.dvc/config`."""
    remotes = dvcrepo.remotes(config)
    name = name or config.get("core", {}).get("remote")
    if not name:
        raise DatavcError("no DVC remote to fetch from: .dvc/config has no default remote",
                          "name one with `--remote NAME`" if remotes else "")
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        raise DatavcError(f"no DVC remote named {name!r} in .dvc/config (remotes: {known})")
    values = remotes[name]
    url = values["url"]
    label = f"DVC remote {name!r}"
    if url.startswith("s3://"):
        from .remotes import open_remote

        settings = {"remote.dvc.url": url}
        settings.update({f"remote.dvc.{ours}": values[theirs]
                         for theirs, ours in _S3_KEYS.items() if values.get(theirs)})
        return S3Source(label, open_remote("dvc", Settings(root, settings)))
    if "://" in url and not url.startswith("file://"):
        raise DatavcError(f"{label}: {url.split('://')[0]}:// DVC remotes cannot be read "
                          "by git-datavc", "run `dvc pull` first, then `git datavc import-dvc`")
    path = Path(expand_user(url.removeprefix("file://")))
    # DVC writes a relative local remote relative to the config file's folder, `.dvc/`
    return LocalSource(label, path if path.is_absolute() else root / ".dvc" / path)
