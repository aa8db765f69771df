"""`track [PATTERN...]` / `untrack PATTERN...`: .gitattributes rules for filter mode."""

from __future__ import annotations

import os
from typing import Sequence

from .. import git, install


def _from_cwd(repo: git.Repo, pattern: str) -> str:
    """A pattern given in a subdirectory applies below it, as with `git lfs track`."""
    prefix = os.path.relpath(os.getcwd(), repo.root).replace(os.sep, "/")
    if prefix in (".", "") or pattern.startswith("/"):
        return pattern
    return f"{prefix}/{pattern}"


def run(patterns: Sequence[str]) -> int:
    repo = git.find_repo()
    if not patterns:
        listed = install.tracked_patterns(repo)
        print("Tracked by datavc (filter mode):" if listed else "No filter-mode patterns yet.")
        for pattern in listed:
            print(f"    {pattern}")
        return 0
    added = install.track(repo, [_from_cwd(repo, p) for p in patterns])
    for pattern in added:
        print(f"Tracking {pattern}")
    for pattern in patterns:
        if install.escape_pattern(_from_cwd(repo, pattern)) not in added:
            print(f"{pattern} is already tracked")
    if added:
        print("Files committed before now stay as they are: "
              "`git add --renormalize .` converts them.")
    return 0


def run_untrack(patterns: Sequence[str]) -> int:
    repo = git.find_repo()
    removed = install.untrack(repo, [_from_cwd(repo, p) for p in patterns])
    for pattern in removed:
        print(f"Untracking {pattern}")
    if not removed:
        print("No matching datavc rule in .gitattributes")
    return 0
