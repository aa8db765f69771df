"""Plots: the pipeline's `plots:` definitions resolved to data at revisions.

A `sections.Plot` names files (and their x/y fields); here each file is read at each
revision asked for (the workspace, or a commit: from git, or through that commit's
datavc.lock from the cache, as `compare.read_at` does), parsed (JSON, YAML, CSV, TSV)
and flattened into rows for one Vega-Lite chart (plots_spec.py). Images are kept as
bytes, one per revision.

Rows keep the file's own columns and add DVC's `rev`, plus `file` and `field` (the y
field a row carries) and the plotted values under `x_key`/`y_key`: the file's own field
name when every file of the plot uses the same one, else `datavc_x`/`datavc_y`, and
`step` (the row number) when the plot gives no x. Labels made of these (which line a row
is on) are computed by the spec, not repeated in every row: the page stays small.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import compare, git, lockfile, pointer
from .errors import DatavcError
from .pipeline import LOCK
from .safepath import check_relpath
from .sections import IMAGE_SUFFIXES, Plot, PlotFile
from .workspace import Workspace

WORKSPACE = "workspace"
DATA_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".tsv")
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
        ".svg": "image/svg+xml", ".gif": "image/gif"}


@dataclass
class Image:
    rev: str
    path: str
    data: bytes

    @property
    def mime(self) -> str:
        return MIME[Path(self.path).suffix.lower()]


@dataclass
class PlotData:
    """One plot resolved: rows for a chart, or images."""
    plot: Plot
    revisions: list[str]                     # those that had data, in the order asked
    rows: list[dict[str, Any]] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    x_key: str = "step"
    y_key: str = "datavc_y"
    x_field: str | None = None               # as written, for the axis title
    y_fields: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)   # (rev, path)
    multi_file: bool = False

    @property
    def name(self) -> str:
        return self.plot.name

    def variant(self, row: dict[str, Any]) -> str:
        """What tells a row's line apart within a revision: its file and/or y field, when
        the plot has several (the spec computes the same as `datavc_variant`)."""
        return ": ".join(([row["file"]] if self.multi_file else []) +
                         ([row["field"]] if len(self.y_fields) > 1 else []))


# --- parsing ----------------------------------------------------------------------------

def parse_records(data: bytes, suffix: str, where: str) -> list[dict[str, Any]]:
    """The records of a plot file: a list of objects (JSON/YAML; or an object holding
    one such list, as dvclive writes {"roc": [...]}), or the rows of a CSV/TSV file."""
    suffix = suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _table(data, "\t" if suffix == ".tsv" else ",", where)
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            value = yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise DatavcError(f"{where}: not valid YAML: {str(e).splitlines()[0]}") from None
    elif suffix == ".json":
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise DatavcError(f"{where}: not valid JSON: {e}") from None
    else:
        raise DatavcError(f"{where}: not a plot file (JSON, YAML, CSV or TSV)")
    return _record_list(value, where)


def _record_list(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if not lists:
            raise DatavcError(f"{where}: holds no list of records to plot")
        value = lists[0]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise DatavcError(f"{where}: must be a list of records ({{field: value}})")
    # dvclive writes the ROC's first threshold as Infinity, which JSON (and so the page's
    # JSON.parse) does not have: non-finite numbers become null, as Vega skips them
    return [{k: None if isinstance(v, float) and not math.isfinite(v) else v
             for k, v in r.items()} for r in value]


def _table(data: bytes, delimiter: str, where: str) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatavcError(f"{where}: not UTF-8 text") from None
    return [{k: _number(v) for k, v in row.items() if k is not None}
            for row in csv.DictReader(io.StringIO(text), delimiter=delimiter)]


def _number(text: str | None) -> Any:
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# --- files at revisions -----------------------------------------------------------------

class Reader:
    """The bytes of repository files at revisions (None: the workspace), and the files
    inside a folder there; each revision's tree and lock are listed once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._trees: dict[str, list[str]] = {}

    def read(self, rev: str | None, path: str) -> bytes | None:
        """A filter-mode file's pointer (git's blob at a commit, or a workspace file not
        fetched yet) is read through the cache; missing there, the file counts as missing."""
        data = compare.read_at(self.ws, rev, path)
        ptr = pointer.parse(data) if data is not None else None
        if ptr is None:
            return data
        if not self.ws.cache.has(ptr.oid):
            return None
        with self.ws.cache.open(ptr.oid) as f:
            return f.read()

    def files_under(self, rev: str | None, folder: str) -> list[str]:
        """Files below `folder` (empty when it is not a folder there)."""
        if rev is None:
            top = self.ws.repo.root / folder
            if not top.is_dir():
                return []
            found = []
            for dirpath, dirs, files in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != ".git")
                rel = Path(dirpath).relative_to(self.ws.repo.root).as_posix()
                found += [f"{rel}/{f}" for f in sorted(files)]
            return found
        prefix = folder.rstrip("/") + "/"
        return sorted(p for p in self._tree(rev) if p.startswith(prefix))

    def _tree(self, rev: str) -> list[str]:
        if rev not in self._trees:
            paths = [p for _, _, p in git.tree_blobs(self.ws.repo, rev)]
            paths += self._lock_files(rev)
            self._trees[rev] = paths
        return self._trees[rev]

    def _lock_files(self, rev: str) -> list[str]:
        """Files of the folder outs recorded in rev's datavc.lock whose manifest is cached."""
        text = self.read(rev, LOCK)
        if text is None:
            return []
        found = []
        for stage in lockfile.parse(text, f"{rev}:{LOCK}").values():
            for out in stage.outs:
                if out.is_dir:
                    found += [f"{out.path}/{e.relpath}" for e in self.ws.entries_of(out) or []]
                else:
                    found.append(out.path)
        return found


def expand_folders(plots: list[Plot], reader: Reader, revs: list[str | None]) -> list[Plot]:
    """A plot whose one file is a folder becomes one plot per file in it (DVC's way),
    each with the folder's options; files that are neither data nor images are left out."""
    found = []
    for p in plots:
        if len(p.files) != 1 or p.name != p.files[0].path \
                or p.name.lower().endswith(DATA_SUFFIXES + IMAGE_SUFFIXES):
            found.append(p)
            continue
        spec = p.files[0]
        inside = dict.fromkeys(f for rev in revs for f in reader.files_under(rev, spec.path))
        if not inside:
            found.append(p)
            continue
        for f in inside:
            low = f.lower()
            if low.endswith(DATA_SUFFIXES + IMAGE_SUFFIXES):
                found.append(Plot(f, (PlotFile(f, spec.x, spec.y),), p.template, p.title,
                                  p.x_label, p.y_label, image=low.endswith(IMAGE_SUFFIXES)))
    return found


# --- resolving --------------------------------------------------------------------------

def rev_label(rev: str | None) -> str:
    return WORKSPACE if rev is None else rev


def resolve(plot: Plot, reader: Reader, revs: list[str | None]) -> PlotData:
    """The plot's data at every revision that has it; what is missing is listed in
    `missing`. A field the plot names that a file lacks is an error."""
    result = PlotData(plot, [])
    if plot.image:
        for rev in revs:
            for f in plot.files:
                data = reader.read(rev, f.path)
                if data is None:
                    result.missing.append((rev_label(rev), f.path))
                else:
                    result.images.append(Image(rev_label(rev), f.path, data))
        result.revisions = list(dict.fromkeys(i.rev for i in result.images))
        return result
    loaded = []
    for rev in revs:
        for f in plot.files:
            data = reader.read(rev, f.path)
            if data is None:
                result.missing.append((rev_label(rev), f.path))
                continue
            where = f.path if rev is None else f"{rev}:{f.path}"
            records = parse_records(data, Path(f.path).suffix, where)
            loaded.append((rev_label(rev), f, records, _fields_of(plot, f, records, rev)))
    _flatten(result, loaded)
    return result


def _fields_of(plot: Plot, f: PlotFile, records: list[dict[str, Any]],
               rev: str | None) -> tuple[str | None, tuple[str, ...]]:
    keys = list(dict.fromkeys(k for r in records for k in r))
    ys = f.y or tuple(k for k in keys[-1:] if k != f.x)   # DVC: the last field
    for name in ([f.x] if f.x else []) + list(ys):
        if records and name not in keys:
            at = "" if rev is None else f" at {rev}"
            raise DatavcError(f"plots: {plot.name}: field {name!r} not in {f.path}{at}")
    return f.x, ys


def _flatten(result: PlotData, loaded: list[tuple[str, PlotFile, list[dict[str, Any]],
                                                  tuple[str | None, tuple[str, ...]]]]) -> None:
    xs = {x for *_, (x, _) in loaded}
    ys = list(dict.fromkeys(y for *_, (_, fields) in loaded for y in fields))
    result.x_field = next(iter(xs)) if len(xs) == 1 else None
    result.y_fields = ys
    result.x_key = "step" if xs == {None} else (result.x_field or "datavc_x")
    result.y_key = ys[0] if len(ys) == 1 else "datavc_y"
    result.revisions = list(dict.fromkeys(rev for rev, *_ in loaded))
    result.multi_file = len({f.path for _, f, *_ in loaded}) > 1
    for rev, f, records, (x, fields) in loaded:
        for i, record in enumerate(records):
            for y in fields:
                row = dict(record)
                row[result.x_key] = i if x is None else record.get(x)
                row[result.y_key] = record.get(y)
                row.update(rev=rev, file=f.path, field=y)
                result.rows.append(row)


def select(plots: list[Plot], targets: list[str], root: Path) -> list[Plot]:
    """The plots named by `targets` (a plot's name, one of its files, or a folder holding
    them); a target that is no plot but a data file or image becomes a plot of its own."""
    if not targets:
        return plots
    chosen: list[Plot] = []
    for target in targets:
        t = target.rstrip("/")
        hits = [p for p in plots if p.name == t or any(
            f.path == t or f.path.startswith(t + "/") or t.startswith(f.path + "/")
            for f in p.files)]
        if not hits and (root / t).exists():
            t = check_relpath(os.path.normpath(t), "plots targets")
            if not os.path.realpath(root / t).startswith(os.path.realpath(root) + os.sep):
                raise DatavcError(f"plots: {target!r} leads out of the repository")
            hits = [Plot(t, (PlotFile(t),), image=t.lower().endswith(IMAGE_SUFFIXES))]
        if not hits:
            raise DatavcError(f"plots: no plot or file {target!r}",
                              hint="`git datavc plots show` with no target draws them all")
        chosen += [p for p in hits if p not in chosen]
    return chosen


def narrow(plots: list[Plot], targets: list[str]) -> list[Plot]:
    """After folders are expanded: only the files a target names, when it names a file
    inside a folder plot (no targets: all)."""
    if not targets:
        return plots
    names = {os.path.normpath(t.rstrip("/")) for t in targets}
    return [p for p in plots if p.name in names or any(
        f.path == t or f.path.startswith(t + "/") for f in p.files for t in names)]
