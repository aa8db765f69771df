"""`checkout [PATH...] [--force] [--relink]`: make the workspace match the metafiles."""

from __future__ import annotations

from typing import Sequence

from .. import git, output
from ..checkout import Report, checkout, checkout_outs
from ..errors import DatavcError
from ..workspace import Workspace, lock_outs, targets_to_metafiles


def print_report(report: Report) -> None:
    for rel in report.missing:
        output.warn(f"{rel}: not in the cache (fetch it from a remote, or add it again)")
    for rel in report.kept:
        output.warn(f"{rel}: modified and not in the cache; left as it is "
                    "(`git datavc commit` keeps it, `checkout --force` discards it)")


def restore_pointers(repo: git.Repo) -> int:
    """Replace the filter-mode pointers left in the workspace; returns how many stay
    pointers because their objects are not in the cache."""
    from ..filterlinks import restore_pointers

    done = restore_pointers(repo)
    if done.placed:
        output.info(f"datavc: {len(done.placed)} filter-tracked files restored from the cache")
    for rel in done.kept:
        output.warn(f"{rel}: a pointer that differs from the index (edited?); left as it is")
    for rel in done.missing[:10]:
        output.warn(f"{rel}: still a pointer, its object is not in the cache "
                    "(`git datavc pull` fetches it)")
    if len(done.missing) > 10:
        output.warn(f"... and {len(done.missing) - 10} more files still pointers")
    return len(done.missing)


def run(targets: Sequence[str], force: bool = False, relink: bool = False,
        pointers_must_resolve: bool = False) -> int:
    """With `pointers_must_resolve` (pull), a pointer left unresolved is an error."""
    ws = Workspace.open()
    try:
        report = checkout(ws, targets_to_metafiles(ws, targets), force, relink)
        if not targets:  # and the pipeline's stage outs
            more = checkout_outs(ws, lock_outs(ws), force, relink)
            report.placed += more.placed
            report.removed += more.removed
            report.missing += more.missing
            report.kept += more.kept
    finally:
        ws.close()
    unresolved = restore_pointers(ws.repo) if not targets else 0
    print_report(report)
    if report.placed or report.removed:
        output.info(f"datavc: {report.placed} files placed, {report.removed} removed")
    if report.missing:
        raise DatavcError(f"{len(report.missing)} files could not be checked out: "
                          "their objects are not in the cache")
    if unresolved and pointers_must_resolve:
        raise DatavcError(f"{unresolved} files are still pointers: "
                          "their objects are in no cache and on no remote")
    return 0
