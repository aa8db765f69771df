"""`repro [TARGET...] [-f] [--dry] [-s] [--downstream] [-j N]`: run the stages that changed."""

from __future__ import annotations

from typing import Sequence

from .. import output, pipeline
from ..errors import UsageError
from ..repro import reproduce, select
from ..workspace import Workspace


def run(targets: Sequence[str], force: bool = False, dry: bool = False,
        single_item: bool = False, downstream: bool = False, jobs: int = 1) -> int:
    if jobs < 1:
        raise UsageError("-j must be at least 1")
    if single_item and downstream:
        raise UsageError("--single-item and --downstream cannot be used together")
    ws = Workspace.open()
    try:
        pipe = pipeline.load(ws.repo.root)
        result = reproduce(ws, pipe, select(pipe, targets, single_item, downstream),
                           force, dry, jobs)
    finally:
        ws.close()
    if dry:
        print(f"{len(result.would_run)} stages would run" if result.would_run else
              "Data and pipelines are up to date.")
        return 0
    done = [(result.ran, "ran"), (result.run_cache, "restored from the run-cache"),
            (result.restored, "had outs restored")]
    parts = [f"{len(names)} {what}" for names, what in done if names]
    if not parts:
        print("Data and pipelines are up to date.")
        return 0
    print("datavc: stages: " + ", ".join(parts))
    output.info(f"To track the changes with git, run: git add {pipeline.LOCK} .gitignore")
    return 0
