"""`repro [TARGET...] [-f] [--dry] [-s|-p|--downstream] [-i] [--pull] [--allow-missing]
[-j N]`: run the stages that changed."""

from __future__ import annotations

from typing import Sequence

from .. import output
from .. import pipeline as pipelines
from ..errors import UsageError
from ..repro import reproduce, select
from ..workspace import Workspace


def run(targets: Sequence[str], force: bool = False, dry: bool = False,
        single_item: bool = False, downstream: bool = False, jobs: int = 1, *,
        pipeline: bool = False, interactive: bool = False, pull: bool = False,
        allow_missing: bool = False) -> int:
    if jobs < 1:
        raise UsageError("-j must be at least 1")
    if single_item and downstream:
        raise UsageError("--single-item and --downstream cannot be used together")
    if pipeline:  # as in DVC, -p takes whole pipelines: -s and --downstream do not apply
        single_item = downstream = False
    if interactive and jobs > 1:
        raise UsageError("-i asks before each stage: it cannot be used with -j")
    ws = Workspace.open()
    try:
        # -s runs the targets alone, without the graph: a cycle or two stages sharing an
        # out elsewhere in the file do not stop it (as in DVC)
        pipe = pipelines.load(ws.repo.root, strict=not single_item)
        _warn_nested(ws)
        result = reproduce(ws, pipe, select(pipe, targets, single_item, downstream, pipeline),
                           force, dry, jobs, pull=pull, allow_missing=allow_missing,
                           interactive=interactive)
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
    output.info(f"To track the changes with git, run: git add {pipelines.LOCK} .gitignore")
    return 0


def _warn_nested(ws: Workspace) -> None:
    """DVC reads a dvc.yaml in any folder; git-datavc reads the root's only: say so
    rather than leave those stages silently out."""
    out = ws.repo.git("ls-files", "-z", "-co", "--exclude-standard", "--",
                      ":(glob)*/**/dvc.yaml", ":(glob)*/**/datavc.yaml", check=False)
    nested = [p for p in out.decode(errors="replace").split("\0") if p]
    if nested:
        more = f" and {len(nested) - 1} more" if len(nested) > 1 else ""
        output.warn(f"{nested[0]}{more}: pipeline files below the repository root are not "
                    "read (one pipeline file, at the root): their stages do not run")
