"""Which objects commits, refs or the workspace need: pointers in trees, metafile outs
(with every file listed by their directory manifests) and, later, pipeline lock outs.

Used by push, fetch, pull, the pre-push hook and gc. Every scan is a handful of git
calls whatever the history length: `rev-list --objects`, then one `cat-file --batch-check`
and one `cat-file --batch` over the blobs that can hold references.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import git, metafile, pointer
from .cache import Cache
from .errors import DatavcError
from .state import State

LOCKFILES = ("datavc.lock",)  # dvc.lock holds md5 hashes: nothing of ours


@dataclass
class Needed:
    oids: dict[str, str] = field(default_factory=dict)   # oid -> a path that needs it
    members: dict[str, list[str]] = field(default_factory=dict)  # manifest -> its files (expand)
    also: dict[str, set[str]] = field(default_factory=dict)  # oid -> other paths needing it

    def add(self, oid: str, path: str) -> None:
        first = self.oids.setdefault(oid, path)
        if first != path:
            self.also.setdefault(oid, set()).add(path)

    def paths(self, oid: str) -> list[str]:
        """Every path that needs OID."""
        return [self.oids[oid], *sorted(self.also.get(oid, ()))]

    def dirs(self) -> list[str]:
        return [oid for oid in self.oids if oid.endswith(".dir")]


def _interesting(path: str, size: int) -> bool:
    return size <= pointer.MAX_SIZE or _special(path)


def _scan_blobs(repo: git.Repo, blobs: Iterable[tuple[str, str]], needed: Needed) -> None:
    """Read the (sha, path) blobs that may be pointers, metafiles or locks. What each
    blob at a plain path holds is remembered in state.db (`State.blob_refs`): only new
    blobs are read."""
    blobs = list(blobs)
    if not blobs:
        return
    state = State(repo.datavc_dir / "state.db")
    try:
        known = state.blob_refs()
        fresh = []
        for sha, path in blobs:
            if _special(path) or sha not in known:
                fresh.append((sha, path))
            elif known[sha]:
                needed.add(known[sha], path)
        learned: dict[str, str] = {}
        info = git.blob_info(repo, sorted({sha for sha, _ in fresh}))
        wanted = []
        for sha, path in fresh:
            size = info.get(sha)
            if size is not None and _interesting(path, size):
                wanted.append((sha, path))
            elif sha in info and not _special(path):   # a tree, or too big for a pointer
                learned[sha] = ""
        contents = git.read_blobs(repo, sorted({sha for sha, _ in wanted}))
        for sha, path in wanted:
            oid = _parse_into(contents.get(sha, b""), path, needed)
            if oid is not None and sha in contents:     # (a missing blob may come later)
                learned[sha] = oid
        if learned:
            state.add_blob_refs(sorted(learned.items()))
    finally:
        state.close()


def _special(path: str) -> bool:
    """A metafile or a lock: read every time."""
    name = path.rsplit("/", 1)[-1]
    return _is_metafile(name) or name in LOCKFILES


def _is_metafile(name: str) -> bool:
    """`X.datavc`; a bare `.datavc` (the config folder's name) is not one."""
    return name.endswith(metafile.SUFFIX) and name != metafile.SUFFIX


def _parse_into(data: bytes, path: str, needed: Needed) -> str | None:
    """Add what the blob at `path` references; for a plain path (no metafile or lock)
    returns the pointer's object id, or "" for a blob that is no pointer."""
    name = path.rsplit("/", 1)[-1]
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    if _is_metafile(name):
        try:
            outs = metafile.load(Path(path), data)
        except DatavcError:
            return None  # a damaged metafile in history: nothing it names can be trusted
        for out in outs:
            needed.add(out.oid, f"{base}/{out.path}" if base else out.path)
        return None
    if name in LOCKFILES:
        for out_path, oid in _lock_outs(data, path):
            needed.add(oid, out_path)
        return None
    ptr = pointer.parse(data)
    if ptr is not None and ptr.size > 0:
        needed.add(ptr.oid, path)
        return ptr.oid
    return ""


def _lock_outs(data: bytes, path: str) -> list[tuple[str, str]]:
    """(out path, oid) of every cached stage out in a lock file (paths from the repo root)."""
    from . import lockfile

    try:
        stages = lockfile.parse(data, path)
    except DatavcError:
        return []
    return [(out.path, out.oid) for stage in stages.values() for out in stage.cached_outs()]


def for_revs(repo: git.Repo, revs: list[str], history: bool = False) -> Needed:
    """Objects the trees of `revs` need; with `history`, every commit reachable from them."""
    if history:
        return for_rev_list(repo, revs)
    needed = Needed()
    _scan_blobs(repo, [(sha, path) for rev in revs for sha, _, path in git.tree_blobs(repo, rev)],
                needed)
    return needed


def for_rev_list(repo: git.Repo, rev_args: list[str]) -> Needed:
    """Objects of every commit `git rev-list --objects REV_ARGS` gives (pre-push, gc)."""
    needed = Needed()
    _scan_blobs(repo, _objects_with_paths(repo.git("rev-list", "--objects", *rev_args, "--")),
                needed)
    return needed


def _objects_with_paths(out: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, _, path = line.partition(" ")
        if path:
            pairs.append((sha, path))
    return pairs


def for_workspace(repo: git.Repo) -> Needed:
    """Objects the work tree needs now: index pointers, metafiles and locks on disk."""
    needed = Needed()
    entries = [(sha, path) for _, sha, path in git.index_entries(repo)]
    _scan_blobs(repo, [(s, p) for s, p in entries
                       if not p.endswith(metafile.SUFFIX) and p.rsplit("/", 1)[-1] not in LOCKFILES],
                needed)
    out = repo.git("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                   "*" + metafile.SUFFIX, *LOCKFILES, *("*/" + n for n in LOCKFILES))
    for path in sorted({p for p in out.decode().split("\0") if p}):
        try:
            data = (repo.root / path).read_bytes()
        except OSError:
            continue
        _parse_into(data, path, needed)
    return needed


def expand(cache: Cache, needed: Needed) -> list[str]:
    """Add every file listed by the needed directory manifests that are in the cache;
    returns the manifests that are not (fetch them first, then expand again)."""
    missing = []
    for oid in needed.dirs():
        if oid in needed.members:
            continue
        if not cache.has(oid):
            missing.append(oid)
            continue
        with cache.open(oid) as f:
            entries = metafile.decode_manifest(f.read(), f"manifest {oid[:12]}")
        base = needed.oids[oid]
        for entry in entries:
            needed.add(entry.oid, f"{base}/{entry.relpath}")
        needed.members[oid] = [entry.oid for entry in entries]
    return missing


def worktree_roots(repo: git.Repo) -> list[Path]:
    out = repo.git("worktree", "list", "--porcelain").decode()
    roots = [Path(line[len("worktree "):]) for line in out.splitlines()
             if line.startswith("worktree ")]
    return [r for r in roots if os.path.isdir(r)]
