"""Metrics and params of the workspace or of a commit, flattened to dotted keys, and
their differences (what `metrics show|diff` and `params diff` print).

A file at a commit is read from git when git tracks it, else through that commit's
`datavc.lock` from the cache (metrics outs with `cache: true`, or files inside a folder
out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import git, lockfile, params, pointer
from .errors import DatavcError
from .metafile import Out
from .pipeline import LOCK, Pipeline
from .workspace import Workspace


DVCLIVE_METRICS = "dvclive/metrics.json"


def metrics_files(pipe: Pipeline) -> list[str]:
    """Stage metrics outs, the top-level `metrics:` list, and dvclive's summary file
    (dvclive declares it in its own dvclive/dvc.yaml, which is not read): a file that is
    not there is skipped by `load_at`."""
    found = [o.path for s in pipe.stages.values() for o in s.outs if o.kind == "metrics"]
    return list(dict.fromkeys(found + list(pipe.metrics) + [DVCLIVE_METRICS]))


def params_files(pipe: Pipeline) -> list[str]:
    found = [file for s in pipe.stages.values() for file, _ in s.params]
    return list(dict.fromkeys([params.DEFAULT] + found + list(pipe.params_files)))


def check_rev(ws: Workspace, rev: str) -> str:
    sha = ws.repo.git("rev-parse", "-q", "--verify", rev + "^{commit}", check=False)
    if not sha.strip():
        raise DatavcError(f"unknown revision {rev!r}")
    return sha.decode().strip()


def read_at(ws: Workspace, rev: str | None, path: str) -> bytes | None:
    """The bytes of repo-relative `path` in the workspace (rev None) or at `rev`. A file
    tracked in filter mode is its object's bytes, from the cache (None when the cache lacks
    it), not the pointer git holds."""
    if rev is None:
        try:
            return _unpointed(ws, (ws.repo.root / path).read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
    blob = _blob(ws, rev, path)
    if blob is not None:
        return _unpointed(ws, blob)
    lock_text = _blob(ws, rev, LOCK)
    if lock_text is None:
        return None
    for stage in lockfile.parse(lock_text, f"{rev}:{LOCK}").values():
        for out in stage.outs:
            oid = _oid_in(ws, out, path)
            if oid is not None:
                return _cached(ws, oid)
    return None


def _unpointed(ws: Workspace, data: bytes) -> bytes | None:
    """`data`, or when it is a datavc pointer, the bytes of the object it names."""
    ptr = pointer.parse(data)
    return data if ptr is None else _cached(ws, ptr.oid)


def _cached(ws: Workspace, oid: str) -> bytes | None:
    """The bytes of a cache object, None when the cache lacks it."""
    if not ws.cache.has(oid):
        return None
    with ws.cache.open(oid) as f:
        return f.read()


def _oid_in(ws: Workspace, out: Out, path: str) -> str | None:
    """The object holding `path`: the out itself, or a file of a folder out (a metrics
    file such as eval/metrics.json inside the out `eval`)."""
    if out.path == path and not out.is_dir:
        return out.oid
    if out.is_dir and path.startswith(out.path + "/") and ws.cache.has(out.oid):
        rel = path[len(out.path) + 1:]
        for entry in ws.entries_of(out) or []:
            if entry.relpath == rel:
                return entry.oid
    return None


def _blob(ws: Workspace, rev: str, path: str) -> bytes | None:
    out = ws.repo.git("rev-parse", "-q", "--verify", f"{rev}:{path}", check=False)
    sha = out.decode().strip()
    return git.read_blobs(ws.repo, [sha]).get(sha) if sha else None


def load_at(ws: Workspace, rev: str | None, files: list[str]) -> dict[str, dict[str, Any]]:
    """{file: {dotted key: value}} of the files that exist there."""
    found = {}
    for file in files:
        data = read_at(ws, rev, file)
        if data is not None:
            where = f"{rev}:{file}" if rev else file
            found[file] = params.flatten(params.parse(data, Path(file).suffix.lower(), where))
    return found


def diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
         ) -> dict[str, dict[str, dict[str, Any]]]:
    """{file: {key: {old, new[, diff]}}} of the values that differ (DVC's --json shape)."""
    changes: dict[str, dict[str, dict[str, Any]]] = {}
    for file in list(dict.fromkeys(list(old) + list(new))):
        before, after = old.get(file, {}), new.get(file, {})
        for key in list(dict.fromkeys(list(before) + list(after))):
            a, b = before.get(key), after.get(key)
            if a == b and type(a) is type(b):
                continue
            entry: dict[str, Any] = {"old": a, "new": b}
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                    and _number(a) and _number(b):
                entry["diff"] = b - a
            changes.setdefault(file, {})[key] = entry
    return changes


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
