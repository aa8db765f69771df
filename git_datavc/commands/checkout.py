"""`checkout [PATH...] [--force] [--relink]`: make the workspace match the metafiles."""

from __future__ import annotations

from typing import Sequence

from .. import fetchfilter, git, output
from ..checkout import Report, checkout, checkout_outs
from ..errors import DatavcError
from ..fetchfilter import HINT, FetchFilter
from ..workspace import Workspace, lock_outs, targets_to_metafiles


def split_left_out(paths: list[str], only: FetchFilter | None) -> tuple[list[str], list[str]]:
    """(missing, left out): paths outside the partial-fetch filter are not missing."""
    if only is None or not only.active:
        return paths, []
    return [p for p in paths if only.selects(p)], [p for p in paths if not only.selects(p)]


def print_report(report: Report, only: FetchFilter | None = None) -> list[str]:
    """Warn about what could not be placed; returns the paths really missing."""
    missing, left_out = split_left_out(report.missing, only)
    for rel in missing:
        output.warn(f"{rel}: not in the cache (fetch it from a remote, or add it again)")
    for rel in report.kept:
        output.warn(f"{rel}: modified and not in the cache; left as it is "
                    "(`git datavc commit` keeps it, `checkout --force` discards it)")
    return missing


def say_left_out(count: int, only: FetchFilter | None) -> None:
    if count and only is not None:
        output.info(f"datavc: {count} files not fetched: outside the partial fetch "
                    f"({only.describe()}); {HINT}")


def restore_pointers(repo: git.Repo, only: FetchFilter | None = None) -> tuple[int, int]:
    """Replace the filter-mode pointers left in the workspace; returns (how many stay
    pointers because their objects are not in the cache, how many of those are outside
    the partial-fetch filter and so meant to stay pointers)."""
    from ..filterlinks import restore_pointers

    done = restore_pointers(repo)
    if done.placed:
        output.info(f"datavc: {len(done.placed)} filter-tracked files restored from the cache")
    for rel in done.kept:
        output.warn(f"{rel}: a pointer that differs from the index (edited?); left as it is")
    missing, left_out = split_left_out(done.missing, only)
    for rel in missing[:10]:
        output.warn(f"{rel}: still a pointer, its object is not in the cache "
                    "(`git datavc pull` fetches it)")
    if len(missing) > 10:
        output.warn(f"... and {len(missing) - 10} more files still pointers")
    return len(missing), len(left_out)


def run(targets: Sequence[str], force: bool = False, relink: bool = False,
        pointers_must_resolve: bool = False, only: FetchFilter | None = None) -> int:
    """With `pointers_must_resolve` (pull), a pointer left unresolved is an error. Files
    outside the partial-fetch filter (`only`, else the configured one) are not."""
    ws = Workspace.open()
    try:
        report = checkout(ws, targets_to_metafiles(ws, targets), force, relink)
        if not targets:  # and the pipeline's stage outs
            more = checkout_outs(ws, lock_outs(ws), force, relink)
            report.placed += more.placed
            report.removed += more.removed
            report.missing += more.missing
            report.kept += more.kept
        only = only or fetchfilter.load(ws.repo, ws.settings)
    finally:
        ws.close()
    unresolved, pointers_left_out = restore_pointers(ws.repo, only) if not targets else (0, 0)
    missing = print_report(report, only)
    say_left_out(len(report.missing) - len(missing) + pointers_left_out, only)
    if report.placed or report.removed:
        output.info(f"datavc: {report.placed} files placed, {report.removed} removed")
    if missing:
        raise DatavcError(f"{len(missing)} files could not be checked out: "
                          "their objects are not in the cache")
    if unresolved and pointers_must_resolve:
        raise DatavcError(f"{unresolved} files are still pointers: "
                          "their objects are in no cache and on no remote")
    return 0
