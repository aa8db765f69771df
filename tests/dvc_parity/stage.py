"""The one stage script of the corpus (stdlib only), copied to each scenario repo's root.

    python stage.py NAME [in=PATH] [out=PATH] [dir=PATH] [metric=PATH] [plots=PATH]
                         [append=PATH] [fail] [ARG...]

It appends NAME to the file $PARITY_LOG (outside the repository: which stages really ran,
in which order), then writes every out from NAME, every other ARG and the bytes of every
`in=` dep, so an out changes exactly when something it was made from changes. `dir=` makes
a folder with sub-folders, `metric=` a JSON metrics file, `plots=` a folder of CSV points
(like dvclive's), `append=` adds a line to a file (for `persist: true` outs) and `fail`
exits 1 after writing the outs."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def digest(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        path = Path(p)
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(f.as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def main(argv: list[str]) -> int:
    name, specs = argv[0], argv[1:]
    with open(os.environ["PARITY_LOG"], "a") as log:
        log.write(name + "\n")
    kinds: dict[str, list[str]] = {}
    args = []
    for spec in specs:
        kind, sep, path = spec.partition("=")
        if sep and kind in ("in", "out", "dir", "metric", "plots", "append"):
            kinds.setdefault(kind, []).append(path)
        else:
            args.append(spec)
    body = f"{name} {' '.join(args)} {digest(kinds.get('in', []))}\n"
    score = int(hashlib.sha256(body.encode()).hexdigest()[:4], 16) / 65536
    for path in kinds.get("out", []):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(body)
    for path in kinds.get("dir", []):
        for rel in ("a.txt", "sub/b.txt", "sub/deeper/c.txt"):
            Path(path, rel).parent.mkdir(parents=True, exist_ok=True)
            Path(path, rel).write_text(rel + " " + body)
    for path in kinds.get("metric", []):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"score": round(score, 4),
                                          "loss": round(1 - score, 4)}) + "\n")
    for path in kinds.get("plots", []):
        for plot in ("loss.csv", "acc/acc.csv"):
            Path(path, plot).parent.mkdir(parents=True, exist_ok=True)
            Path(path, plot).write_text(f"step,value\n0,{score}\n1,{score / 2}\n")
    for path in kinds.get("append", []):
        with open(path, "a") as f:
            f.write(body)
    return 1 if "fail" in args else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
