"""`add PATH...`: track files or directories as metafiles (PATH.datavc)."""

from __future__ import annotations

import os
from typing import Sequence

from .. import output
from ..add import add
from ..workspace import Workspace


def run(targets: Sequence[str]) -> int:
    ws = Workspace.open()
    try:
        written = add(ws, targets)
    finally:
        ws.close()
    to_stage = []
    for mfile in written:
        rel = os.path.relpath(mfile)
        ignore = os.path.relpath(mfile.parent / ".gitignore")
        to_stage += [rel, ignore]
        output.info(f"datavc: added {os.path.relpath(mfile.with_suffix(''))} -> {rel}")
    output.info(f"To record it in git: git add {' '.join(_quote(p) for p in dict.fromkeys(to_stage))}")
    return 0


def _quote(path: str) -> str:
    return f"'{path}'" if any(c in path for c in " '\"$*?[]") else path
