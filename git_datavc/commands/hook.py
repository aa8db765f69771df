"""`hook NAME [ARGS...]`: what the installed git hooks run.

git's contracts (githooks(5)): pre-commit gets no arguments; post-checkout gets
`old-head new-head is-branch-checkout`; post-merge `is-squash`; post-rewrite
`amend|rebase` with "old new" lines on stdin; pre-push `remote-name url` with
"local-ref local-sha remote-ref remote-sha" lines on stdin. Under the pre-commit framework
the same values arrive as PRE_COMMIT_* environment variables instead.

Hooks run on every checkout: each decides from its arguments and one git call whether
there is anything to do before importing anything heavy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager, Sequence

if TYPE_CHECKING:
    from ..checkout import Report
    from ..git import Repo
    from ..workspace import Workspace

KNOWN = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
NULL_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def run(name: str, args: Sequence[str]) -> int:
    from ..errors import UsageError

    if name not in KNOWN:
        raise UsageError(f"unknown hook {name!r} (known: {', '.join(KNOWN)})")
    from .. import git

    if os.environ.get("DATAVC_SKIP_HOOKS"):
        return 0
    repo = git.find_repo()
    if name == "pre-commit":
        from .. import autotrack, config

        return autotrack.pre_commit(repo, config.load(repo.root))
    if name == "pre-push":
        return _pre_push(repo, list(args))
    old, new, everything = _range(repo, name, list(args))
    pending = repo.git_dir / "datavc" / PENDING
    if os.path.exists(pending):    # an earlier hook died before it finished: redo it whole
        old, everything = _pending_old(pending) or old, True
    if os.path.exists(repo.git_dir / "datavc" / "smudged"):
        from ..filterlinks import sync

        with _locked(repo, name):
            sync(repo)
    old = _commit_or_empty(repo, old)
    changed = _changed(repo, old, new)
    if not changed and not everything:
        return 0
    with _locked(repo, name):
        return sync_workspace(repo, old, changed, everything)


def _locked(repo: Repo, name: str) -> ContextManager[None]:
    """The repository lock, taken only once a hook knows it has work to do."""
    from ..repolock import hold_repo

    return hold_repo(repo, f"git {name} hook", "the data files were not updated: run "
                     "`git datavc checkout` once it has finished")


def _range(repo: Repo, name: str, args: list[str]) -> tuple[str, str, bool]:
    """(old, new, check-everything) for the hook's git contract."""
    env = os.environ
    if name == "post-checkout":
        if len(args) < 3 and "PRE_COMMIT_FROM_REF" in env:
            args = [env["PRE_COMMIT_FROM_REF"], env.get("PRE_COMMIT_TO_REF", "HEAD"),
                    env.get("PRE_COMMIT_CHECKOUT_TYPE", "1")]
        old, new, flag = (args + ["", "HEAD", "1"][len(args):])[:3]
        # A file checkout (flag 0) may restore metafiles without moving HEAD.
        return old, new, flag == "0"
    if name == "post-rewrite":
        kind = args[0] if args else env.get("PRE_COMMIT_REWRITE_COMMAND", "rebase")
        lines = sys.stdin.read().split("\n") if not sys.stdin.isatty() else []
        first = lines[0].split() if lines and lines[0] else []
        # An amend sets no ORIG_HEAD; under the pre-commit framework stdin is empty too.
        old = (first[0] if first else "HEAD@{1}") if kind == "amend" else "ORIG_HEAD"
        return old, "HEAD", False
    return "ORIG_HEAD", "HEAD", False  # post-merge


LOCK = "datavc.lock"  # pipeline.LOCK, spelled out here: importing pipeline costs yaml
# Written before a hook changes the workspace, removed when it is done: after a hook that was
# killed (or failed) half-way, the next one (a rerun of the same `git checkout`, where git
# passes old == new) redoes the interrupted range against every metafile.
PENDING = "checkout-pending"


def _pending_old(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _changed(repo: Repo, old: str, new: str) -> list[tuple[str, str]]:
    """(status, path) of the metafiles and the lock that differ between old and new."""
    from .. import metafile

    changed = repo.git("diff", "--name-status", "-z", "--no-renames", old, new, "--",
                       "*" + metafile.SUFFIX, ":(top)" + LOCK, check=False).split(b"\0")
    return [(changed[i].decode(), changed[i + 1].decode()) for i in range(0, len(changed) - 1, 2)]


def _commit_or_empty(repo: Repo, old: str) -> str:
    if not old or old == NULL_SHA or not repo.git("rev-parse", "-q", "--verify", old + "^{commit}",
                                                  check=False).strip():
        return EMPTY_TREE
    return old


def sync_workspace(repo: Repo, old: str, pairs: list[tuple[str, str]], everything: bool) -> int:
    """Check out what `pairs` (from `_changed`) name; `everything`: every metafile."""
    pending = repo.git_dir / "datavc" / PENDING
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.write_text(old + "\n")
    from ..checkout import checkout
    from ..commands.checkout import LeftOut, print_report
    from ..workspace import Workspace, metafiles_in

    lock_changed = everything or any(p == LOCK for _, p in pairs)
    pairs = [(s, p) for s, p in pairs if p != LOCK]
    ws = Workspace.open(repo)
    try:
        if everything:
            mfiles = metafiles_in(repo)
        else:
            mfiles = [repo.root / p for s, p in pairs if s != "D" and (repo.root / p).is_file()]
        report = checkout(ws, mfiles, trust_records=True)
        if report.missing and _fetch_missing(ws, report.missing):
            report = checkout(ws, mfiles, trust_records=True)
        _remove_deleted_outs(ws, old, [p for s, p in pairs if s == "D"])
        stage_report = _sync_stage_outs(ws, old) if lock_changed else None
        left_out = LeftOut(repo)  # outside a partial fetch, missing is what was asked
        if stage_report:
            print_report(stage_report, left_out)
    finally:
        ws.close()
    pending.unlink(missing_ok=True)
    print_report(report, left_out)
    return 0


def _sync_stage_outs(ws: Workspace, old: str) -> Report:
    """Place the cached outs of the work tree's datavc.lock; outs only the old commit's
    lock had are removed (when their bytes are cached), as git removes files."""
    from .. import git, lockfile
    from ..checkout import checkout_outs, remove_path

    new_outs = {o.path: o for s in lockfile.read(ws.repo.root / LOCK).values()
                for o in s.cached_outs()}
    old_outs: dict[str, object] = {}
    blob = ws.repo.git("rev-parse", "-q", "--verify", f"{old}:{LOCK}", check=False).decode().strip()
    if blob and old != EMPTY_TREE:
        text = git.read_blobs(ws.repo, [blob])[blob]
        old_outs = {o.path: o for s in lockfile.parse(text, f"{old[:12]}:{LOCK}").values()
                    for o in s.cached_outs()}
    report = checkout_outs(ws, [(ws.repo.root / p, o) for p, o in new_outs.items()],
                           trust_records=True)
    records = ws.records()
    for path in old_outs:
        if path not in new_outs:
            remove_path(ws, ws.repo.root / path, path, False, report)
            records.pop(path, None)
    ws.save_records(records)
    return report


def _remove_deleted_outs(ws: Workspace, old: str, deleted: list[str]) -> None:
    """A metafile gone from the new commit takes its data out of the workspace, as git
    does with files; data whose bytes are not in the cache stays."""
    from pathlib import Path

    from .. import git, metafile, output
    from ..checkout import Report, remove_path

    records = ws.records()
    for rel in deleted:
        if (ws.repo.root / rel).exists():
            continue
        blob = ws.repo.git("rev-parse", f"{old}:{rel}", check=False).decode().strip()
        if not blob:
            continue
        outs = metafile.load(Path(f"{old}:{rel}"), git.read_blobs(ws.repo, [blob])[blob])
        for out in outs:
            path = ws.out_abspath(ws.repo.root / rel, out)
            report = Report()
            remove_path(ws, path, ws.relpath(path), False, report)
            records.pop(ws.relpath(path), None)
            for kept in report.kept:
                output.warn(f"{kept}: no longer tracked and not in the cache; left in place")
    ws.save_records(records)


def _pre_push(repo: Repo, args: list[str]) -> int:
    """Push the data the pushed commits need; a failure stops `git push`."""
    if os.environ.get("DATAVC_SKIP_PUSH"):
        return 0
    lines = sys.stdin.read().splitlines() if not sys.stdin.isatty() else []
    if not lines and os.environ.get("PRE_COMMIT_TO_REF"):  # the pre-commit framework
        env = os.environ
        lines = [f"{env.get('PRE_COMMIT_LOCAL_BRANCH', 'HEAD')} {env['PRE_COMMIT_TO_REF']} "
                 f"{env.get('PRE_COMMIT_REMOTE_BRANCH', '')} {env.get('PRE_COMMIT_FROM_REF', '0' * 40)}"]
    from .. import output
    from ..errors import RemoteError
    from ..sync import pre_push

    git_remote = args[0] if args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
    try:
        message = pre_push(repo, git_remote if not git_remote.startswith(("/", ".")) else "",
                           lines)
    except RemoteError as e:
        raise RemoteError(f"git push stopped: the data it needs was not pushed ({e.message})",
                          "fix the data remote and run `git push` again; "
                          "`DATAVC_SKIP_PUSH=1 git push` pushes without the data") from None
    if message:
        output.info(message)
    return 0


def _fetch_missing(ws: Workspace, missing: list[str]) -> bool:
    """Fetch what checkout lacked from the default remote (a fresh clone); True if any."""
    if not ws.settings.get("core.remote") or os.environ.get("DATAVC_SKIP_SMUDGE"):
        return False
    from .. import output, sync
    from ..errors import RemoteError

    try:
        result = sync.fetch(ws.repo, None, sync.Scope(
            targets=[str(ws.repo.root / rel) for rel in dict.fromkeys(missing)]))
    except RemoteError as e:
        output.warn(f"could not fetch the missing data: {e.message}")
        return False
    if result.failures:
        output.warn(f"could not fetch {len(result.failures)} objects: {result.failures[0][1]}")
    return result.transferred > 0
