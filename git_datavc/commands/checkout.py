"""`checkout [PATH...] [--force] [--relink]`: make the workspace match the metafiles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .. import metafile, output
from ..checkout import Report, checkout
from ..errors import DatavcError
from ..workspace import Workspace, metafiles_in


def targets_to_metafiles(ws: Workspace, targets: Sequence[str]) -> list[Path]:
    """Metafiles named directly, or by their data path, or all below a directory."""
    if not targets:
        return metafiles_in(ws.repo)
    found: list[Path] = []
    for target in targets:
        path = Path(os.path.abspath(target))
        if path.name.endswith(metafile.SUFFIX) and path.is_file():
            found.append(path)
        elif path.with_name(path.name + metafile.SUFFIX).is_file():
            found.append(path.with_name(path.name + metafile.SUFFIX))
        elif path.is_dir():
            rel = path.relative_to(ws.repo.root).as_posix()
            found += metafiles_in(ws.repo, [f"{rel}/*{metafile.SUFFIX}" if rel != "." else
                                            f"*{metafile.SUFFIX}"])
        else:
            raise DatavcError(f"{target}: no metafile tracks it")
    return list(dict.fromkeys(found))


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
