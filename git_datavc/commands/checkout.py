"""`checkout [PATH...] [--force] [--relink]`: make the workspace match the metafiles."""

from __future__ import annotations

from typing import Sequence

from .. import fetchfilter, git, output
from ..checkout import Report, checkout, checkout_outs
from ..errors import DatavcError
from ..fetchfilter import HINT, FetchFilter
from ..workspace import Workspace, lock_outs, targets_to_metafiles


class LeftOut:
    """The partial-fetch filter, loaded (one `git config` call) only once some path turns
    out to be missing: a checkout with everything cached never asks."""

    def __init__(self, repo: git.Repo, only: FetchFilter | None = None) -> None:
        self.repo, self.only = repo, only

    def split(self, paths: list[str]) -> tuple[list[str], list[str]]:
        """(missing, left out): paths outside the partial-fetch filter are not missing."""
        if not paths:
            return paths, []
        if self.only is None:
            from .. import config

            self.only = fetchfilter.load(self.repo, config.load(self.repo.root))
        if not self.only.active:
            return paths, []
        return ([p for p in paths if self.only.selects(p)],
                [p for p in paths if not self.only.selects(p)])

    def say(self, count: int) -> None:
        if count and self.only is not None:
            output.info(f"datavc: {count} files not fetched: outside the partial fetch "
                        f"({self.only.describe()}); {HINT}")


def print_report(report: Report, left_out: LeftOut | None = None) -> list[str]:
    """Warn about what could not be placed; returns the paths really missing (those
    outside the partial fetch are not, when `left_out` is given)."""
    missing = left_out.split(report.missing)[0] if left_out else report.missing
    for rel in missing:
        output.warn(f"{rel}: not in the cache (fetch it from a remote, or add it again)")
    for rel in report.kept:
        output.warn(f"{rel}: modified and not in the cache; left as it is "
                    "(`git datavc commit` keeps it, `checkout --force` discards it)")
    return missing


def restore_pointers(repo: git.Repo, left_out: LeftOut | None = None) -> tuple[int, int]:
    """Replace the filter-mode pointers left in the workspace; returns (how many stay
    pointers because their objects are not in the cache, how many of those are outside
    the partial-fetch filter and so meant to stay pointers)."""
    from ..filterlinks import restore_pointers

    done = restore_pointers(repo)
    if done.placed:
        output.info(f"datavc: {len(done.placed)} filter-tracked files restored from the cache")
    for rel in done.kept:
        output.warn(f"{rel}: a pointer that differs from the index (edited?); left as it is")
    missing, outside = (left_out or LeftOut(repo)).split(done.missing)
    for rel in missing[:10]:
        output.warn(f"{rel}: still a pointer, its object is not in the cache "
                    "(`git datavc pull` fetches it)")
    if len(missing) > 10:
        output.warn(f"... and {len(missing) - 10} more files still pointers")
    return len(missing), len(outside)


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
    finally:
        ws.close()
    left_out = LeftOut(ws.repo, only)
    unresolved, pointers_left_out = restore_pointers(ws.repo, left_out) if not targets else (0, 0)
    missing = print_report(report, left_out)
    left_out.say(len(report.missing) - len(missing) + pointers_left_out)
    if report.placed or report.removed:
        output.info(f"datavc: {report.placed} files placed, {report.removed} removed")
    if missing:
        raise DatavcError(f"{len(missing)} files could not be checked out: "
                          "their objects are not in the cache")
    if unresolved and pointers_must_resolve:
        raise DatavcError(f"{unresolved} files are still pointers: "
                          "their objects are in no cache and on no remote")
    return 0
