"""Relative paths read from metafiles, manifests, locks: they must stay inside the repo."""

from __future__ import annotations

from .errors import UnsafePath


def check_relpath(relpath: str, source: str = "") -> str:
    """Return `relpath` if it is a safe, normalised, `/`-separated relative path."""
    where = f" in {source}" if source else ""
    if not isinstance(relpath, str) or not relpath:
        raise UnsafePath(f"empty or non-text path{where}")
    if "\0" in relpath or "\\" in relpath:
        raise UnsafePath(f"path {relpath!r}{where} contains a NUL or a backslash")
    if relpath.startswith("/") or (len(relpath) > 1 and relpath[1] == ":"):
        raise UnsafePath(f"path {relpath!r}{where} is absolute")
    for part in relpath.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePath(f"path {relpath!r}{where} is not normalised or leaves its directory")
        if part.lower() == ".git":
            raise UnsafePath(f"path {relpath!r}{where} points into .git")
    return relpath
