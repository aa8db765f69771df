"""`checkout [PATH...] [--force] [--relink]`: make the workspace match the metafiles."""

from __future__ import annotations

from typing import Sequence

from .. import output
from ..checkout import Report, checkout, checkout_outs
from ..errors import DatavcError
from ..workspace import Workspace, lock_outs, targets_to_metafiles


def print_report(report: Report) -> None:
    for rel in report.missing:
        output.warn(f"{rel}: not in the cache (fetch it from a remote, or add it again)")
    for rel in report.kept:
        output.warn(f"{rel}: modified and not in the cache; left as it is "
                    "(`git datavc commit` keeps it, `checkout --force` discards it)")


def run(targets: Sequence[str], force: bool = False, relink: bool = False) -> int:
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
    if not targets:
        from ..filterlinks import sync

        linked = sync(ws.repo, scan=True)
        if linked:
            output.info(f"datavc: {len(linked)} filter-tracked files linked to the cache")
    print_report(report)
    if report.placed or report.removed:
        output.info(f"datavc: {report.placed} files placed, {report.removed} removed")
    if report.missing:
        raise DatavcError(f"{len(report.missing)} files could not be checked out: "
                          "their objects are not in the cache")
    return 0
