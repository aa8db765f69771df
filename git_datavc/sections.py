"""The top-level sections of dvc.yaml beside `stages`: `plots`, `artifacts`, `datasets`.

They describe, they do not run: `Pipeline.plots` is what a plots command renders,
`Pipeline.artifacts` and `Pipeline.datasets` are what `git datavc artifacts list` shows.
Every form DVC accepts is read; anything else is one error line naming the entry.

The plots API (`Plot`, `PlotFile`), built from every form DVC's reference gives:

    plots:
    - eval/importance.png                 # a file: Plot("eval/importance.png",
                                          #   (PlotFile("eval/importance.png"),), image=True)
    - eval/prc.json:                      # a file with options: the file is the plot
        x: recall                         #   PlotFile(path, x="recall", y=("precision",))
        y: precision
    - ROC:                                # a named plot over several files
        template: simple
        x: fpr                            # one x field for every file, or {file: field}
        y:                                # {file: field or [fields]}, or a field / list
          eval/roc/train.json: tpr        #   PlotFile("eval/roc/train.json", "fpr", ("tpr",))
          eval/roc/test.json: tpr
        title: ROC, x_label: ..., y_label: ...

A stage's own `plots:` outs with options (`- p.csv: {x: a, y: b}`) become plots too.
Paths are repository-relative; a plot whose files are a folder names the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import DatavcError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif")
PLOT_OPTIONS = {"x", "y", "template", "title", "x_label", "y_label"}
ARTIFACT_KEYS = {"path", "type", "desc", "labels", "meta"}
DATASET_TYPES = {"dvc", "dvcx", "datachain", "url"}


@dataclass(frozen=True)
class PlotFile:
    path: str                         # repository-relative data file (or folder, or image)
    x: str | None = None              # the field on the x axis; None: the row number
    y: tuple[str, ...] = ()           # fields on the y axis; (): the last column / all


@dataclass(frozen=True)
class Plot:
    name: str                         # the id: the given name, or the file path
    files: tuple[PlotFile, ...]
    template: str | None = None       # DVC's template names: linear, simple, confusion, ...
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    image: bool = False               # an image shown as it is, not data to draw


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str
    type: str = ""                    # model, dataset, ...
    desc: str = ""
    labels: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    name: str
    type: str                         # dvc, dvcx/datachain or url
    url: str
    extra: dict[str, Any] = field(default_factory=dict)   # path, rev, ... as written


PathFn = Callable[[Any, str], str]   # (path as written, where) -> repository-relative


def _text(value: Any, where: str, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise DatavcError(f"{where}: `{key}` must be text")
    return str(value)


def _fields(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise DatavcError(f"{where}: `y` fields must be a name or a list of names")


def plot(name: str, opts: Any, path: PathFn, where: str, name_is_path: bool) -> Plot:
    """One plot from `name: options` (options may be None)."""
    opts = opts or {}
    if not isinstance(opts, dict):
        raise DatavcError(f"{where}: the options of plot {name!r} must be a mapping")
    unknown = sorted(set(opts) - PLOT_OPTIONS, key=str)
    if unknown:
        raise DatavcError(f"{where}: plot {name!r}: unknown key {unknown[0]!r} (plots take "
                          f"{', '.join(sorted(PLOT_OPTIONS))})")
    x, y = opts.get("x"), opts.get("y")
    if x is not None and not isinstance(x, (str, dict)):
        raise DatavcError(f"{where}: plot {name!r}: `x` must be a field or {{file: field}}")
    files: dict[str, PlotFile] = {}
    if isinstance(y, dict):
        for file, ys in y.items():
            rel = path(file, f"{where}: plot {name!r}")
            files[rel] = PlotFile(rel, None, _fields(ys, f"{where}: plot {name!r}"))
    elif name_is_path:
        rel = path(name, where)
        files[rel] = PlotFile(rel, None, _fields(y, f"{where}: plot {name!r}"))
    else:
        raise DatavcError(f"{where}: plot {name!r} names no file: give `y` as "
                          "{file: field}, or use a file path as the plot's name")
    if isinstance(x, dict):
        for file, field_ in x.items():
            rel = path(file, f"{where}: plot {name!r}")
            old = files.get(rel, PlotFile(rel))
            files[rel] = PlotFile(rel, _text(field_, where, "x"), old.y)
    elif isinstance(x, str):
        files = {p: PlotFile(p, x, f.y) for p, f in files.items()}
    texts = {k: _text(opts.get(k), f"{where}: plot {name!r}", k)
             for k in ("template", "title", "x_label", "y_label")}
    image = all(p.lower().endswith(IMAGE_SUFFIXES) for p in files)
    return Plot(path(name, where) if name_is_path else name, tuple(files.values()),
                image=image, **texts)


def top_plots(value: Any, path: PathFn, where: str) -> list[Plot]:
    """The top-level `plots:` list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DatavcError(f"{where}: must be a list of files or {{name: options}}")
    plots = []
    for item in value:
        if isinstance(item, str):
            plots.append(plot(item, None, path, where, name_is_path=True))
        elif isinstance(item, dict) and len(item) == 1:
            (name, opts), = item.items()
            if not isinstance(name, str) or not name:
                raise DatavcError(f"{where}: a plot's name must be text")
            # a name is a file when no `y` mapping says which files the plot draws
            named = isinstance((opts or {}).get("y") if isinstance(opts, dict) else None,
                               dict)
            plots.append(plot(name, opts, path, where, name_is_path=not named))
        else:
            raise DatavcError(f"{where}: each entry is a file or {{name: options}}")
    return plots


def artifacts(value: Any, path: PathFn, where: str) -> list[Artifact]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise DatavcError(f"{where}: must map artifact names to {{path, type, desc, ...}}")
    found = []
    for name, body in value.items():
        here = f"{where}: {name!r}"
        if not isinstance(body, dict) or "path" not in body:
            raise DatavcError(f"{here}: an artifact needs at least `path`")
        unknown = sorted(set(body) - ARTIFACT_KEYS, key=str)
        if unknown:
            raise DatavcError(f"{here}: unknown key {unknown[0]!r} (artifacts take "
                              f"{', '.join(sorted(ARTIFACT_KEYS))})")
        labels = body.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            raise DatavcError(f"{here}: `labels` must be a list of words")
        meta = body.get("meta") or {}
        if not isinstance(meta, dict):
            raise DatavcError(f"{here}: `meta` must be a mapping")
        found.append(Artifact(str(name), path(body["path"], here),
                              _text(body.get("type"), here, "type") or "",
                              _text(body.get("desc"), here, "desc") or "", tuple(labels), meta))
    return found


def datasets(value: Any, where: str) -> list[Dataset]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DatavcError(f"{where}: must be a list of {{name, type, url, ...}}")
    found = []
    for item in value:
        if not isinstance(item, dict) or not all(k in item for k in ("name", "url")):
            raise DatavcError(f"{where}: each dataset needs `name` and `url`")
        here = f"{where}: {item['name']!r}"
        kind = str(item.get("type", ""))
        if kind not in DATASET_TYPES:
            raise DatavcError(f"{here}: `type` must be one of "
                              f"{', '.join(sorted(DATASET_TYPES))}")
        extra = {k: v for k, v in item.items() if k not in ("name", "type", "url")}
        found.append(Dataset(str(item["name"]), kind, str(item["url"]), extra))
    return found
