"""`commit [TARGET...]`: record the current workspace contents of tracked outs."""

from __future__ import annotations

import os
from typing import Sequence

from .. import output
from ..add import snapshot_out
from ..errors import DatavcError
from ..workspace import Workspace, load_metafile, targets_to_metafiles


def run(targets: Sequence[str]) -> int:
    ws = Workspace.open()
    try:
        for mfile in targets_to_metafiles(ws, targets):
            outs = load_metafile(ws, mfile)
            if len(outs) != 1:
                raise DatavcError(f"{ws.relpath(mfile)}: commit handles one out per metafile")
            path = ws.out_abspath(mfile, outs[0])
            if not os.path.lexists(path):
                raise DatavcError(f"{ws.relpath(path)} does not exist; nothing to record")
            snapshot_out(ws, path, mfile)
            output.info(f"datavc: recorded {ws.relpath(path)} in {ws.relpath(mfile)}")
    finally:
        ws.close()
    return 0
