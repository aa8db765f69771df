"""`diff [REV1 [REV2]] [--json]`: data files added, modified, deleted between commits
(default: HEAD against the workspace), inside tracked directories too."""

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
