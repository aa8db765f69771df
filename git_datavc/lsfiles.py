"""`ls-files`: every data file git-datavc tracks, where its bytes are (like `git lfs ls-files`).

Three kinds of rows: filter-mode pointers (the index, or a commit's tree), the files of
metafile outs (`X.datavc`, directories expanded from their manifests) and the cached outs
of pipeline stages (`datavc.lock`). Each row says whether the content is in the workspace
(the file is there with its recorded size and is not the pointer: not re-hashed), in the
cache, and, when asked, on a remote (one batched `missing` call for all of them).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import git, lockfile, metafile, pathmatch, pointer
from .cache import Cache
from .errors import DatavcError

LOCKFILE = "datavc.lock"


@dataclass
class Row:
    path: str
    oid: str
    size: int
    mode: str                   # "filter", "metafile" or "pipeline"
    workspace: bool = False
    cache: bool = False
    remote: bool | None = None  # None: the remote was not asked

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Scope:
    rev: str | None = None      # a commit's tree instead of the index and the disk
    every: bool = False         # every commit reachable from any ref, and the workspace


def _is_metafile(name: str) -> bool:
    return name.endswith(metafile.SUFFIX) and name != metafile.SUFFIX


def _rows_of_blob(data: bytes, path: str) -> list[Row]:
    """The rows a blob at `path` stands for: a pointer, a metafile's outs or a lock's outs."""
    name = path.rsplit("/", 1)[-1]
    base = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    if _is_metafile(name):
        try:
            outs = metafile.load(Path(path), data)
        except DatavcError:
            return []           # a damaged metafile names nothing that can be trusted
        return [Row(base + out.path, out.oid, out.size, "metafile") for out in outs]
    if name == LOCKFILE:
        try:
            stages = lockfile.parse(data, path)
        except DatavcError:
            return []
        return [Row(out.path, out.oid, out.size, "pipeline")
                for stage in stages.values() for out in stage.cached_outs()]
    ptr = pointer.parse(data)
    if ptr is not None and ptr.size > 0:
        return [Row(path, ptr.oid, ptr.size, "filter")]
    return []


def _rows_of_blobs(repo: git.Repo, pairs: Iterable[tuple[str, str]]) -> list[Row]:
    """Rows of (sha, path) blobs; only small blobs (pointers) and metafiles/locks are read."""
    pairs = list(pairs)
    info = git.blob_info(repo, sorted({sha for sha, _ in pairs}))
    wanted = [(sha, path) for sha, path in pairs if info.get(sha) is not None and (
        (info[sha] or 0) <= pointer.MAX_SIZE or _special(path))]
    blobs = git.read_blobs(repo, sorted({sha for sha, _ in wanted}))
    return [row for sha, path in wanted for row in _rows_of_blob(blobs.get(sha, b""), path)]


def _special(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return _is_metafile(name) or name == LOCKFILE


def _workspace_rows(repo: git.Repo) -> list[Row]:
    """The index's pointers, and the metafiles and lock as they are on disk."""
    index = [(sha, path) for _, sha, path in git.index_entries(repo) if not _special(path)]
    rows = _rows_of_blobs(repo, index)
    out = repo.git("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                   "*" + metafile.SUFFIX, LOCKFILE)
    for path in sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}):
        if not _special(path) or (path.endswith(LOCKFILE) and path != LOCKFILE):
            continue            # the lock lives at the root only
        try:
            data = (repo.root / path).read_bytes()
        except OSError:
            continue
        rows += _rows_of_blob(data, path)
    return rows


def _history_rows(repo: git.Repo) -> list[Row]:
    out = repo.git("rev-list", "--objects", "--all", "--")
    pairs = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, _, path = line.partition(" ")
        if path:
            pairs.append((sha, path))
    return _rows_of_blobs(repo, pairs)


def _expand(cache: Cache, rows: list[Row]) -> list[Row]:
    """A directory out becomes the files its manifest lists; with no manifest in the cache,
    it stays one row (path ending in `/`) that says so."""
    result = []
    for row in rows:
        if not row.oid.endswith(".dir"):
            result.append(row)
            continue
        if not cache.has(row.oid):
            result.append(Row(row.path + "/", row.oid, row.size, row.mode))
            continue
        with cache.open(row.oid) as f:
            entries = metafile.decode_manifest(f.read(), f"manifest of {row.path}")
        result += [Row(f"{row.path}/{e.relpath}", e.oid, e.size, row.mode) for e in entries]
    return result


def _unique(rows: list[Row]) -> list[Row]:
    seen: dict[tuple[str, str], Row] = {}
    for row in rows:
        seen.setdefault((row.path, row.oid), row)
    return sorted(seen.values(), key=lambda r: (r.path, r.oid))


def _in_workspace(root: Path, row: Row) -> bool:
    if row.path.endswith("/"):
        return False
    try:
        size = os.path.getsize(root / row.path)
    except OSError:
        return False
    if size != row.size:
        return False
    if row.mode == "filter" and size <= pointer.MAX_SIZE:  # the pointer itself, same length?
        with open(root / row.path, "rb") as f:
            return pointer.parse(f.read(pointer.MAX_SIZE + 1)) is None
    return True


def list_rows(repo: git.Repo, cache: Cache, scope: Scope, paths: Sequence[str] = ()) -> list[Row]:
    """Every tracked data file of the scope, with its workspace and cache flags."""
    if scope.rev:
        rev = repo.git("rev-parse", "--verify", "-q", scope.rev + "^{commit}", check=False)
        if not rev.strip():
            raise DatavcError(f"{scope.rev} is not a commit")
        rows = _rows_of_blobs(repo, [(sha, path) for sha, _, path in
                                     git.tree_blobs(repo, rev.decode().strip())])
        current = {(r.path, r.oid) for r in _expand(cache, _workspace_rows(repo))}
    else:
        rows = _workspace_rows(repo)
        current = {(r.path, r.oid) for r in _expand(cache, rows)}
        if scope.every:
            rows += _history_rows(repo)
    rows = _unique(_expand(cache, rows))
    rows = [row for row in rows if selected(row.path, paths)]
    present = cache.present(row.oid for row in rows)
    for row in rows:
        row.cache = row.oid in present
        # the workspace holds this version: the index or metafile names it, and the file
        # is there with its size (not re-hashed: that is `status`'s job)
        row.workspace = (row.path, row.oid) in current and _in_workspace(repo.root, row)
    return rows


def selected(path: str, pathspecs: Sequence[str]) -> bool:
    """A path given is itself or a folder above; with a glob character, a .gitattributes-
    style pattern (`*.bin`, `data/**`)."""
    if not pathspecs:
        return True
    clean = path.rstrip("/")
    for spec in pathspecs:
        if any(c in spec for c in "*?["):
            if pathmatch.compile_pattern(spec).matches(clean):
                return True
        elif spec in ("", ".") or clean == spec or clean.startswith(spec + "/"):
            return True
    return False


def mark_remote(rows: list[Row], missing: set[str]) -> None:
    for row in rows:
        row.remote = row.oid not in missing
