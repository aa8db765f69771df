"""`artifacts list [--json]`: the `artifacts:` and `datasets:` sections of the pipeline
file, as written (git-datavc keeps them; it has no model registry to send them to)."""

from __future__ import annotations

import dataclasses
import json

from .. import git, pipeline
from .metrics import table


def run_list(as_json: bool = False) -> int:
    repo = git.find_repo()
    pipe = pipeline.load(repo.root)
    if as_json:
        print(json.dumps({"artifacts": [dataclasses.asdict(a) for a in pipe.artifacts],
                          "datasets": [dataclasses.asdict(d) for d in pipe.datasets]},
                         indent=2, default=str))
        return 0
    if not pipe.artifacts and not pipe.datasets:
        print(f"no artifacts or datasets in {pipe.file}")
        return 0
    if pipe.artifacts:
        print(table(["Artifact", "Type", "Path", "Labels", "Description"],
                    [[a.name, a.type or "-", a.path, ", ".join(a.labels) or "-", a.desc or "-"]
                     for a in pipe.artifacts]))
    if pipe.datasets:
        if pipe.artifacts:
            print()
        print(table(["Dataset", "Type", "URL", "Details"],
                    [[d.name, d.type, d.url,
                      ", ".join(f"{k}={v}" for k, v in d.extra.items()) or "-"]
                     for d in pipe.datasets]))
    return 0
