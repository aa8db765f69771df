"""The merge driver git calls for tracked files: `merge-driver BASE OURS THEIRS PATH`."""

from __future__ import annotations

import filecmp

from .. import output


def merge_driver(base: str, ours: str, theirs: str, path: str) -> int:
    """Both sides changed a tracked file: content cannot be merged line by line.
    git leaves OURS (the file %A) in place; exit 1 marks the conflict."""
    if filecmp.cmp(ours, theirs, shallow=False):
        return 0
    output.info(f"datavc: both sides changed {path}; kept ours. Choose with "
                f"`git checkout --ours -- {path}` or `git checkout --theirs -- {path}`, "
                "then `git add` it.")
    return 1
