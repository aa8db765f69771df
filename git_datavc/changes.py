"""What changed: workspace against metafiles (status), and data between commits (diff).

Both work on flat maps {repo-relative file path: object id}, built from manifests,
pointers or the workspace (stat cache first, hashing only files it does not know).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import git, metafile, pointer
from .errors import DatavcError
from .workspace import Workspace, load_metafile, lock_outs, metafiles_in

if TYPE_CHECKING:
    from .fsmonitor import Watchman
    from .treedigest import Walk

FILTERED = ":(attr:filter=datavc)"


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_in_cache: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {k: sorted(v) for k, v in self.__dict__.items()}


def compare(old: dict[str, str], new: dict[str, str], into: Changes) -> None:
    for path, oid in new.items():
        if path not in old:
            into.added.append(path)
        elif old[path] != oid:
            into.modified.append(path)
    into.deleted += [p for p in old if p not in new]


def _expand(ws: Workspace, out_rel: str, out: metafile.Out, missing: list[str],
            sizes: dict[str, int] | None = None) -> dict[str, str]:
    entries = ws.entries_of(out)
    if entries is None:
        missing.append(out_rel)
        if sizes is not None:
            sizes[out_rel] = out.size
        return {out_rel: out.oid}  # still comparable as a whole
    files = {}
    for e in entries:
        rel = f"{out_rel}/{e.relpath}" if e.relpath else out_rel
        files[rel] = e.oid
        if sizes is not None:
            sizes[rel] = e.size
    return files


def workspace_files(ws: Workspace, path: Path,
                    sizes: dict[str, int] | None = None) -> dict[str, str]:
    rel = ws.relpath(path)
    if path.is_file() and not path.is_symlink():
        if sizes is not None:
            sizes[rel] = path.stat().st_size
        return {rel: ws.file_oid(str(path))}
    if not path.is_dir():
        return {}
    ws.preload_state()
    files = {}
    for r, p, st in ws.walk(path):
        files[f"{rel}/{r}"] = ws.file_oid(p, st)
        if sizes is not None:
            sizes[f"{rel}/{r}"] = st.st_size
    return files


def metafile_status(ws: Workspace) -> Changes:
    """Workspace files against the current metafiles and datavc.lock."""
    changes = Changes()
    outs = [(ws.out_abspath(mfile, out), out) for mfile in metafiles_in(ws.repo)
            for out in load_metafile(ws, mfile)] + lock_outs(ws)
    watch: Watchman | None = None
    stamp = ""
    asked = False       # whether core.fsmonitor was looked at (only for a directory out)
    for path, out in outs:
        walk = key = seen = None
        if out.is_dir and path.is_dir() and not path.is_symlink():
            from .treedigest import Walk, cache_dirs, cache_stamp

            key = f"{ws.relpath(path)}\0{out.oid}"
            if not asked:
                from . import fsmonitor

                watch = fsmonitor.connect(str(ws.repo.root), ws.settings.fsmonitor)
                stamp = cache_stamp(cache_dirs(ws.cache._objects)) if watch else ""
                asked = True
            if watch is not None:
                seen = _Seen(ws, watch, key, stamp)
                if seen.unchanged(ws.relpath(path)):
                    continue    # Watchman saw no change below it since status found it equal
            walk = Walk(str(path), cache_dirs(ws.cache._objects))
            if ws.state.tree_digest(key) == walk.digest:
                if seen:
                    seen.keep()
                continue  # not a stat changed since status found it equal to its manifest
        found = sum(len(v) for v in changes.__dict__.values())
        expected = _expand(ws, ws.relpath(path), out, changes.not_in_cache)
        compare(expected, workspace_files(ws, path), changes)
        present = ws.cache.present(expected.values())
        changes.not_in_cache += [p for p, oid in expected.items()
                                 if p not in changes.not_in_cache and oid not in present]
        if key is not None and walk is not None:
            kept = _keep_digest(ws, key, walk, path,
                                unchanged=found == sum(len(v) for v in changes.__dict__.values()))
            if seen and kept:
                seen.keep()
            elif seen:
                seen.forget()
    return changes


class _Seen:
    """`core.fsmonitor`: the Watchman clock kept beside a directory out's tree digest, with
    the cache folders' stamp. Both are from before the out is looked at, so that a change
    made while status runs is reported next time."""

    def __init__(self, ws: Workspace, watch: "Watchman", key: str, stamp: str) -> None:
        self.ws, self.watch, self.key, self.stamp = ws, watch, key, stamp
        self.slot = f"fsmonitor\0{key}"
        self.clock: str | None = None

    def unchanged(self, rel: str) -> bool:
        """Whether the digest's earlier answer stands: Watchman saw no change below `rel`
        since the clock kept with it, and no cache folder changed. The query's own clock is
        the one to keep next; without a query, Watchman is asked for the clock."""
        since, _, stamp = (self.ws.state.tree_digest(self.slot) or "").partition("\0")
        if since and stamp == self.stamp and self.ws.state.tree_digest(self.key):
            changed, self.clock = self.watch.changed(since, rel)
            if changed is False:
                self.keep()
                return True
        if self.clock is None:
            self.clock = self.watch.clock()
        return False

    def keep(self) -> None:
        if self.clock:
            self.ws.state.put_tree_digest(self.slot, f"{self.clock}\0{self.stamp}")

    def forget(self) -> None:
        self.ws.state.put_tree_digest(self.slot, None)


def _keep_digest(ws: Workspace, key: str, before: "Walk", path: Path, unchanged: bool) -> bool:
    """Keep the walk's digest for the next status when the out was found unchanged, and
    the tree did not move while it was checked, and no time in it is racily new; returns
    whether it was kept."""
    import time

    from .treedigest import Walk, cache_dirs

    digest = None
    if unchanged and before.settled(time.time_ns()):
        after = Walk(str(path), cache_dirs(ws.cache._objects))
        if after.digest == before.digest:
            digest = after.digest
    ws.state.put_tree_digest(key, digest)
    return digest is not None


# --- between commits ------------------------------------------------------------------

def data_at(ws: Workspace, rev: str | None, changes: Changes,
            sizes: dict[str, int] | None = None) -> dict[str, str]:
    """{path: oid} of every data file at `rev` (None: the workspace); each file's size
    goes into `sizes` when given."""
    files: dict[str, str] = {}
    for rel, outs in _metafiles_at(ws, rev).items():
        base = os.path.dirname(rel)
        for out in outs:
            out_rel = f"{base}/{out.path}" if base else out.path
            if rev is None:
                files.update(workspace_files(ws, ws.repo.root / out_rel, sizes))
            else:
                files.update(_expand(ws, out_rel, out, changes.not_in_cache, sizes))
    files.update(_pointers_at(ws, rev, sizes))
    return files


def _metafiles_at(ws: Workspace, rev: str | None) -> dict[str, list[metafile.Out]]:
    if rev is None:
        return {ws.relpath(m): load_metafile(ws, m) for m in metafiles_in(ws.repo)}
    wanted = [(sha, path) for sha, _, path in git.tree_blobs(ws.repo, rev)
              if path.endswith(metafile.SUFFIX)]
    blobs = git.read_blobs(ws.repo, [sha for sha, _ in wanted])
    return {path: metafile.load(Path(f"{rev}:{path}"), blobs[sha]) for sha, path in wanted}


def _pointers_at(ws: Workspace, rev: str | None,
                 sizes: dict[str, int] | None = None) -> dict[str, str]:
    """{path: oid} of filter-mode files: blobs small enough to be pointers that parse as one."""
    if rev is None:
        entries = [(sha, path) for _, sha, path in git.index_entries(ws.repo, [FILTERED])]
        dirty = set(ws.repo.git("diff", "--name-only", "-z", "--", FILTERED).decode().split("\0"))
    else:
        entries = [(sha, path) for sha, size, path in git.tree_blobs(ws.repo, rev)
                   if size <= pointer.MAX_SIZE]
        dirty = set()
    blobs = git.read_blobs(ws.repo, sorted({sha for sha, _ in entries}))
    files = {}
    for sha, path in entries:
        ptr = pointer.parse(blobs.get(sha, b""))
        if ptr is None:
            continue
        files[path] = ptr.oid
        size = ptr.size
        if path in dirty:
            full = ws.repo.root / path
            if full.is_file():
                files[path] = ws.file_oid(str(full))
                size = full.stat().st_size
            else:
                del files[path]
                continue
        if sizes is not None:
            sizes[path] = size
    return files


def diff(ws: Workspace, rev1: str | None, rev2: str | None) -> Changes:
    """Data files added, modified, deleted from rev1 (default HEAD) to rev2 (default workspace)."""
    changes = Changes()
    for rev in (rev1, rev2):
        if rev is not None and not ws.repo.git("rev-parse", "--verify", "-q", rev + "^{commit}",
                                               check=False).strip():
            raise DatavcError(f"unknown revision {rev!r}")
    old = data_at(ws, rev1 or "HEAD", changes)
    new = data_at(ws, rev2, changes)
    compare(old, new, changes)
    return changes
