"""What an experiment holds, read for `exp show|diff`, and `exp apply`: its files brought
into the workspace (HEAD and the index stay), its data checked out from the cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import compare, git, pipeline
from .checkout import Report, checkout, checkout_outs
from .errors import DatavcError
from .experiments import Experiment, resolve
from .workspace import Workspace, lock_outs, targets_to_metafiles

Values = dict[str, dict[str, Any]]   # {file: {dotted key: value}}


@dataclass
class Files:
    params: list[str]
    metrics: list[str]


def files_of(ws: Workspace) -> Files:
    pipe = pipeline.load(ws.repo.root, strict=False)
    return Files(compare.params_files(pipe), compare.metrics_files(pipe))


def values_at(ws: Workspace, files: Files, rev: str | None) -> tuple[Values, Values]:
    """(params, metrics) at `rev` (None: the workspace)."""
    return compare.load_at(ws, rev, files.params), compare.load_at(ws, rev, files.metrics)


def revision(ws: Workspace, name: str | None) -> tuple[str | None, str]:
    """(rev, label) of what `exp diff` compares: an experiment's name, a git revision, or
    None for the workspace."""
    if name is None or name == "workspace":
        return None, "workspace"
    try:
        return resolve(ws.repo, name).rev, name
    except DatavcError:
        return compare.check_rev(ws, name), name


def apply(ws: Workspace, name: str, force: bool = False) -> tuple[Experiment, list[str], Report]:
    """Write the files that differ between HEAD and the experiment into the workspace, then
    check out its outs. A file with uncommitted edits that the experiment would change is
    refused (its edit would be lost) unless `force`; data files are only replaced when their
    bytes are in the cache, as in every checkout."""
    exp = resolve(ws.repo, name)
    repo = ws.repo
    changed = _paths(repo.git("diff", "--name-only", "-z", "--no-renames", "HEAD", exp.rev))
    edited = set(_paths(repo.git("diff", "--name-only", "-z", "HEAD")))
    conflicts = [p for p in changed if p in edited and _differs(repo, exp.rev, p)]
    if conflicts and not force:
        more = f" and {len(conflicts) - 1} more" if len(conflicts) > 1 else ""
        raise DatavcError(f"{conflicts[0]}{more} has uncommitted changes that applying "
                          f"{exp.name} would overwrite",
                          "commit or stash them, or pass --force to discard them")
    if changed:
        repo.git("restore", f"--source={exp.rev}", "--worktree", "--", *changed)
    report = checkout(ws, targets_to_metafiles(ws, []), force)
    stage_outs = checkout_outs(ws, lock_outs(ws), force)
    report.placed += stage_outs.placed
    report.removed += stage_outs.removed
    report.missing += stage_outs.missing
    report.kept += stage_outs.kept
    return exp, changed, report


def _paths(out: bytes) -> list[str]:
    return [p for p in out.decode(errors="surrogateescape").split("\0") if p]


def _differs(repo: git.Repo, rev: str, path: str) -> bool:
    """Does the workspace file differ from the experiment's version of it?"""
    ours = repo.git("hash-object", "--", path, check=False).decode().strip()
    theirs = repo.git("rev-parse", "-q", "--verify", f"{rev}:{path}",
                      check=False).decode().strip()
    return ours != theirs
