"""`diff --html`: what changed in the data between two revisions, as one picture.

A treemap of every data file (folders nested, area by size, colour by what happened to
it: added, modified, deleted, unchanged), and for tables (CSV, TSV; Parquet when pyarrow
is installed) the row count and the columns before and after. The page is plain HTML
with inline SVG and CSS: no script, no network, it opens anywhere.

Files are compared by object id (changes.data_at); sizes come from the manifests,
pointers and the workspace, so the picture needs no data bytes. Only the table summaries
read bytes: from the workspace, or from the cache when the revision's version is there
(streamed, a block at a time).
"""

from __future__ import annotations

import csv
import html
import io
import os
from dataclasses import dataclass, field
from typing import Iterator

from .changes import Changes, data_at
from .errors import DatavcError
from .workspace import Workspace

COLOURS = {"added": "#3a9a4a", "modified": "#e0962b", "deleted": "#c8453c",
           "unchanged": "#c9ccd1"}
MAX_BOXES = 4000          # files drawn one by one; beyond it, the smallest are grouped
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
BLOCK = 1 << 20


@dataclass
class FileChange:
    path: str
    status: str                 # added, modified, deleted, unchanged
    size: int                   # the new size (the old one for a deleted file)
    old_size: int | None = None
    old_oid: str | None = None
    new_oid: str | None = None


@dataclass
class Table:
    path: str
    rows: tuple[int | None, int | None]           # before, after (None: no such version)
    columns: tuple[list[str] | None, list[str] | None]
    note: str = ""


@dataclass
class Report:
    rev1: str
    rev2: str
    files: list[FileChange]
    tables: list[Table] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # manifests not in the cache


def collect(ws: Workspace, rev1: str | None, rev2: str | None) -> Report:
    """Every data file at either revision with what happened to it (rev1 default HEAD,
    rev2 default the workspace)."""
    for rev in (rev1, rev2):
        if rev is not None and not ws.repo.git("rev-parse", "--verify", "-q",
                                               rev + "^{commit}", check=False).strip():
            raise DatavcError(f"unknown revision {rev!r}")
    changes = Changes()
    old_sizes: dict[str, int] = {}
    new_sizes: dict[str, int] = {}
    old = data_at(ws, rev1 or "HEAD", changes, old_sizes)
    new = data_at(ws, rev2, changes, new_sizes)
    files = []
    for path in sorted(set(old) | set(new)):
        if path not in old:
            files.append(FileChange(path, "added", new_sizes.get(path, 0), None, None, new[path]))
        elif path not in new:
            files.append(FileChange(path, "deleted", old_sizes.get(path, 0),
                                    old_sizes.get(path, 0), old[path], None))
        else:
            status = "unchanged" if old[path] == new[path] else "modified"
            files.append(FileChange(path, status, new_sizes.get(path, 0),
                                    old_sizes.get(path, 0), old[path], new[path]))
    report = Report(rev1 or "HEAD", rev2 or "workspace", files,
                    missing=sorted(set(changes.not_in_cache)))
    report.tables = [t for f in files if f.status != "unchanged"
                     and f.path.lower().endswith(TABLE_SUFFIXES)
                     for t in [_table(ws, f, rev2 is None)]]
    return report


# --- tables ---------------------------------------------------------------------------

def _table(ws: Workspace, change: FileChange, new_is_workspace: bool) -> Table:
    from contextlib import ExitStack

    def source(oid: str | None, workspace: bool) -> str | None:
        if oid is None:
            return None
        if workspace:
            full = ws.repo.root / change.path
            if full.is_file():
                return str(full)
        if not ws.cache.has(oid):
            return None
        return temps.enter_context(ws.cache.readable(oid))  # a chunked one: a temp copy

    with ExitStack() as temps:
        before = source(change.old_oid, False)
        after = source(change.new_oid, new_is_workspace)
        shapes = [table_shape(p, change.path) if p else (None, None) for p in (before, after)]
    unread = [v for v, oid, p in (("old", change.old_oid, before), ("new", change.new_oid, after))
              if oid is not None and p is None]
    note = f"{' and '.join(unread)} version not in the cache" if unread else ""
    return Table(change.path, (shapes[0][0], shapes[1][0]), (shapes[0][1], shapes[1][1]), note)


def table_shape(path: str, name: str) -> tuple[int | None, list[str] | None]:
    """(data rows, column names) of a CSV/TSV file (header line first, rows counted by
    line ends, so a quoted field holding a newline counts twice) or a Parquet file."""
    if name.lower().endswith(".parquet"):
        try:
            import pyarrow.parquet as pq  # optional: only for Parquet summaries
        except ImportError:
            return None, None
        meta = pq.ParquetFile(path)
        return meta.metadata.num_rows, list(meta.schema_arrow.names)
    delimiter = "\t" if name.lower().endswith(".tsv") else ","
    lines, last, first = 0, b"\n", b""
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            if len(first) < 65536 and b"\n" not in first:
                first += block[:65536]
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1  # a last line with no line end
    header = first.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    columns = next(csv.reader(io.StringIO(header), delimiter=delimiter), []) if header else []
    return max(lines - 1, 0), columns


# --- the treemap ----------------------------------------------------------------------

@dataclass
class Box:
    label: str
    size: int
    status: str = ""                      # a file's (or a group's); "" for a folder
    children: list[Box] = field(default_factory=list)
    count: int = 1                        # files it stands for


def tree(files: list[FileChange]) -> Box:
    """Folders nested as in the repository; beyond MAX_BOXES files, the smallest files
    of each folder are grouped by status into one box per folder."""
    keep = {id(f) for f in sorted(files, key=lambda f: -f.size)[:MAX_BOXES]}
    root = Box("", 0)
    folders: dict[str, Box] = {"": root}
    groups: dict[tuple[str, str], Box] = {}
    for f in files:
        parent = root
        parts = f.path.split("/")
        for i in range(len(parts) - 1):
            key = "/".join(parts[:i + 1])
            if key not in folders:
                folders[key] = Box(parts[i], 0)
                parent.children.append(folders[key])
            parent = folders[key]
        if id(f) in keep:
            parent.children.append(Box(parts[-1], f.size, f.status))
            continue
        folder = "/".join(parts[:-1])
        group = groups.get((folder, f.status))
        if group is None:
            group = groups[(folder, f.status)] = Box("", 0, f.status, count=0)
            parent.children.append(group)
        group.size += f.size
        group.count += 1
        group.label = f"{group.count} more {f.status} files"
    _sum(root)
    return root


def _sum(box: Box) -> int:
    if box.children:
        box.size = sum(_sum(c) for c in box.children)
        box.count = sum(c.count for c in box.children)
    return box.size


def squarify(weights: list[float], x: float, y: float, w: float,
             h: float) -> list[tuple[float, float, float, float]]:
    """Rectangles for `weights` (in their order, largest first works best) tiling the
    rectangle (x, y, w, h), each area proportional to its weight, as square as the
    squarified algorithm (Bruls, Huizing, van Wijk 2000) makes them."""
    total = sum(weights)
    if not weights or total <= 0 or w <= 0 or h <= 0:
        return [(x, y, 0.0, 0.0) for _ in weights]
    areas = [wt * w * h / total for wt in weights]
    rects: list[tuple[float, float, float, float]] = []
    i = 0
    while i < len(areas):
        side = max(min(w, h), 1e-9)  # the row lies along the shorter side
        row = [areas[i]]
        j = i + 1
        while j < len(areas) and _worst(row + [areas[j]], side) <= _worst(row, side):
            row.append(areas[j])
            j += 1
        thickness = sum(row) / side
        pos = 0.0
        for a in row:
            length = a / thickness if thickness else 0.0
            rects.append((x, y + pos, thickness, length) if w >= h else
                         (x + pos, y, length, thickness))
            pos += length
        if w >= h:  # a column at the left; what is left lies to its right
            x, w = x + thickness, max(w - thickness, 0.0)
        else:       # a row at the top
            y, h = y + thickness, max(h - thickness, 0.0)
        i = j
    return rects


def _worst(row: list[float], side: float) -> float:
    s = sum(row)
    if s <= 0:
        return float("inf")
    return max(max(side * side * a / (s * s), (s * s) / (side * side * a)) if a > 0
               else float("inf") for a in row)


def _svg_boxes(box: Box, path: str, x: float, y: float, w: float, h: float,
               depth: int) -> Iterator[str]:
    if box.status:  # a file, or a group of files
        tip = f"{path} ({box.status}, {human(box.size)})"
        yield (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w - 1, 0):.1f}" '
               f'height="{max(h - 1, 0):.1f}" fill="{COLOURS[box.status]}" '
               f'data-status="{box.status}" data-path="{html.escape(path)}">'
               f'<title>{html.escape(tip)}</title></rect>')
        if w > 60 and h > 14:
            yield (f'<text x="{x + 3:.1f}" y="{y + 11:.1f}" class="l">'
                   f'{html.escape(_fit(box.label, w))}</text>')
        return
    head = 14.0 if depth > 0 and h > 40 and w > 40 else 0.0
    if head:
        yield (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w - 1, 0):.1f}" '
               f'height="{max(h - 1, 0):.1f}" class="folder"><title>{html.escape(path)}/ '
               f'({box.count} files, {human(box.size)})</title></rect>')
        yield f'<text x="{x + 3:.1f}" y="{y + 11:.1f}" class="f">{html.escape(_fit(box.label + "/", w))}</text>'
    kids = sorted(box.children, key=lambda c: -c.size)
    pad = 2.0 if head else 0.0
    for kid, (kx, ky, kw, kh) in zip(kids, squarify([max(c.size, 1) for c in kids], x + pad,
                                                     y + head, w - 2 * pad, h - head - pad)):
        yield from _svg_boxes(kid, f"{path}/{kid.label}" if path else kid.label,
                              kx, ky, kw, kh, depth + 1)


def _fit(text: str, width: float) -> str:
    room = int(width / 6.5)
    return text if len(text) <= room else text[:max(room - 1, 1)] + "…"


def human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


# --- the page -------------------------------------------------------------------------

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse} td,th{padding:3px 10px;border-bottom:1px solid #ddd;
text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
svg .folder{fill:#f4f5f7;stroke:#9aa0a6} svg text{pointer-events:none}
svg .l{font-size:10px;fill:#111} svg .f{font-size:11px;fill:#333;font-weight:600}
"""


def render(report: Report, width: int = 1100, height: int = 640) -> str:
    """The self-contained page."""
    counts = {s: [f for f in report.files if f.status == s] for s in COLOURS}
    legend = "".join(
        f'<span><i style="background:{COLOURS[s]}"></i>{s}: {len(fs)} files, '
        f'{human(sum(f.size for f in fs))}</span>' for s, fs in counts.items())
    root = tree(report.files)
    boxes = "\n".join(_svg_boxes(root, "", 0, 0, width, height, 0)) if report.files else \
        '<text x="10" y="20">no data files at either revision</text>'
    title = f"git datavc diff {report.rev1} {report.rev2}"
    parts = [f"<!doctype html>\n<html><head><meta charset='utf-8'><title>"
             f"{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", f'<p class="legend">{legend}</p>',
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="treemap of data files">'
             f"\n{boxes}\n</svg>"]
    if report.tables:
        parts.append("<h2>Tables</h2><table><tr><th>file</th><th>rows before</th>"
                     "<th>rows after</th><th>change</th><th>columns</th></tr>")
        for t in report.tables:
            parts.append(_table_row(t))
        parts.append("</table>")
    changed = [f for f in report.files if f.status != "unchanged"]
    if changed:
        parts.append("<h2>Changed files</h2><table><tr><th>file</th><th>status</th>"
                     "<th>before</th><th>after</th></tr>")
        for f in changed[:500]:
            after = None if f.status == "deleted" else f.size
            parts.append(f"<tr><td>{html.escape(f.path)}</td><td>{f.status}</td>"
                         f'<td class="n">{human(f.old_size)}</td>'
                         f'<td class="n">{human(after)}</td></tr>')
        parts.append("</table>")
        if len(changed) > 500:
            parts.append(f"<p>... and {len(changed) - 500} more changed files</p>")
    for path in report.missing:
        parts.append(f"<p>{html.escape(path)}: manifest not in the cache, drawn as one file</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table_row(t: Table) -> str:
    before, after = t.rows
    delta = f"{after - before:+,}" if before is not None and after is not None else ""
    old_cols, new_cols = t.columns
    if old_cols is not None and new_cols is not None:
        added = [c for c in new_cols if c not in old_cols]
        removed = [c for c in old_cols if c not in new_cols]
        cols = "; ".join(filter(None, [
            f"added: {', '.join(added)}" if added else "",
            f"removed: {', '.join(removed)}" if removed else ""])) or \
            f"same {len(new_cols)} columns"
    else:
        cols = ", ".join(new_cols or old_cols or [])
    cols += f" ({t.note})" if t.note else ""

    def n(v: int | None) -> str:
        return "-" if v is None else f"{v:,}"
    return (f"<tr><td>{html.escape(t.path)}</td><td class='n'>{n(before)}</td>"
            f"<td class='n'>{n(after)}</td><td class='n'>{delta}</td>"
            f"<td>{html.escape(cols)}</td></tr>")


def write_page(report: Report, out: str) -> str:
    """Write the page atomically; returns its path."""
    tmp = f"{out}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(report))
    os.replace(tmp, out)
    return out
