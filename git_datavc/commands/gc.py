"""`gc`: delete cache objects (with `--cloud`: remote objects) that nothing kept needs."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Sequence

from .. import config, git, output
from ..cache import Cache
from ..errors import DatavcError
from ..needs import Needed, worktree_roots
from ..repolock import hold_repo
from ..gc import Keep, chunk_unused, collect, kept_and_used, remote_doomed


def run(keep: Keep, cloud: bool, force: bool, dry: bool, projects: Sequence[str] = ()) -> int:
    repo = git.find_repo()
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    repos = {repo.common_dir.resolve(): repo}    # a repository named twice counts once
    for path in projects:
        other = _sharing(path, cache)
        repos.setdefault(other.common_dir.resolve(), other)
    return _locked(list(repos.values()), settings, cache, keep, cloud, force, dry)


def _locked(repos: list[git.Repo], settings: config.Settings, cache: Cache, keep: Keep,
            cloud: bool, force: bool, dry: bool) -> int:
    if dry:
        return _run(repos, settings, cache, keep, cloud, force, dry)
    with ExitStack() as locks:  # every worktree's writers add to the cache gc deletes from
        for one in repos:
            for root in worktree_roots(one):
                locks.enter_context(hold_repo(git.find_repo(root), "git datavc gc"))
        return _run(repos, settings, cache, keep, cloud, force, dry)


def _sharing(path: str, cache: Cache) -> git.Repo:
    """The repository at `path` (`gc --projects`), which must use the same cache."""
    try:
        other = git.find_repo(path)
    except (DatavcError, OSError):
        raise DatavcError(f"--projects {path}: not a git repository with a work tree "
                          "(nothing was deleted)") from None
    theirs = config.cache_root(other, config.load(other.root))
    if theirs.resolve() != cache.root.resolve():
        raise DatavcError(f"--projects {path}: its cache is {theirs}, not this repository's "
                          f"{cache.root} (nothing was deleted)")
    return other


def _run(repos: list[git.Repo], settings: config.Settings, cache: Cache, keep: Keep,
         cloud: bool, force: bool, dry: bool) -> int:
    kept, used = kept_and_used(repos, cache, keep)
    if cloud and not dry and not force and not sys.stdin.isatty():
        raise DatavcError("gc --cloud deletes objects from the shared remote: pass -f to "
                          "confirm without a terminal (nothing was deleted)")
    gone, freed = collect(cache, kept, dry)
    verb = "would delete" if dry else "deleted"
    if dry:
        for oid in gone:
            print(oid)
    output.info(f"datavc: {verb} {len(gone)} cache objects ({output.human_size(freed)}); "
                f"kept {len(kept.oids)}")
    _chunk(cache, settings, kept, used, dry)
    if cloud:
        _gc_remote(cache, settings, kept, force, dry)
    return 0


def _chunk(cache: Cache, settings: config.Settings, kept: Needed, used: Needed,
           dry: bool) -> None:
    """cache.chunked: old large versions to chunk lists; then chunks no list needs go."""
    from .. import cachechunks

    if settings.chunked:
        done = chunk_unused(cache, kept, used, dry)
        if done.objects:
            verb = "would chunk" if dry else "chunked"
            added = "" if dry else f" into {output.human_size(done.bytes_added)} of new chunks"
            output.info(f"datavc: {verb} {done.objects} versions the workspace does not use "
                        f"({output.human_size(done.bytes_before)}){added}")
        for oid, why in done.failed:
            output.warn(f"{oid[:12]}: {why}")
    chunks, freed, damaged = cachechunks.collect_chunks(cache, dry)
    for oid, why in damaged:
        output.warn(f"{why}: no chunk deleted (`git datavc verify` names the damage)")
    if chunks:
        output.info(f"datavc: {'would delete' if dry else 'deleted'} {chunks} chunks "
                    f"({output.human_size(freed)}) no chunk list needs")


def _gc_remote(cache: Cache, settings: config.Settings, kept: Needed, force: bool,
               dry: bool) -> None:
    from ..sync import INDEX_CACHE, remote_name
    from ..remotes import SWEEP_AFTER, open_remote

    name = remote_name(settings, None)
    remote = open_remote(name, settings, cache.root / INDEX_CACHE)
    try:
        packed = getattr(remote, "packed", False)
        if packed:
            from .. import packgc

            grace = packgc.grace(settings, name)
            swept = packgc.sweep_marks(remote, grace, dry)  # type: ignore[arg-type]
            if swept.packs:
                output.info(f"datavc: {'would delete' if dry else 'deleted'} {swept.packs} "
                            f"packs ({output.human_size(swept.bytes)}) from remote {name}, "
                            "unreferenced since an earlier gc --cloud")
        doomed = remote_doomed(cache, remote, kept)
        if dry:
            for oid in doomed:
                print(f"{name}: {oid}")
            output.info(f"datavc: would delete {len(doomed)} objects from remote {name}")
            return
        if doomed and not force:
            if not sys.stdin.isatty():
                raise DatavcError(f"gc --cloud would delete {len(doomed)} objects from remote "
                                  f"{name}; pass -f to confirm without a terminal")
            answer = input(
                f"Delete {len(doomed)} objects from remote {name!r}? A shared remote holds the "
                "data of branches and clones this repository has never seen; they lose it "
                "too. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                output.info("datavc: nothing deleted from the remote")
                return
        remote.delete(doomed)
        leftovers = remote.sweep(SWEEP_AFTER)
        output.info(f"datavc: deleted {len(doomed)} objects from remote {name}"
                    + (f" and {leftovers} leftovers of interrupted uploads" if leftovers else ""))
        if packed:
            marked = packgc.mark(remote, grace)  # type: ignore[arg-type]
            if marked.packs:
                output.info(f"datavc: marked {marked.packs} packs "
                            f"({output.human_size(marked.bytes)}) that nothing refers to; a "
                            f"gc --cloud run {_duration(grace)} or more from now deletes them")
    finally:
        remote.close()


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds:g} s"
