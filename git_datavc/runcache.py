"""The run-cache: the outs each (cmd, deps, params) combination produced, in any commit.

One small JSON file per combination under `<cache>/runs/<2 hex>/<62 hex>`, written
atomically; the outs' bytes are ordinary cache objects. Entries are checked when read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from .errors import DatavcError
from .hashing import hash_bytes
from .lockfile import out_dict, parse_out
from .metafile import Out


def key(cmds: Sequence[str], wdir: str, deps: Sequence[Out], params: dict[str, Any],
        outs: Sequence[tuple[str, bool]]) -> str:
    """The id of a combination; `outs` are (path, cached) as the stage declares them."""
    doc = {"cmd": list(cmds), "wdir": wdir, "deps": sorted([d.path, d.oid] for d in deps),
           "params": params, "outs": sorted([p, c] for p, c in outs)}
    return hash_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False, default=str).encode())


def _path(cache_root: Path, run_key: str) -> Path:
    return cache_root / "runs" / run_key[:2] / run_key[2:]


def get(cache_root: Path, run_key: str) -> list[Out] | None:
    try:
        data = json.loads(_path(cache_root, run_key).read_bytes())
        return [parse_out(item, "run-cache entry") for item in data["outs"]]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, DatavcError):
        return None  # a damaged entry is only a missed shortcut


def put(cache_root: Path, run_key: str, outs: Sequence[Out]) -> None:
    path = _path(cache_root, run_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"outs": [out_dict(o) for o in outs]}, sort_keys=True))
    os.replace(tmp, path)
