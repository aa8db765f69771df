"""`status [--json]`: what differs between the workspace, pointers, metafiles and cache.

Filter-tracked files are compared by git itself (its index holds their stat data);
metafile outs by the stat cache, hashing only files it does not know."""

from __future__ import annotations

import json
import os
from typing import Any

from .. import git, output, pointer
from ..changes import metafile_status
from ..errors import DatavcError
from ..workspace import Workspace

TRACKED = ":(attr:filter=datavc)"
PIPELINE_FILES = ("datavc.yaml", "dvc.yaml")  # pipeline.FILES, without importing it
KINDS = ("staged", "added", "modified", "deleted", "not_checked_out", "not_in_cache",
         "left_out")
TITLES = {
    "staged": "changes staged for commit",
    "added": "new in the workspace (not in the metafile)",
    "modified": "modified in the workspace",
    "deleted": "deleted from the workspace",
    "not_checked_out": "pointer in the workspace (content not checked out)",
    "not_in_cache": "object missing from the cache",
    "left_out": "left out by the partial fetch (fetch.include/exclude; "
                "`git datavc pull -I PATH` fetches one)",
}


def collect(ws: Workspace) -> dict[str, list[str]]:
    repo, cache = ws.repo, ws.cache
    report: dict[str, list[str]] = {kind: [] for kind in KINDS}
    entries = list(git.index_entries(repo, [TRACKED]))
    pointers = git.read_blobs(repo, sorted({sha for _, sha, _ in entries}))
    for _, sha, path in entries:
        ptr = pointer.parse(pointers.get(sha, b""))
        if ptr is None:
            continue
        if not cache.has(ptr.oid):
            report["not_in_cache"].append(path)
        if _holds_pointer(repo.root / path, pointers[sha]):
            report["not_checked_out"].append(path)
    for line in _diff(repo, "--cached"):
        report["staged"].append(line[1])
    for status, path in _diff(repo):
        if path not in report["not_checked_out"]:
            report["deleted" if status == "D" else "modified"].append(path)
    for kind, paths in metafile_status(ws).as_dict().items():
        report[kind] += paths
    _move_left_out(ws, report)
    return report


def _move_left_out(ws: Workspace, report: dict[str, list[str]]) -> None:
    """A file outside the partial fetch whose object is not here is as the user asked:
    listed as left out, not as a pointer, missing or deleted file."""
    if not report["not_in_cache"]:
        return
    from .. import fetchfilter

    only = fetchfilter.load(ws.repo, ws.settings)
    if not only.active:
        return
    left = {p for p in report["not_in_cache"] if not only.selects(p)}
    for kind in ("not_in_cache", "not_checked_out", "deleted"):
        report[kind] = [p for p in report[kind] if p not in left]
    report["left_out"] = sorted(left)


def _diff(repo: git.Repo, *args: str) -> list[tuple[str, str]]:
    head = repo.git("rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    if "--cached" in args and not head:
        return [("A", path) for _, _, path in git.index_entries(repo, [TRACKED])]
    out = repo.git("diff", *args, "--name-status", "-z", "--no-renames", "--", TRACKED)
    fields = out.split(b"\0")
    return [(fields[i].decode(), fields[i + 1].decode()) for i in range(0, len(fields) - 1, 2)]


def _holds_pointer(path: os.PathLike[str], blob: bytes) -> bool:
    try:
        if os.path.getsize(path) != len(blob):
            return False
        with open(path, "rb") as f:
            return f.read(len(blob) + 1) == blob
    except OSError:
        return False


def _stages(ws: Workspace) -> dict[str, list[Any]] | None:
    """The pipeline's changed stages (None when there is no pipeline file)."""
    if not any((ws.repo.root / name).is_file() for name in PIPELINE_FILES):
        return None  # checked before importing the pipeline code (YAML: 0.1 s)
    from .. import pipeline

    from ..repro import stage_changes

    try:
        return stage_changes(ws, pipeline.load(ws.repo.root))
    except DatavcError as e:  # the files' status is still worth showing
        output.warn(f"pipeline: {e}")
        return None


def run(as_json: bool = False, everything: bool = False) -> int:
    from ..dvcrepo import dvc_files

    ws = Workspace.open()
    try:
        report: dict[str, Any] = dict(collect(ws))
        dvc = dvc_files(ws.repo)
        stages = _stages(ws)
    finally:
        ws.close()
    if stages is not None:
        report["stages"] = stages
    if dvc:  # a DVC repository not taken over yet: say so rather than look clean
        output.info(f"datavc: {len(dvc)} DVC files ({dvc[0]}{', ...' if len(dvc) > 1 else ''})"
                    " are not read: `git datavc import-dvc` converts them")
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    if not any(report.values()):
        print("datavc: everything is up to date")
        return 0
    for kind in KINDS:
        output.print_paths(TITLES[kind], report[kind], everything=everything)
    for name, changes in (stages or {}).items():
        print(f"{name}:")
        for change in changes:
            if isinstance(change, str):
                print(f"\t{change}")
                continue
            for title, paths in change.items():
                print(f"\t{title}:")
                for path, what in paths.items():
                    what = what if isinstance(what, str) else \
                        ", ".join(f"{k} {v}" for k, v in what.items())
                    print(f"\t\t{what + ':':<12} {path}")
    if report["not_in_cache"]:
        print("(objects missing from the cache: fetch them from a remote, or re-add the files)")
    return 0
