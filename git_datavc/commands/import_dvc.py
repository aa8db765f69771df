"""`import-dvc [--dry-run] [--fetch [-r NAME]]`: convert a DVC repository for good."""

from __future__ import annotations

from .. import output
from ..checkout import checkout, checkout_outs
from ..dvcimport import Report, import_dvc
from ..errors import DatavcError
from ..workspace import Workspace, lock_outs


def run(dry_run: bool = False, fetch: bool = False, remote: str | None = None) -> int:
    ws = Workspace.open()
    try:
        report = import_dvc(ws, dry_run, fetch, remote)
        if not dry_run and report.converted:
            # put back what came from DVC's cache or remote (modified files stay as they are)
            placed = checkout(ws, [ws.repo.root / t for _, t, _ in report.metafiles])
            more = checkout_outs(ws, lock_outs(ws))
            if placed.placed + more.placed:
                output.info(f"datavc: {placed.placed + more.placed} files placed")
    finally:
        ws.close()
    _print(report, dry_run)
    if report.skipped:
        raise DatavcError(f"{len(report.skipped)} items could not be converted (listed above)"
                          + ("" if dry_run else "; the rest was converted"))
    return 0


def _print(report: Report, dry_run: bool) -> None:
    verb = "would convert" if dry_run else "converted"
    stats = report.stats
    print(f"import-dvc: {verb} {len(report.metafiles)} .dvc files and "
          f"{len(report.stages)} dvc.lock stages "
          f"({stats.files} files, {output.human_size(stats.bytes)} checked against their md5)")
    for source, target, outs in report.metafiles:
        print(f"    {source} -> {target}")
    for name in report.stages:
        print(f"    stage {name} -> datavc.lock")
    where = [f"{stats.from_workspace} from the workspace"] + \
        [f"{n} from {name}" for name, n in stats.from_source.items()]
    print(f"  files: {', '.join(where)}")
    if report.lock_removed:
        print("  dvc.lock replaced by datavc.lock")
    for item in report.skipped:
        print(f"  not converted: {item}")
    if dry_run:
        print("  (dry run: nothing was written)")
        return
    if report.converted:
        print("next: git add -A && git commit -m 'take over from DVC'")
    for name, url in report.remotes.items():
        print(f"  DVC remote {name!r} can hold git-datavc's objects too (under files/blake3/, "
              f"beside DVC's): git datavc remote add -d {name} {url}")
