"""Make the workspace match the metafiles: place what differs, remove what is gone.

With a record of the version last checked out at an out, only the entries that differ
between the two manifests are touched. A workspace file whose bytes are not in the cache
is never overwritten or removed without `force`: it is reported and left alone.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import output
from .errors import CorruptObject, ObjectMissing, UnsafePath
from .metafile import Entry, Out, entries_from_items
from .workspace import Workspace, load_metafile, walk_files

REMEMBER_BATCH = 5000   # stat-cache rows written at once


@dataclass
class Report:
    placed: int = 0
    removed: int = 0
    missing: list[str] = field(default_factory=list)   # objects not in the cache
    kept: list[str] = field(default_factory=list)      # modified files left alone

    @property
    def complete(self) -> bool:
        return not self.missing and not self.kept


def checkout(ws: Workspace, mfiles: Iterable[Path], force: bool = False,
             relink: bool = False, trust_records: bool = False) -> Report:
    return checkout_outs(ws, ((ws.out_abspath(mfile, out), out) for mfile in mfiles
                              for out in load_metafile(ws, mfile)), force, relink, trust_records)


def checkout_outs(ws: Workspace, outs: Iterable[tuple[Path, Out]], force: bool = False,
                  relink: bool = False, trust_records: bool = False) -> Report:
    """Place each out at its absolute path (metafile outs, or stage outs of the lock).
    With `trust_records` (the hooks, right after git moved HEAD) an out whose record says
    what version was placed there is updated by diffing the two manifests, without looking
    at unchanged files; otherwise every file is checked (from the stat cache)."""
    report = Report()
    records = ws.records()
    try:
        for path, out in outs:
            rel = ws.relpath(path)
            previous = records.get(rel) if trust_records and not (force or relink) else None
            before = (len(report.missing), len(report.kept))
            _checkout_out(ws, path, rel, out, previous, force, relink, report)
            if (len(report.missing), len(report.kept)) == before:
                records[rel] = out.oid
            else:
                records.pop(rel, None)  # next time compare every file
    finally:
        ws.state.commit()
        ws.save_records(records)
    return report


def _checkout_out(ws: Workspace, path: Path, rel: str, out: Out, previous: str | None,
                  force: bool, relink: bool, report: Report) -> None:
    if out.is_dir and previous and previous.endswith(".dir") and not relink \
            and path.is_dir() and not path.is_symlink():
        if _switch_dir(ws, path, rel, out.oid, previous, force, report):
            return
    entries = ws.entries_of(out)
    if entries is None:
        report.missing.append(rel)
        return
    if not out.is_dir:
        if previous == out.oid and os.path.lexists(path):
            return
        if (relink or not _matches(ws, str(path), out.oid)) \
                and _place(ws, str(path), rel, entries[0], force, report):
            ws.remember(path, out.oid)
        return
    if os.path.lexists(path) and not os.path.isdir(path) or os.path.islink(path):
        if not remove_path(ws, path, rel, force, report):
            return
    new = {e.relpath: e for e in entries}
    existing = {r: (p, st) for r, p, st in ws.walk(path)} if path.is_dir() else {}
    if len(existing) > 64:
        ws.preload_state()
    to_place = [e for r, e in new.items() if relink or r not in existing
                or not _matches(ws, existing[r][0], e.oid, existing[r][1])]
    to_remove = [r for r in existing if r not in new]
    _apply(ws, path, rel, to_place, to_remove, force, report)


def _switch_dir(ws: Workspace, path: Path, rel: str, new_oid: str, old_oid: str,
                force: bool, report: Report) -> bool:
    """From the version last placed to the new one, touching only the entries that differ
    between the two manifests (compared as raw JSON mappings: no per-entry objects).
    False when either manifest is not in the cache."""
    new_items = ws.manifest_items(new_oid)
    old_items = ws.manifest_items(old_oid) if new_items is not None else None
    if new_items is None or old_items is None:
        return False
    old = {i["relpath"]: i for i in old_items}
    changed = [i for i in new_items if old.get(i["relpath"]) != i]
    new_paths = {i["relpath"] for i in new_items}
    to_remove = [r for r in old if r not in new_paths]
    _apply(ws, path, rel, entries_from_items(changed), to_remove, force, report)  # type: ignore[arg-type]
    return True


def _apply(ws: Workspace, path: Path, rel: str, to_place: list[Entry], to_remove: list[str],
           force: bool, report: Report) -> None:
    """Removals first, as git does: a path that was a file may be a folder of new files."""
    for relpath in to_remove:
        if remove_path(ws, path / relpath, f"{rel}/{relpath}", force, report):
            _prune_empty_dirs(ws, path, (path / relpath).parent)
    placed: list[tuple[str, str]] = []
    top = str(path)
    for entry in to_place:
        dst = f"{top}/{entry.relpath}"
        if _place(ws, dst, f"{rel}/{entry.relpath}", entry, force, report):
            placed.append((dst, entry.oid))
            if len(placed) >= REMEMBER_BATCH:
                ws.remember_many(placed)
                placed.clear()
    ws.remember_many(placed)


def _matches(ws: Workspace, path: str, oid: str, st: os.stat_result | None = None) -> bool:
    try:
        st = st or os.stat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and ws.file_oid(path, st) == oid


def _place(ws: Workspace, dst: str, rel: str, entry: Entry, force: bool,
           report: Report) -> bool:
    """Put the entry's object at `dst` (the caller records it in the stat cache)."""
    if not ws.cache.has(entry.oid):
        report.missing.append(rel)
        return False
    try:
        src = ws.cache.whole(entry.oid)  # a chunked object is rebuilt (and checked) first
    except (CorruptObject, ObjectMissing) as e:
        output.warn(f"{rel}: {e.message}")
        report.missing.append(rel)
        return False
    if not _make_parents(ws, dst, rel, force, report):
        return False
    try:
        st = os.lstat(dst)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(st.st_mode):
            if not _remove_tree(ws, Path(dst), rel, force, report):
                return False
        elif not force and not ws.disposable(dst):
            report.kept.append(rel)
            return False
    ws.linker.place(src, dst, entry.isexec)
    report.placed += 1
    return True


def _make_parents(ws: Workspace, dst: str, rel: str, force: bool, report: Report) -> bool:
    """Create dst's folders; a file where a folder must go is removed if disposable.
    A symlinked folder is never written through. Folders found fine are remembered for
    the rest of the run (forgotten when a removal could have taken one away)."""
    parent = os.path.dirname(dst)
    if parent in ws.ready_dirs:
        return True
    root = str(ws.repo.root)
    current = root
    for part in parent[len(root) + 1:].split("/") if parent != root else ():
        current = f"{current}/{part}"
        if current in ws.ready_dirs:
            continue
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current)
        else:
            if stat.S_ISLNK(st.st_mode):
                raise UnsafePath(f"{rel}: will not write through the symlinked directory "
                                 f"{current[len(root) + 1:]}")
            if not stat.S_ISDIR(st.st_mode):
                if not remove_path(ws, Path(current), current[len(root) + 1:], force, report):
                    return False
                os.mkdir(current)
        ws.ready_dirs.add(current)
    return True


def remove_path(ws: Workspace, path: Path, rel: str, force: bool, report: Report) -> bool:
    if not os.path.lexists(path):
        return True
    if os.path.isdir(path) and not os.path.islink(path):
        return _remove_tree(ws, path, rel, force, report)
    if not force and not ws.disposable(str(path)):
        report.kept.append(rel)
        return False
    os.unlink(path)
    report.removed += 1
    return True


def _remove_tree(ws: Workspace, path: Path, rel: str, force: bool, report: Report) -> bool:
    ws.ready_dirs.clear()
    ok = True
    for relpath, abspath, _ in list(walk_files(path)):
        ok = remove_path(ws, Path(abspath), f"{rel}/{relpath}", force, report) and ok
    if ok:
        # Bottom-up: a sub-folder was already removed when its own turn came, so only
        # files and symlinks (to folders too: os.walk lists them in `dirs`) are unlinked.
        for folder, dirs, files in os.walk(path, topdown=False):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                os.unlink(os.path.join(folder, name))  # leftovers: they hold no data
            os.rmdir(folder)
    return ok


def _prune_empty_dirs(ws: Workspace, top: Path, folder: Path) -> None:
    while folder != top and folder.is_relative_to(top):
        try:
            os.rmdir(folder)
        except OSError:
            return
        ws.ready_dirs.clear()
        folder = folder.parent
