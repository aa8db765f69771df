"""Relative paths read from metafiles, manifests, locks: they must stay inside the repo."""

from __future__ import annotations

import re

from .errors import UnsafePath

# One search per path (manifests hold hundreds of thousands): an empty, `.`, `..` or `.git`
# component, a leading or trailing slash, a drive letter, a backslash or a NUL.
_BAD = re.compile(r"(?:^|/)(?:\.{1,2}|\.git)(?:/|$)|//|^/|/$|^[A-Za-z]:|[\\\x00]|^$",
                  re.IGNORECASE)


def check_relpath(relpath: str, source: str = "") -> str:
    """Return `relpath` if it is a safe, normalised, `/`-separated relative path."""
    if isinstance(relpath, str) and not _BAD.search(relpath):
        return relpath
    where = f" in {source}" if source else ""
    if not isinstance(relpath, str) or not relpath:
        raise UnsafePath(f"empty or non-text path{where}")
    if "\0" in relpath or "\\" in relpath:
        raise UnsafePath(f"path {relpath!r}{where} contains a NUL or a backslash")
    if relpath.startswith("/") or (len(relpath) > 1 and relpath[1] == ":"):
        raise UnsafePath(f"path {relpath!r}{where} is absolute")
    if any(part.lower() == ".git" for part in relpath.split("/")):
        raise UnsafePath(f"path {relpath!r}{where} points into .git")
    raise UnsafePath(f"path {relpath!r}{where} is not normalised or leaves its directory")
