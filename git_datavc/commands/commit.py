"""`commit [TARGET...]`: record the current workspace contents of tracked outs: in their
metafiles, and for pipeline stages (a stage name, a foreach/matrix group or the pipeline
file as the target) in datavc.lock, as `dvc commit` does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .. import output, pipeline
from ..add import snapshot_out
from ..errors import DatavcError
from ..repro import commit_stages
from ..workspace import Workspace, load_metafile, targets_to_metafiles


def run(targets: Sequence[str]) -> int:
    ws = Workspace.open()
    try:
        pipe = pipeline.load(ws.repo.root) if pipeline.find(ws.repo.root) else None
        stages, files = _split(pipe, targets, ws.repo.root)
        for mfile in targets_to_metafiles(ws, files) if files or not targets else []:
            outs = load_metafile(ws, mfile)
            if len(outs) != 1:
                raise DatavcError(f"{ws.relpath(mfile)}: commit handles one out per metafile")
            path = ws.out_abspath(mfile, outs[0])
            if not os.path.lexists(path):
                raise DatavcError(f"{ws.relpath(path)} does not exist; nothing to record")
            snapshot_out(ws, path, mfile)
            output.info(f"datavc: recorded {ws.relpath(path)} in {ws.relpath(mfile)}")
        if pipe is not None and stages:
            changed = commit_stages(ws, pipe, stages)
            for name in changed:
                output.info(f"datavc: recorded stage {name!r} in {pipeline.LOCK}")
            if not changed:
                output.info(f"datavc: {pipeline.LOCK} already records the workspace")
    finally:
        ws.close()
    return 0


def _split(pipe: pipeline.Pipeline | None, targets: Sequence[str], root: Path
           ) -> tuple[list[str], list[str]]:
    """(stage names, other targets). No targets: every stage whose outs all exist."""
    if pipe is None:
        return [], list(targets)
    if not targets:
        return [n for n in pipe.order()
                if all(os.path.lexists(root / o.path) for o in pipe.stages[n].outs)], []
    stages: list[str] = []
    files: list[str] = []
    for target in targets:
        try:
            stages += pipe.select(target)
        except DatavcError:
            files.append(target)
    return pipe.order(dict.fromkeys(stages)), files
