"""The few exception types of git-datavc; `main` turns them into one-line messages."""

from __future__ import annotations


class DatavcError(Exception):
    """A failure the user must act on: printed as `error: message` (+ hint), exit 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(DatavcError):
    """Bad command-line usage: exit 2."""

    exit_code = 2


class UnsafePath(DatavcError):
    """A path read from a metafile, manifest, lock or pointer that could escape the repo."""


class ObjectMissing(DatavcError):
    """An object is not in the cache (nor could it be fetched)."""


class CorruptObject(DatavcError):
    """Bytes that do not hash to the id they are stored under."""


class GitError(DatavcError):
    """A git command failed, or this is not a git repository."""


class RemoteError(DatavcError):
    """Remote storage failed; `retriable` says whether a rerun may succeed."""

    def __init__(self, message: str, hint: str = "", retriable: bool = False) -> None:
        super().__init__(message, hint)
        self.retriable = retriable
