"""`diff [REV1 [REV2]] [--json | --html [FILE]]`: data files added, modified, deleted
between commits (default: HEAD against the workspace), inside tracked directories too;
`--html` draws them as a treemap with table summaries (datadiff.py)."""

from __future__ import annotations

import json

from .. import output
from ..changes import diff
from ..workspace import Workspace


def run(rev1: str | None, rev2: str | None, as_json: bool = False,
        everything: bool = False) -> int:
    ws = Workspace.open()
    try:
        changes = diff(ws, rev1, rev2)
    finally:
        ws.close()
    result = changes.as_dict()
    missing = result.pop("not_in_cache")
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        for kind in ("added", "modified", "deleted"):
            output.print_paths(kind, result[kind], everything=everything)
        if not any(result.values()):
            print("no data changes")
    for path in missing:
        output.warn(f"{path}: manifest not in the cache, compared as a whole")
    return 0


def run_html(rev1: str | None, rev2: str | None, out: str, open_page: bool = False) -> int:
    from ..datadiff import collect, write_page

    ws = Workspace.open()
    try:
        report = collect(ws, rev1, rev2)
    finally:
        ws.close()
    path = write_page(report, out)
    changed = sum(1 for f in report.files if f.status != "unchanged")
    output.info(f"datavc: {changed} of {len(report.files)} data files changed; page written "
                f"to {path}")
    if open_page:
        import webbrowser
        from pathlib import Path

        webbrowser.open(Path(path).resolve().as_uri())
    return 0
