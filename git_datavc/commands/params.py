"""`params diff [REV] [--json]`: parameters of the stages' params files at REV (default
HEAD) against the workspace; only values that differ."""

from __future__ import annotations

from .. import compare, pipeline
from ..workspace import Workspace
from .metrics import print_diff


def run_diff(rev: str | None, as_json: bool = False) -> int:
    rev = rev or "HEAD"
    ws = Workspace.open()
    try:
        compare.check_rev(ws, rev)
        files = compare.params_files(pipeline.load(ws.repo.root))
        changes = compare.diff(compare.load_at(ws, rev, files), compare.load_at(ws, None, files))
    finally:
        ws.close()
    print_diff(changes, rev, as_json, "Param")
    return 0
