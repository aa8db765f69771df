"""`datavc.lock`: what each stage last ran with and produced.

```yaml
schema: datavc/1
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/features
      blake3: <64 hex>.dir
      size: 1234
      nfiles: 2
    params:
      params.yaml:
        train.lr: 0.1
    outs:
    - path: model.pkl
      blake3: <64 hex>
      size: 567
```

Paths are relative to the repository (not to the stage's `wdir`, as in DVC's lock), so the
lock alone says where every out goes: the checkout hooks need nothing else. An out with
`cache: false` in the pipeline carries `cache: false` here too; git, not datavc, places it.
Everything read is validated (hashes, safe paths); writes are atomic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import safeyaml
from .errors import DatavcError
from .hashing import is_oid
from .metafile import Out
from .safepath import check_relpath

SCHEMA = "datavc/1"


@dataclass(frozen=True)
class StageLock:
    cmds: tuple[str, ...]
    deps: tuple[Out, ...] = ()
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: tuple[Out, ...] = ()
    uncached: frozenset[str] = frozenset()   # out paths with `cache: false`
    cmd_list: bool = field(default=False, compare=False)  # a list in the pipeline: kept one

    def cached_outs(self) -> list[Out]:
        return [o for o in self.outs if o.path not in self.uncached]


def read(path: Path) -> dict[str, StageLock]:
    """The lock's stages by name; {} when there is no lock."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise DatavcError(f"cannot read {path.name}: {e.strerror}") from None
    return parse(text, path.name)


def parse(text: bytes, name: str) -> dict[str, StageLock]:
    data = safeyaml.load(text, name)
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("stages", {}), dict):
        raise DatavcError(f"{name}: expected a mapping with `stages:`")
    return {str(stage): _parse_stage(entry, f"{name}: stage {stage!r}")
            for stage, entry in (data.get("stages") or {}).items()}


def _parse_stage(entry: Any, where: str) -> StageLock:
    if not isinstance(entry, dict):
        raise DatavcError(f"{where}: expected a mapping")
    cmd = entry.get("cmd")
    if isinstance(cmd, str):
        cmds: tuple[str, ...] = (cmd,)
    elif isinstance(cmd, list) and all(isinstance(c, str) for c in cmd):
        cmds = tuple(cmd)
    else:
        raise DatavcError(f"{where}: `cmd` must be a command or a list of commands")
    params = entry.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise DatavcError(f"{where}: `params` must map files to {{key: value}}")
    for file in params:
        check_relpath(file, where)
    outs, uncached = [], set()
    for item in _items(entry, "outs", where):
        out = parse_out(item, where)
        outs.append(out)
        if item.get("cache") is False:
            uncached.add(out.path)
    deps = tuple(parse_out(item, where) for item in _items(entry, "deps", where))
    return StageLock(cmds, deps, {str(k): dict(v) for k, v in params.items()}, tuple(outs),
                     frozenset(uncached), isinstance(cmd, list))


def _items(entry: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    items = entry.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DatavcError(f"{where}: `{key}` must be a list of mappings")
    return items


def parse_out(item: dict[str, Any], where: str) -> Out:
    path = check_relpath(item.get("path"), where)  # type: ignore[arg-type]
    oid, size, nfiles = item.get("blake3"), item.get("size"), item.get("nfiles")
    base = oid[:-4] if isinstance(oid, str) and oid.endswith(".dir") else oid
    if not isinstance(base, str) or not is_oid(base):
        raise DatavcError(f"{where}: bad blake3 hash for {path!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise DatavcError(f"{where}: bad size for {path!r}")
    if nfiles is not None and (not isinstance(nfiles, int) or isinstance(nfiles, bool)
                               or nfiles < 0):
        raise DatavcError(f"{where}: bad nfiles for {path!r}")
    return Out(path, str(oid), size, nfiles)


def out_dict(out: Out, cache: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"path": out.path, "blake3": out.oid, "size": out.size}
    if out.nfiles is not None:
        item["nfiles"] = out.nfiles
    if not cache:
        item["cache"] = False
    return item


def _stage_dict(lock: StageLock) -> dict[str, Any]:
    single = len(lock.cmds) == 1 and not lock.cmd_list
    entry: dict[str, Any] = {"cmd": lock.cmds[0] if single else list(lock.cmds)}
    if lock.deps:
        entry["deps"] = [out_dict(d) for d in lock.deps]
    if lock.params:
        entry["params"] = lock.params
    if lock.outs:
        entry["outs"] = [out_dict(o, o.path not in lock.uncached) for o in lock.outs]
    return entry


def dump(stages: dict[str, StageLock]) -> str:
    import yaml

    data = {"schema": SCHEMA, "stages": {name: _stage_dict(s) for name, s in stages.items()}}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=1000))


def write(path: Path, stages: dict[str, StageLock]) -> None:
    """Atomically replace the lock: temp file beside it, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp")   # one name: a rerun replaces a leftover
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(dump(stages))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
