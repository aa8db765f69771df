"""The pipeline: `datavc.yaml` (or `dvc.yaml` when there is none), its stages and their graph.

Stages are read with the whole dvc.yaml schema, expanded (`foreach`, `matrix`), interpolated,
and their paths made repository-relative. The graph comes from outs feeding deps; two stages
writing one out, an out inside another, and cycles are errors that name stages and paths.
"""

from __future__ import annotations

import functools
import heapq
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import interpolation, params, safeyaml, sections
from .sections import Artifact, Dataset, Plot
from .errors import DatavcError, UnsafePath
from .safepath import check_relpath

FILES = ("datavc.yaml", "dvc.yaml")
LOCK = "datavc.lock"
TOP_KEYS = {"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"}
STAGE_KEYS = {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
              "always_changed", "desc", "meta", "vars"}
OUT_KEYS = {"cache", "persist", "desc", "remote", "push", "type", "labels", "meta",
            "checkpoint"}
PLOT_KEYS = {"x", "y", "template", "title", "x_label", "y_label", "header"}
BAD_NAME_CHARS = set("@:/\\,#") | {" ", "\t", "\n"}


@dataclass(frozen=True)
class OutSpec:
    path: str                 # repository-relative
    cache: bool = True
    persist: bool = False
    kind: str = "outs"        # outs, metrics or plots
    unobeyed: tuple[str, ...] = ()   # DVC options read but not acted on (`remote`, `push`)


@dataclass(frozen=True)
class Stage:
    name: str
    cmds: tuple[str, ...]
    wdir: str                                   # repository-relative, "" for the top
    deps: tuple[str, ...] = ()
    outs: tuple[OutSpec, ...] = ()
    params: tuple[tuple[str, tuple[str, ...] | None], ...] = ()  # (file, keys; None: all)
    frozen: bool = False
    always_changed: bool = False
    desc: str = ""
    cmd_list: bool = False                      # `cmd` was written as a list
    plots: tuple[Plot, ...] = ()                # its `plots:` outs, with their options


@dataclass
class Pipeline:
    file: str                                   # datavc.yaml or dvc.yaml
    stages: dict[str, Stage]
    upstream: dict[str, list[str]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()               # top-level `metrics:` files
    params_files: tuple[str, ...] = ()          # top-level `params:` files
    top_plots: tuple[Plot, ...] = ()            # top-level `plots:`
    artifacts: tuple[Artifact, ...] = ()        # top-level `artifacts:`
    datasets: tuple[Dataset, ...] = ()          # top-level `datasets:`
    # A cycle, shared or nested outs, found by a lenient load (`strict=False`, what
    # `repro -s` uses: like DVC, it runs the one stage without building the graph).
    problem: DatavcError | None = None

    @property
    def plots(self) -> list[Plot]:
        """Every plot the file defines (see git_datavc.sections for the shape): the
        top-level `plots:` first, then each stage's `plots:` outs, as DVC lists them."""
        return list(self.top_plots) + [p for s in self.stages.values() for p in s.plots]

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        wanted = set(self.stages if names is None else names)
        if self.problem is not None:
            return [n for n in self.stages if n in wanted]
        return [n for n in topological(self) if n in wanted]

    def ancestors(self, names: Iterable[str], active: bool = False) -> set[str]:
        """The stages `names` need; `active`: not through frozen stages, whose deps are
        not reproduced (DVC cuts a frozen stage off from its upstream)."""
        edges = self.upstream
        if active:
            edges = {n: [] if self.stages[n].frozen else ups for n, ups in edges.items()}
        return _closure(names, edges)

    def descendants(self, names: Iterable[str], active: bool = False) -> set[str]:
        downstream: dict[str, list[str]] = {n: [] for n in self.stages}
        for name, ups in self.upstream.items():
            if active and self.stages[name].frozen:
                continue
            for up in ups:
                downstream[up].append(name)
        return _closure(names, downstream)

    def component(self, names: Iterable[str]) -> set[str]:
        """The whole pipelines (connected parts of the active graph) `names` belong to."""
        edges: dict[str, list[str]] = {n: [] for n in self.stages}
        for name, ups in self.upstream.items():
            if self.stages[name].frozen:
                continue
            for up in ups:
                edges[name].append(up)
                edges[up].append(name)
        return _closure(names, edges)

    def select(self, target: str) -> list[str]:
        """Stage names a target means: a stage, a foreach/matrix group, or the file itself."""
        if target in FILES or target.endswith(tuple("/" + f for f in FILES)):
            return list(self.stages)
        if target in self.stages:
            return [target]
        group = [n for n in self.stages if n.startswith(target + "@")]
        if group:
            return group
        raise DatavcError(f"{self.file}: no stage named {target!r}")


def _closure(names: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges.get(name, ()))
    return seen


def find(root: Path) -> Path | None:
    for name in FILES:
        if (root / name).is_file():
            return root / name
    return None


def load(root: Path, strict: bool = True) -> Pipeline:
    path = find(root)
    if path is None:
        raise DatavcError("no datavc.yaml or dvc.yaml in the repository", "define stages first")
    return parse(root, path.name, path.read_bytes(), parsing_settings(root), strict)


def parsing_settings(root: Path) -> interpolation.Parsing:
    """DVC's `[parsing]` section (`bool`, `list`): from .datavc/config, else .dvc/config
    (and its config.local), as DVC reads it; the defaults when neither says."""
    import configparser

    found: dict[str, str] = {}
    for name in (".dvc/config", ".dvc/config.local", ".datavc/config", ".datavc/config.local"):
        path = root / name
        if not path.is_file():
            continue
        ini = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            ini.read_string(path.read_text(encoding="utf-8"), str(name))
        except (configparser.Error, UnicodeDecodeError):
            continue  # not ours to refuse here: the tool that owns the file will say
        if ini.has_section("parsing"):
            found.update({k: v.strip().strip('"').lower() for k, v in ini["parsing"].items()
                          if k in ("bool", "list")})
    try:
        return interpolation.Parsing(**found)
    except DatavcError as e:
        raise DatavcError(f"[parsing] in the config: {e.message}") from None


def parse(root: Path, file: str, text: bytes,
          parsing: interpolation.Parsing | None = None, strict: bool = True) -> Pipeline:
    """Build the pipeline from the text of `root/file`."""
    data = safeyaml.load(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DatavcError(f"{file} must be a mapping with a `stages:` key")
    unknown = sorted(set(data) - TOP_KEYS, key=str)
    if unknown:
        raise DatavcError(f"{file}: unknown top-level key {unknown[0]!r}")
    ctx: dict[str, Any] = {}
    if (root / params.DEFAULT).is_file():
        ctx.update(params.load(root / params.DEFAULT))
    ctx = interpolation.load_vars(data.get("vars"), root, ctx, f"{file}: vars")
    raw_stages = data.get("stages") or {}
    if not isinstance(raw_stages, dict):
        raise DatavcError(f"{file}: `stages` must map stage names to definitions")
    stages: dict[str, Stage] = {}
    for name, body in raw_stages.items():
        where = f"{file}: stage {name!r}"
        if not isinstance(name, str) or not name or BAD_NAME_CHARS & set(name):
            raise DatavcError(f"{where}: a stage name cannot be empty or contain "
                              "spaces or any of @ : / \\ , #")
        for full, body_, ctx_ in interpolation.expand(name, body, ctx, where):
            if full in stages:
                raise DatavcError(f"{file}: stage {full!r} is defined twice")
            stages[full] = _stage(root, full, body_, ctx_, f"{file}: stage {full!r}",
                                  parsing or interpolation.Parsing())
    top_metrics = tuple(_path("", p, f"{file}: metrics") for p in
                        _str_list(data.get("metrics"), f"{file}: metrics"))
    top_params = tuple(_path("", p, f"{file}: params") for p in
                       _str_list(data.get("params"), f"{file}: params"))
    top = functools.partial(_path, "")
    pipe = Pipeline(file, stages, metrics=top_metrics, params_files=top_params,
                    top_plots=tuple(sections.top_plots(data.get("plots"), top,
                                                       f"{file}: plots")),
                    artifacts=tuple(sections.artifacts(data.get("artifacts"), top,
                                                       f"{file}: artifacts")),
                    datasets=tuple(sections.datasets(data.get("datasets"), f"{file}: datasets")))
    try:
        pipe.upstream = build_graph(pipe)
        topological(pipe)  # raises on a cycle
    except DatavcError as e:
        if strict:
            raise
        pipe.problem = e
        pipe.upstream = build_graph(pipe, lenient=True)
    return pipe


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatavcError(f"{where}: must be a list of paths")
    return value


# --- one stage ------------------------------------------------------------------------

def _stage(root: Path, name: str, body: Any, ctx: dict[str, Any], where: str,
           parsing: interpolation.Parsing) -> Stage:
    if not isinstance(body, dict):
        raise DatavcError(f"{where}: a stage must be a mapping")
    unknown = sorted(set(body) - STAGE_KEYS, key=str)
    if unknown:
        raise DatavcError(f"{where}: unknown key {unknown[0]!r}")
    wdir = interpolation.resolve(body.get("wdir", "."), ctx, where)
    if not isinstance(wdir, str):
        raise DatavcError(f"{where}: `wdir` must be a path")
    wdir = "" if posixpath.normpath(wdir) == "." else _path("", wdir, f"{where}: wdir")
    ctx = interpolation.load_vars(body.get("vars"), root / wdir, ctx, f"{where}: vars")
    cmd = interpolation.resolve(body.get("cmd"), ctx, where, unpack=parsing)
    body = interpolation.resolve({k: v for k, v in body.items() if k not in ("vars", "cmd")},
                                 ctx, where)
    outs = [spec for kind in ("outs", "metrics", "plots")
            for spec in _outs(wdir, body.get(kind), kind, where)]
    return Stage(
        name=name, cmds=_cmds(cmd, where), wdir=wdir, cmd_list=isinstance(cmd, list),
        deps=tuple(_path(wdir, d, f"{where}: deps") for d in _list(body, "deps", where)),
        outs=tuple(outs), params=_params(wdir, body.get("params"), where),
        frozen=_bool(body, "frozen", where), always_changed=_bool(body, "always_changed", where),
        desc=str(body.get("desc") or ""), plots=_stage_plots(wdir, body.get("plots"), where))


def _cmds(cmd: Any, where: str) -> tuple[str, ...]:
    if isinstance(cmd, str) and cmd.strip():
        return (cmd,)
    if isinstance(cmd, list) and cmd and all(isinstance(c, str) and c.strip() for c in cmd):
        return tuple(cmd)
    if cmd is None:
        raise DatavcError(f"{where}: `cmd` is missing")
    raise DatavcError(f"{where}: `cmd` must be a command or a list of commands")


def _list(body: dict[str, Any], key: str, where: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DatavcError(f"{where}: `{key}` must be a list")
    return value


def _bool(body: dict[str, Any], key: str, where: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise DatavcError(f"{where}: `{key}` must be true or false")
    return value


EXTERNAL_HINT = ("DVC's external deps and outs (outside the repository) are not supported: "
                 "bring the data into the repository (`git datavc add`) and name it there")


def _path(wdir: str, path: Any, where: str) -> str:
    if not isinstance(path, str) or not path:
        raise DatavcError(f"{where}: {path!r} is not a path")
    if path.startswith("/") or "\\" in path:
        raise UnsafePath(f"{where}: path {path!r} must be relative, with / separators",
                         EXTERNAL_HINT)
    full = posixpath.normpath(posixpath.join(wdir, path)) if wdir else posixpath.normpath(path)
    if full == ".." or full.startswith("../"):
        raise UnsafePath(f"{where}: path {path!r} leaves the repository", EXTERNAL_HINT)
    if full == ".":
        raise DatavcError(f"{where}: path {path!r} is the whole repository")
    return check_relpath(full, where)


def _outs(wdir: str, value: Any, kind: str, where: str) -> list[OutSpec]:
    where = f"{where}: {kind}"
    if value is None:
        return []
    if not isinstance(value, list):
        raise DatavcError(f"{where} must be a list")
    specs = []
    allowed = OUT_KEYS | (PLOT_KEYS if kind == "plots" else set())
    for item in value:
        if isinstance(item, str):
            specs.append(OutSpec(_path(wdir, item, where), kind=kind))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise DatavcError(f"{where}: each entry is a path or {{path: {{options}}}}")
        (path, opts), = item.items()
        opts = opts or {}
        if not isinstance(opts, dict):
            raise DatavcError(f"{where}: options of {path!r} must be a mapping")
        unknown = sorted(set(opts) - allowed, key=str)
        if unknown:
            raise DatavcError(f"{where}: {path!r}: unknown key {unknown[0]!r}")
        specs.append(OutSpec(_path(wdir, path, where),
                             cache=_bool({"cache": opts.get("cache", True)}, "cache", where),
                             persist=_bool(opts, "persist", where), kind=kind,
                             unobeyed=tuple(k for k in ("remote", "push") if k in opts
                                            and opts[k] not in (None, True))))
    return specs


def _stage_plots(wdir: str, value: Any, where: str) -> tuple[Plot, ...]:
    """A stage's `plots:` outs as plots (their paths were checked by _outs)."""
    found = []
    for item in value or []:
        name, opts = (item, None) if isinstance(item, str) else next(iter(item.items()))
        opts = {k: v for k, v in (opts or {}).items() if k in sections.PLOT_OPTIONS}
        found.append(sections.plot(name, opts, functools.partial(_path, wdir),
                                   f"{where}: plots", name_is_path=True))
    return tuple(found)


def _params(wdir: str, value: Any, where: str) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
    where = f"{where}: params"
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DatavcError(f"{where} must be a list")
    files: dict[str, list[str] | None] = {}
    default = _path(wdir, params.DEFAULT, where)
    for item in value:
        if isinstance(item, str):
            keys = files.setdefault(default, [])
            if keys is not None:
                keys.append(item)
        elif isinstance(item, dict):
            for file, keys in item.items():
                path = _path(wdir, file, where)
                if keys is None or keys == []:
                    files[path] = None  # the whole file
                elif isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                    known = files.setdefault(path, [])
                    if known is not None:
                        known.extend(keys)
                else:
                    raise DatavcError(f"{where}: keys of {file!r} must be a list of names")
        else:
            raise DatavcError(f"{where}: each entry is a key or {{file: [keys]}}")
    return tuple((f, None if k is None else tuple(dict.fromkeys(k))) for f, k in files.items())


# --- the graph ------------------------------------------------------------------------

def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def build_graph(pipe: Pipeline, lenient: bool = False) -> dict[str, list[str]]:
    """{stage: the stages whose outs it depends on}; refuses shared and nested outs and
    a stage depending on its own out, unless `lenient` (then such edges are left out)."""
    producers: dict[str, str] = {}
    for name, stage in pipe.stages.items():
        for out in stage.outs:
            if out.path in producers and lenient:
                continue
            if out.path in producers:
                other = producers[out.path]
                raise DatavcError(f"{pipe.file}: {out.path!r} is an out of both stage "
                                  f"{other!r} and stage {name!r}" if other != name else
                                  f"{pipe.file}: stage {name!r} lists the out {out.path!r} twice")
            producers[out.path] = name
    for path, name in producers.items():
        parent = posixpath.dirname(path)
        while parent and not lenient:
            if parent in producers:
                raise DatavcError(f"{pipe.file}: out {path!r} of stage {name!r} is inside "
                                  f"out {parent!r} of stage {producers[parent]!r}")
            parent = posixpath.dirname(parent)
    upstream: dict[str, list[str]] = {}
    for name, stage in pipe.stages.items():
        ups: list[str] = []
        for dep in stage.deps:
            for path, producer in producers.items():
                if not _overlaps(dep, path):
                    continue
                if producer == name and lenient:
                    continue
                if producer == name:
                    raise DatavcError(f"{pipe.file}: stage {name!r} depends on its own "
                                      f"out {path!r} (a cycle)")
                if producer not in ups:
                    ups.append(producer)
        upstream[name] = ups
    return upstream


def producers_of(pipe: Pipeline, path: str) -> list[str]:
    return [name for name, stage in pipe.stages.items()
            if any(_overlaps(path, out.path) for out in stage.outs)]


def topological(pipe: Pipeline) -> list[str]:
    """Stages in an order where each comes after what it depends on; ties keep file order."""
    index = {name: i for i, name in enumerate(pipe.stages)}
    waiting = {name: len(set(pipe.upstream.get(name, ()))) for name in pipe.stages}
    downstream: dict[str, list[str]] = {name: [] for name in pipe.stages}
    for name, ups in pipe.upstream.items():
        for up in set(ups):
            downstream[up].append(name)
    ready = [(index[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for down in downstream[name]:
            waiting[down] -= 1
            if waiting[down] == 0:
                heapq.heappush(ready, (index[down], down))
    if len(order) < len(pipe.stages):
        cycle = _find_cycle(pipe, {n for n in pipe.stages if n not in set(order)})
        raise DatavcError(f"{pipe.file}: the stages form a cycle: {' -> '.join(cycle)}")
    return order


def _find_cycle(pipe: Pipeline, left: set[str]) -> list[str]:
    """A path name -> ... -> name among the stages Kahn's algorithm could not order."""
    start = min(left, key=list(pipe.stages).index)
    path, seen = [start], {start}
    while True:
        nxt = next(u for u in pipe.upstream[path[-1]] if u in left)
        if nxt in seen:
            cycle = path[path.index(nxt):] + [nxt]
            return list(reversed(cycle))
        path.append(nxt)
        seen.add(nxt)
