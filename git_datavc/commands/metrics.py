"""`metrics show [--json]` and `metrics diff [REV] [--json]`: the metrics files of the
pipeline (stage `metrics:` outs and the top-level `metrics:` list)."""

from __future__ import annotations

import json
import sys
from typing import Any

from .. import compare, pipeline
from ..workspace import Workspace


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    if sys.stdout.isatty():
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def print_diff(changes: dict[str, dict[str, dict[str, Any]]], rev: str, as_json: bool,
               kind: str, new: str = "workspace") -> None:
    if as_json:
        print(json.dumps(changes, indent=2, default=str))
        return
    rows = [[file, key, c["old"], c["new"]] + ([c.get("diff")] if kind == "Metric" else [])
            for file, keys in changes.items() for key, c in keys.items()]
    if not rows:
        print(f"no {kind.lower()} changed between {rev} and "
              f"{'the workspace' if new == 'workspace' else new}")
        return
    print(table(["Path", kind, rev, new] + (["Change"] if kind == "Metric" else []),
                rows))


def run_show(as_json: bool = False) -> int:
    ws = Workspace.open()
    try:
        pipe = pipeline.load(ws.repo.root)
        values = compare.load_at(ws, None, compare.metrics_files(pipe))
    finally:
        ws.close()
    if as_json:
        print(json.dumps(values, indent=2, default=str))
    elif values:
        print(table(["Path", "Metric", "Value"],
                    [[f, k, v] for f, keys in values.items() for k, v in keys.items()]))
    else:
        print("no metrics files found")
    return 0


def run_diff(rev: str | None, as_json: bool = False) -> int:
    rev = rev or "HEAD"
    ws = Workspace.open()
    try:
        compare.check_rev(ws, rev)
        files = compare.metrics_files(pipeline.load(ws.repo.root))
        changes = compare.diff(compare.load_at(ws, rev, files), compare.load_at(ws, None, files))
    finally:
        ws.close()
    print_diff(changes, rev, as_json, "Metric")
    return 0
