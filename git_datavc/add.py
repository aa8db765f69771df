"""`git datavc add`: snapshot files and directories into the cache as metafile outs.

Order of work, so that nothing is lost if the process dies at any point: objects into the
cache (durable), then workspace files relinked to them, then the metafile, .gitignore and
workspace record. A user's file is only replaced after its bytes are safely cached.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from . import metafile, output
from .cache import Writer

PARALLEL_FROM = 2000  # files; below this, starting worker processes costs more than it saves
BATCH = 500
_job: tuple[Workspace, list[tuple[str, str, os.stat_result]], bool] | None = None
from .errors import DatavcError
from .hashing import hash_file
from .links import NOT_SUPPORTED, READ_ONLY
from .metafile import Entry, Out
from .workspace import Workspace, check_inside


@dataclass
class _Snapshot:
    entries: list[Entry] = field(default_factory=list)
    relink: list[tuple[str, str, bool]] = field(default_factory=list)  # (abspath, oid, isexec)
    remember: list[tuple[str, str]] = field(default_factory=list)  # (abspath, oid)
    skipped_links: int = 0


def resolve_targets(ws: Workspace, targets: Sequence[str]) -> list[Path]:
    """Absolute target paths, refused when outside the repo, nested, or tracked otherwise."""
    paths = []
    for target in targets:
        path = Path(os.path.abspath(target))
        check_inside(ws.repo.root, path)
        if path == ws.repo.root:
            raise DatavcError("cannot add the whole repository; name a file or directory in it")
        if path.name.endswith(metafile.SUFFIX):
            raise DatavcError(f"{target} is a metafile; add the data it describes instead")
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise DatavcError(f"{target} is not a file or directory" +
                              (" (symlinks are not followed)" if path.is_symlink() else ""))
        paths.append(path)
    _check_overlaps(ws, paths)
    _check_not_in_git(ws, paths)
    return paths


def _check_overlaps(ws: Workspace, paths: list[Path]) -> None:
    for a in paths:
        for b in paths:
            if a != b and b.is_relative_to(a):
                raise DatavcError(f"{ws.relpath(b)} is inside {ws.relpath(a)}: add one of them")
    tracked = {}
    for mfile in _all_metafiles(ws):
        for out in metafile.load(mfile):
            tracked[mfile.parent / out.path] = mfile
    for path in paths:
        for out_path, mfile in tracked.items():
            if out_path == path:
                continue
            if path.is_relative_to(out_path) or out_path.is_relative_to(path):
                raise DatavcError(f"{ws.relpath(path)} overlaps {ws.relpath(out_path)}, "
                                  f"already tracked by {ws.relpath(mfile)}")


def _all_metafiles(ws: Workspace) -> list[Path]:
    from .workspace import metafiles_in

    return metafiles_in(ws.repo)


def _check_not_in_git(ws: Workspace, paths: list[Path]) -> None:
    specs = [ws.relpath(p) for p in paths]
    tracked = ws.repo.git("ls-files", "-z", "--", *specs).decode().split("\0")
    tracked = [t for t in tracked if t]
    if tracked:
        raise DatavcError(f"{tracked[0]} is already tracked by git",
                          f"run `git rm -r --cached {tracked[0]}` first to let datavc track it")


def add(ws: Workspace, targets: Sequence[str]) -> list[Path]:
    """Snapshot each target; returns the metafiles written."""
    paths = resolve_targets(ws, targets)
    written = []
    for path in paths:
        written.append(snapshot_out(ws, path, path.with_name(path.name + metafile.SUFFIX)))
    return written


def snapshot_out(ws: Workspace, path: Path, mfile: Path) -> Path:
    """Cache `path` (file or directory), relink it, write `mfile` and .gitignore."""
    out = snapshot(ws, path)
    metafile.write(mfile, [replace(out, path=path.name)])
    ignore_out(ws, path)
    return mfile


def snapshot(ws: Workspace, path: Path, link: bool = True) -> Out:
    """Cache `path` (file or directory) and return its out (repository-relative path).
    With `link` the workspace files are relinked to the cache and the out recorded;
    without, they are left as they are (outs with `cache: false`)."""
    snap = _Snapshot()
    # One sync at the end for all small objects: syncing in batches stalls file creation.
    with ws.cache.writer(auto_flush=False) as writer:
        if path.is_dir():
            ws.preload_state()
            skipped: list[str] = []
            files = [(_checked_rel(ws, path, rel), abspath, st)
                     for rel, abspath, st in ws.walk(path, skipped)]
            snap.skipped_links = len(skipped)
            # Hashing, linking and copying are system calls that release the GIL.
            for item, (oid, action) in zip(files, _add_files(ws, writer, files, link)):
                _collect(snap, item, oid, action)
            data = metafile.encode_manifest(snap.entries)
            out_oid = writer.add_chunks([data], len(data), suffix=".dir")[0]
        else:
            st = os.stat(path)
            _collect(snap, ("", str(path), st), *_add_file(ws, writer, str(path), st, link))
    if path.is_dir():
        ws.mark_manifest_checked(out_oid)
    # Objects are durable now: only from here on may workspace files be replaced.
    for abspath, oid, isexec in snap.relink:
        ws.linker.place(ws.cache.path_str(oid), abspath, isexec)
        snap.remember.append((abspath, oid))
    ws.remember_many(snap.remember)
    ws.state.commit()
    rel = ws.relpath(path)
    if path.is_dir():
        out = Out(rel, out_oid, sum(e.size for e in snap.entries), len(snap.entries))
    else:
        out = Out(rel, snap.entries[0].oid, snap.entries[0].size)
    if link:
        records = ws.records()
        records[rel] = out.oid
        ws.save_records(records)
    if snap.skipped_links:
        output.warn(f"{rel}: {snap.skipped_links} symlinks not followed, not tracked")
    return out


def _checked_rel(ws: Workspace, top: Path, rel: str) -> str:
    if "\\" in rel:  # names from the filesystem: only a backslash can make them unsafe
        raise DatavcError(f"cannot track {ws.relpath(top)}/{rel}: backslashes are not "
                          "allowed in tracked file names")
    return rel


def _collect(snap: _Snapshot, item: tuple[str, str, os.stat_result], oid: str,
             action: str) -> None:
    rel, abspath, st = item
    isexec = bool(st.st_mode & stat.S_IXUSR)
    snap.entries.append(Entry(rel, oid, st.st_size, isexec))
    if action == "relink":
        snap.relink.append((abspath, oid, isexec))
    elif action == "remember":
        snap.remember.append((abspath, oid))


def _add_files(ws: Workspace, writer: Writer, files: list[tuple[str, str, os.stat_result]],
               link: bool = True) -> list[tuple[str, str]]:
    """(oid, action) for each file. Many files are spread over forked worker processes:
    per-file work is system calls plus hashing, and threads would serialise on the GIL."""
    workers = os.cpu_count() or 1
    if len(files) < PARALLEL_FROM or workers < 2 or not hasattr(os, "fork"):
        return [_add_file(ws, writer, f[1], f[2], link) for f in files]
    import multiprocessing

    global _job
    _job = (ws, files, link)  # inherited by the forked workers; only batch bounds are pickled
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            parts = pool.map(_add_batch, range(0, len(files), BATCH), chunksize=1)
    finally:
        _job = None
    results = []
    for part, pending in parts:  # one sync for all the workers' small objects
        writer.adopt(pending)
        results += part
    return results


def _add_batch(start: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    assert _job is not None
    ws, files, link = _job
    writer = ws.cache.writer(auto_flush=False)
    return ([_add_file(ws, writer, f[1], f[2], link) for f in files[start:start + BATCH]],
            writer.pending)


def _add_file(ws: Workspace, writer: Writer, abspath: str, st: os.stat_result,
              link: bool = True) -> tuple[str, str]:
    """Store one file; returns (oid, what the workspace file needs: relink, remember, "").
    Without `link` the file itself is never touched."""
    oid = ws.known_oid(st)
    if oid is not None and writer.has(oid):
        return oid, ""
    if link and ws.linker.types[0] == "hardlink":
        linked = _store_by_hardlink(ws, writer, abspath, st)
        if linked:
            oid, is_linked = linked
            return oid, "remember" if is_linked else "relink"
    with open(abspath, "rb", buffering=0) as f:
        oid, size = writer.add_chunks(iter(lambda: f.read(1 << 20), b""), st.st_size)
    if size != st.st_size:
        raise DatavcError(f"{abspath} changed while it was being added; add it again")
    return oid, "relink" if link and ws.linker.links else "remember"


def _store_by_hardlink(ws: Workspace, writer: Writer, abspath: str,
                       st: os.stat_result) -> tuple[str, bool] | None:
    """Make the user's file itself the cache object: no copy. Returns (oid, whether the
    file is that object already); None when hardlinks do not work here."""
    oid, size = hash_file(abspath)
    if size != st.st_size:
        raise DatavcError(f"{abspath} changed while it was being added; add it again")
    final = ws.cache.path_str(oid)
    if oid in writer.pending:
        return oid, False
    ws.cache.ensure_dir_for(oid)
    try:
        os.link(abspath, final)
    except FileExistsError:
        return oid, _same_inode(abspath, final)
    except OSError as e:
        if e.errno in NOT_SUPPORTED:
            ws.linker.types.pop(0)  # hardlinks do not work here: copy from now on
            return None
        raise
    os.chmod(final, READ_ONLY)
    return oid, True


def _same_inode(a: str | Path, b: str | Path) -> bool:
    try:
        return os.stat(a).st_ino == os.stat(b).st_ino
    except OSError as e:
        if e.errno == errno.ENOENT:
            return False
        raise


def ignore_out(ws: Workspace, path: Path) -> None:
    """Add `/name` to the .gitignore beside `path`, unless it is there already."""
    ignore = path.parent / ".gitignore"
    line = "/" + _escape_ignore(path.name)
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    if line in lines:
        return
    text = ignore.read_text() if ignore.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    tmp = ignore.with_name(".gitignore.tmp")   # one name: a rerun replaces a leftover
    tmp.write_text(text + line + "\n")
    os.replace(tmp, ignore)


def _escape_ignore(name: str) -> str:
    escaped = "".join("\\" + c if c in "*?[]\\!#" else c for c in name)
    return escaped[:-1] + "\\ " if escaped.endswith(" ") else escaped


