"""Drivers git calls: `textconv FILE` (diff) and `merge-driver BASE OURS THEIRS PATH`."""

from __future__ import annotations

import sys

from .. import output, pointer


def textconv(path: str) -> int:
    """Show a pointer as a readable line in `git diff` (git passes a temp file)."""
    with open(path, "rb") as f:
        head = f.read(pointer.MAX_SIZE + 1)
        size = len(head) + sum(len(c) for c in iter(lambda: f.read(1 << 20), b""))
    ptr = pointer.parse(head)
    if ptr is None:
        sys.stdout.write(f"(datavc: {size} bytes not stored as a pointer)\n")
    else:
        sys.stdout.write(f"datavc object blake3:{ptr.oid}\nsize: {ptr.size} "
                         f"({output.human_size(ptr.size)})\n")
    return 0


def merge_driver(base: str, ours: str, theirs: str, path: str) -> int:
    """Both sides changed a tracked file: content cannot be merged line by line.
    git leaves OURS (the file %A) in place; exit 1 marks the conflict."""
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        if a.read() == b.read():
            return 0
    output.info(f"datavc: both sides changed {path}; kept ours. Choose with "
                f"`git checkout --ours -- {path}` or `git checkout --theirs -- {path}`, "
                "then `git add` it.")
    return 1
