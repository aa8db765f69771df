"""Push, fetch and pull: the objects a scope needs, moved by the transfer queue.

A scope is HEAD's workspace by default, or branch tips, tags, every commit, or targets.
Directory manifests travel first (fetch them, then read which files they list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import config, git, needs, transfer
from .cache import Cache
from .errors import DatavcError, RemoteError
from .remotes import Remote, open_remote

if TYPE_CHECKING:
    from .fetchfilter import FetchFilter


INDEX_CACHE = "remote-index"    # copies of layout-2 remotes' indexes, under the cache


@dataclass
class Scope:
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False
    targets: list[str] = field(default_factory=list)

    @property
    def workspace_only(self) -> bool:
        return not (self.all_branches or self.all_tags or self.all_commits or self.targets)


def remote_name(settings: config.Settings, name: str | None) -> str:
    name = name or settings.get("core.remote")
    if not name:
        raise RemoteError("no remote given and no default remote",
                          "add one: `git datavc remote add -d NAME URL`, or pass -r NAME")
    return name


def open_named(repo: git.Repo, name: str | None) -> tuple[config.Settings, Cache, Remote]:
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    return settings, cache, open_remote(remote_name(settings, name), settings,
                                        cache.root / INDEX_CACHE)


def needed(repo: git.Repo, scope: Scope) -> needs.Needed:
    """Unexpanded: directory objects stand for their manifests' files."""
    if scope.targets:
        return _for_targets(repo, scope.targets)
    result = needs.for_workspace(repo)
    revs = []
    if scope.all_commits:
        more = needs.for_revs(repo, ["--all"], history=True)
        result.oids.update({k: v for k, v in more.oids.items() if k not in result.oids})
    if scope.all_branches:
        revs += _refs(repo, "refs/heads")
    if scope.all_tags:
        revs += _refs(repo, "refs/tags")
    if revs:
        more = needs.for_revs(repo, revs)
        result.oids.update({k: v for k, v in more.oids.items() if k not in result.oids})
    return result


def _refs(repo: git.Repo, prefix: str) -> list[str]:
    out = repo.git("for-each-ref", "--format=%(objectname)", prefix).decode().split()
    return sorted(set(out))


def _for_targets(repo: git.Repo, targets: list[str]) -> needs.Needed:
    """Objects of the workspace needs whose path is, or is below, one of the targets."""
    import os

    wanted = []
    for target in targets:
        full = Path(os.path.abspath(target))
        try:
            wanted.append(full.relative_to(repo.root).as_posix().removesuffix(".datavc"))
        except ValueError:
            raise DatavcError(f"{target} is outside the repository") from None
    everything = needs.for_workspace(repo)
    result = needs.Needed()
    for oid, path in everything.oids.items():
        if any(path == w or path.startswith(w + "/") or w in (".", "") for w in wanted):
            result.add(oid, path)
    if not result.oids:
        raise DatavcError(f"nothing tracked at {', '.join(targets)}")
    return result


def push(repo: git.Repo, name: str | None, scope: Scope, jobs: int = 0,
         check_all: bool = False) -> transfer.Result:
    _, cache, remote = open_named(repo, name)
    try:
        return push_needed(cache, remote, needed(repo, scope), jobs, check_all)
    finally:
        remote.close()


def push_needed(cache: Cache, remote: Remote, wanted: needs.Needed, jobs: int = 0,
                check_all: bool = False) -> transfer.Result:
    """Files first, directory manifests last, each manifest only once every file it lists is
    on the remote. So a manifest on the remote vouches for its files (as in DVC), and a
    rerun asks about a few manifests instead of listing every file; `check_all` asks about
    every file anyway (to repair a remote that lost files behind a manifest's back)."""
    needs.expand(cache, wanted)     # a manifest not in the cache fails as an object below
    dirs = wanted.dirs()
    there = set() if check_all or not dirs else set(dirs) - remote.missing(dirs)
    vouched = {oid for d in there for oid in wanted.members.get(d, ())}
    files = [o for o in wanted.oids if not o.endswith(".dir") and o not in vouched]
    result = transfer.push(cache, remote, _pushable(cache, remote, files), jobs)
    result.present += len(there) + len(vouched)
    failed = {oid for oid, _ in result.failures}
    ready = []
    for d in dirs:
        if d in there:
            continue
        lost = sum(oid in failed for oid in wanted.members.get(d, ()))
        if lost:
            result.failures.append((d, f"manifest {d} not pushed: {lost} of its files failed"))
        else:
            ready.append(d)
    if ready:
        result.absorb(transfer.push(cache, remote, _pushable(cache, remote, ready), jobs))
    return result


def _pushable(cache: Cache, remote: Remote, oids: list[str]) -> list[str]:
    """`oids`, less those this cache lacks but the remote has already (pushed from another
    clone): only an object missing on both sides is a failure."""
    absent = set(oids) - cache.present(oids)
    lacking = remote.missing(absent) if absent else set()
    return [oid for oid in oids if oid not in absent or oid in lacking]


def fetch_needed(cache: Cache, remote: Remote, wanted: needs.Needed, jobs: int = 0,
                 only: FetchFilter | None = None) -> transfer.Result:
    """Fetch manifests first, then every object they and the rest name; with `only`, just
    the objects some path inside that partial-fetch filter needs (manifests always: they
    are small, and they say which paths a directory holds)."""
    first = transfer.fetch(cache, remote, wanted.dirs(), jobs)
    needs.expand(cache, wanted)
    files = [o for o in wanted.oids if not o.endswith(".dir")]
    if only is not None and only.active:
        chosen = [o for o in files if any(only.selects(p) for p in wanted.paths(o))]
        left_out = len(files) - len(chosen)
        files = chosen
    else:
        left_out = 0
    first.absorb(transfer.fetch(cache, remote, files, jobs))
    first.left_out = left_out
    return first


def fetch(repo: git.Repo, name: str | None, scope: Scope, jobs: int = 0,
          only: FetchFilter | None = None) -> transfer.Result:
    """Fetch what the scope needs, within the partial-fetch filter (fetchfilter.py; the
    configured one unless `only` is given)."""
    from . import fetchfilter

    settings, cache, remote = open_named(repo, name)
    try:
        only = only or fetchfilter.load(repo, settings)
        return fetch_needed(cache, remote, needed(repo, scope), jobs, only)
    finally:
        remote.close()


@dataclass
class RemoteStatus:
    """`status --remote`: what the scope needs, and which of it the cache or the remote
    lacks (one path per object, sorted)."""
    remote: str
    objects: int = 0
    cache_lacks: int = 0        # objects (several may share a path across commits)
    remote_lacks: int = 0
    not_in_cache: list[str] = field(default_factory=list)
    not_on_remote: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)   # directories whose manifest is nowhere
    as_content: list[str] = field(default_factory=list)  # filter-tracked, yet stored by git whole

    def as_dict(self) -> dict[str, object]:
        return {"remote": self.remote, "objects": self.objects,
                "objects_not_in_cache": self.cache_lacks,
                "objects_not_on_remote": self.remote_lacks,
                "not_in_cache": self.not_in_cache, "not_on_remote": self.not_on_remote,
                "unlisted_directories": self.unlisted, "stored_as_content": self.as_content}


def remote_status(repo: git.Repo, name: str | None, scope: Scope) -> RemoteStatus:
    """Every object of the scope: filter-mode pointers of the index (and, with a wider
    scope, of the commits in it), metafile outs with their manifests' files, lock outs.
    The remote is asked about every one of them, never trusting a manifest for its files."""
    settings, cache, remote = open_named(repo, name)
    try:
        wanted = needed(repo, scope)
        unlisted = _expand_from_remote(remote, wanted, needs.expand(cache, wanted))
        oids = list(wanted.oids)
        lacking = remote.missing(oids) if oids else set()
    finally:
        remote.close()
    absent = set(oids) - cache.present(oids)
    return RemoteStatus(
        remote=remote.name, objects=len(oids), cache_lacks=len(absent),
        remote_lacks=len(lacking),
        not_in_cache=sorted({wanted.oids[o] for o in absent}),
        not_on_remote=sorted({wanted.oids[o] for o in lacking}),
        unlisted=sorted(wanted.oids[o] for o in unlisted), as_content=stored_as_content(repo))


def stored_as_content(repo: git.Repo) -> list[str]:
    """Index entries that .gitattributes sends to the filter but that git holds as plain
    content: added where the drivers were not installed, so no object was ever made and
    nothing is missing anywhere, yet the data is not where the user thinks."""
    from . import pointer

    entries = [(sha, path) for mode, sha, path in git.index_entries(repo, [TRACKED])
               if mode in ("100644", "100755")]
    info = git.blob_info(repo, sorted({sha for sha, _ in entries}))
    small = git.read_blobs(repo, sorted({sha for sha, _ in entries
                                         if (info.get(sha) or 0) <= pointer.MAX_SIZE}))
    found = []
    for sha, path in entries:
        size = info.get(sha)
        if size and (size > pointer.MAX_SIZE or pointer.parse(small.get(sha, b"")) is None):
            found.append(path)      # (an empty file stays empty: no pointer, nothing lost)
    return sorted(found)


TRACKED = ":(attr:filter=datavc)"


MANIFEST_LIMIT = 256 << 20


def _expand_from_remote(remote: Remote, wanted: needs.Needed, manifests: list[str]) -> list[str]:
    """List the files of manifests the cache lacks from the remote's copies (checked against
    their id, never written to the cache: status changes nothing); returns those the remote
    lacks or cannot vouch for."""
    from . import hashing, metafile
    from .errors import ObjectMissing

    if not manifests:
        return []
    unlisted = sorted(remote.missing(manifests))
    for oid in sorted(set(manifests) - set(unlisted)):
        try:
            data = remote.read_small(oid, MANIFEST_LIMIT)
        except ObjectMissing:
            data = None
        if data is None or hashing.hash_bytes(data) + ".dir" != oid:
            unlisted.append(oid)
            continue
        base = wanted.oids[oid]
        for entry in metafile.decode_manifest(data, f"manifest {oid[:12]} on {remote.name}"):
            wanted.add(entry.oid, f"{base}/{entry.relpath}")
    return unlisted


ZERO = "0" * 40


def pre_push(repo: git.Repo, git_remote: str, lines: list[str]) -> str:
    """pre-push: push to the default remote what the pushed commits need. Returns a
    message for the user; raises RemoteError when objects could not be pushed."""
    settings = config.load(repo.root)
    name = settings.get("core.remote")
    if not name:
        return ("datavc: no default data remote (core.remote), so no data was pushed; "
                "`git datavc remote add -d NAME URL` sets one")
    tips, known = [], []
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[1] != ZERO:
            tips.append(parts[1])
            if parts[3] != ZERO and repo.git("cat-file", "-e", parts[3] + "^{commit}",
                                               check=False) == b"":
                known.append(parts[3])
    if not tips:
        return ""
    exclude = ["--not", *known] + ([f"--remotes={git_remote}"] if git_remote else [])
    wanted = needs.for_rev_list(repo, tips + exclude)
    if not wanted.oids:
        return ""
    cache = Cache(config.cache_root(repo, settings))
    remote = open_remote(name, settings, cache.root / INDEX_CACHE)
    try:
        result = push_needed(cache, remote, wanted)
    finally:
        remote.close()
    result.raise_for_failures("push")
    return (f"datavc: pushed {result.transferred} objects to {name} "
            f"({result.present} already there)")
