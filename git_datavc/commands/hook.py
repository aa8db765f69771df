"""`hook NAME [ARGS...]`: what the installed git hooks run.

git's contracts (githooks(5)): pre-commit gets no arguments; post-checkout gets
`old-head new-head is-branch-checkout`; post-merge `is-squash`; post-rewrite
`amend|rebase` with "old new" lines on stdin; pre-push `remote-name url` with
"local-ref local-sha remote-ref remote-sha" lines on stdin. Under the pre-commit framework
the same values arrive as PRE_COMMIT_* environment variables instead.
"""

from __future__ import annotations

from typing import Sequence

KNOWN = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")


def run(name: str, args: Sequence[str]) -> int:
    from ..errors import UsageError

    if name not in KNOWN:
        raise UsageError(f"unknown hook {name!r} (known: {', '.join(KNOWN)})")
    if name == "pre-commit":
        from .. import autotrack, config, git

        repo = git.find_repo()
        return autotrack.pre_commit(repo, config.load(repo.root))
    # Filter mode needs nothing after checkout, merge or rewrite: smudge already wrote the
    # files. Linked workspaces (metafiles, lock outs) and pushing data come with later work.
    return 0
