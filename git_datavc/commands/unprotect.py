"""`unprotect PATH...`: replace linked workspace files by writable copies, to edit them."""

from __future__ import annotations

import os
from typing import Sequence

from .. import output
from ..errors import DatavcError
from ..links import unprotect
from ..workspace import Workspace


def run(targets: Sequence[str]) -> int:
    ws = Workspace.open()
    changed = 0
    for target in targets:
        if os.path.isdir(target) and not os.path.islink(target):
            for _, abspath, _ in ws.walk(target):
                changed += unprotect(abspath)
        elif os.path.lexists(target):
            changed += unprotect(target)
        else:
            raise DatavcError(f"{target} does not exist")
    output.info(f"datavc: {changed} files are now writable copies")
    return 0
