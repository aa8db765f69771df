"""Garbage collection: delete cache (or remote) objects that nothing kept needs.

Kept by default, like `git gc`: everything any ref, reflog entry, stash, index or worktree
needs. `--workspace`, `--all-branches`, `--all-tags` narrow that to the union of the named
scopes; the worktrees, their indexes and the stashes are always kept. Experiments
(`refs/exps/...`, and the workspace snapshots of queued ones) are kept in either case unless
`experiments` is off (`gc --no-exps`): DVC's gc keeps them only with `--all-experiments`,
but an experiment whose outs are gone cannot be applied, so here keeping is the default.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import git, needs
from .cache import Cache
from .errors import DatavcError
from .remotes import Remote

if TYPE_CHECKING:
    from . import cachechunks

TMP_GRACE = 3600  # seconds: a temp file this old belongs to no running command


@dataclass(frozen=True)
class Keep:
    workspace: bool = False
    all_branches: bool = False
    all_tags: bool = False
    experiments: bool = True

    @property
    def narrowed(self) -> bool:
        return self.workspace or self.all_branches or self.all_tags


def kept_objects(repo: git.Repo, cache: Cache, keep: Keep,
                 worktrees: needs.Needed | None = None) -> needs.Needed:
    """What gc keeps: what `keep` names, and what the worktrees use (`worktrees`, when the
    caller has it already)."""
    kept = needs.Needed()
    if keep.narrowed:
        revs = _stash_states(repo)
        if keep.all_branches or keep.all_tags:
            refs = (["refs/heads"] if keep.all_branches else []) + \
                (["refs/tags"] if keep.all_tags else [])
            revs += repo.git("for-each-ref", "--format=%(objectname)", *refs).decode().split()
        if keep.experiments:
            revs += _experiment_tips(repo)
        _merge(kept, needs.for_revs(repo, sorted(set(revs))))
    else:
        drop = [] if keep.experiments else [f"--exclude={p}*" for p in EXPERIMENT_REFS]
        _merge(kept, needs.for_rev_list(repo, drop + ["--all", "--reflog",
                                                      "--indexed-objects"]))
    _merge(kept, worktrees if worktrees is not None else in_use(repo, cache))
    needs.expand(cache, kept)
    return kept


EXPERIMENT_REFS = ("refs/exps/", "refs/datavc/exp-queue/")  # experiments.REFS, QUEUE_REFS


def _experiment_tips(repo: git.Repo) -> list[str]:
    return repo.git("for-each-ref", "--format=%(objectname)",
                    *EXPERIMENT_REFS).decode().split()


def kept_and_used(repos: list[git.Repo], cache: Cache, keep: Keep
                  ) -> tuple[needs.Needed, needs.Needed]:
    """(what gc keeps, what the worktrees use) over `repos`: this repository first, then
    the others that share its cache (`gc --projects`), each by its own refs and worktrees."""
    kept, used = needs.Needed(), needs.Needed()
    for repo in repos:
        theirs = in_use(repo, cache)     # every worktree's files, index and HEAD: asked once
        _merge(kept, kept_objects(repo, cache, keep, theirs))
        _merge(used, theirs)
    return kept, used


def _merge(into: needs.Needed, more: needs.Needed) -> None:
    for oid, path in more.oids.items():
        into.add(oid, path)


def _stash_states(repo: git.Repo) -> list[str]:
    """Every stash entry's work-tree commit and its index commit (`^2`)."""
    tip = repo.git("rev-parse", "-q", "--verify", "refs/stash", check=False).decode().split()
    if not tip:
        return []
    out = repo.git("rev-list", "--walk-reflogs", "refs/stash", check=False).decode().split()
    return [rev for sha in dict.fromkeys(tip + out) for rev in (sha, sha + "^2")]


def _has_head(repo: git.Repo) -> bool:
    return bool(repo.git("rev-parse", "-q", "--verify", "HEAD", check=False).strip())


def in_use(repo: git.Repo, cache: Cache) -> needs.Needed:
    """What every worktree uses now (files, index and HEAD): gc keeps it, and with
    cache.chunked it stays whole files."""
    used = needs.Needed()
    for root in needs.worktree_roots(repo):
        other = git.find_repo(root)
        _merge(used, needs.for_workspace(other))
        if _has_head(other):
            _merge(used, needs.for_revs(other, ["HEAD"]))
    needs.expand(cache, used)
    return used


def collect(cache: Cache, kept: needs.Needed, dry: bool) -> tuple[list[str], int]:
    """Delete (or with `dry` only list) unneeded cache objects, whole or chunk lists;
    returns (oids, bytes). The chunks a deleted list leaves unreferenced go in
    `cachechunks.collect_chunks`."""
    from . import cachechunks

    gone, freed = [], 0
    for oid in list(cache.iter_oids()):
        if oid in kept.oids:
            continue
        path = cache.path(oid)
        size = path.stat().st_size
        if not dry:
            path.unlink()
        gone.append(oid)
        freed += size
    whole_gone = set(gone)
    for oid in list(cachechunks.iter_chunked(cache)):
        if oid in kept.oids:
            continue
        if oid not in whole_gone:
            gone.append(oid)
        if not dry:
            os.unlink(cachechunks.list_path(cache, oid))
    if not dry:
        _clean_tmp(cache)
    return gone, freed


def chunk_unused(cache: Cache, kept: needs.Needed, used: needs.Needed,
                 dry: bool) -> "cachechunks.Converted":
    """`cache.chunked`: turn the kept large objects the worktrees do not use (`used`, from
    `in_use`) into chunk lists. An object in use keeps a chunk list it has beside its whole
    file (a rebuilt old version), so that moving off it again costs no new cut."""
    from . import cachechunks

    todo = [oid for oid in cache.iter_oids() if oid in kept.oids and oid not in used.oids]
    return cachechunks.convert_all(cache, todo, dry)


def remote_doomed(cache: Cache, remote: Remote, kept: needs.Needed) -> list[str]:
    """The remote's objects that nothing kept needs, manifests first: deleted in this order,
    a crash midway never leaves a manifest whose files are gone (push trusts a manifest on
    the remote to vouch for its files). Kept manifests this cache lacks are fetched first,
    to learn which files they keep; if one cannot be had, nothing may be deleted."""
    from . import transfer

    unread = [d for d in kept.dirs() if d not in kept.members]
    if unread:
        fetched = transfer.fetch(cache, remote, unread)
        unread = needs.expand(cache, kept)
        if unread:
            why = fetched.error or dict(fetched.failures).get(unread[0], "")
            raise DatavcError(f"cannot tell which files {len(unread)} kept directories list "
                              f"(first: {kept.oids[unread[0]]}, manifest {unread[0][:12]}: "
                              f"{why or 'not in the cache'}); nothing was deleted from the "
                              "remote")
    doomed = [oid for oid in remote.iter_oids() if oid not in kept.oids]
    return sorted(doomed, key=lambda oid: not oid.endswith(".dir"))


def _clean_tmp(cache: Cache) -> None:
    if not cache.tmp.is_dir():
        return
    now = time.time()
    for entry in os.scandir(cache.tmp):
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > TMP_GRACE:
                os.unlink(entry.path)
        except OSError:
            pass
