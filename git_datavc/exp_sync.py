"""`exp push|pull GIT-REMOTE [NAME...]`: experiment refs to and from a git remote, their
data to and from the data remote (default: core.remote).

Push sends the data first and the refs after, with `--no-verify` (the pre-push hook would
only find the data there already): a ref on the git remote never names data the data remote
lacks. Pull fetches the refs, then the data their commits need.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import git, needs, sync, transfer
from .errors import DatavcError
from .experiments import REFS, Experiment, recorded, resolve


@dataclass
class Moved:
    refs: list[str]
    objects: int     # data objects transferred
    present: int     # ... already there


def push(repo: git.Repo, git_remote: str, names: list[str], data_remote: str | None,
         force: bool = False) -> Moved:
    exps = [resolve(repo, n) for n in names] if names else recorded(repo)
    if not exps:
        raise DatavcError("no experiments to push")
    result = _move_data(repo, exps, data_remote, upload=True)
    specs = [("+" if force else "") + f"{e.ref}:{e.ref}" for e in exps]
    repo.git("push", "--no-verify", "-q", git_remote, *specs)
    return Moved([e.name for e in exps], result.transferred, result.present)


def pull(repo: git.Repo, git_remote: str, names: list[str], data_remote: str | None,
         force: bool = False) -> Moved:
    listed = repo.git("ls-remote", "--refs", git_remote, REFS + "*").decode().split("\n")
    refs = [line.split("\t", 1)[1] for line in listed if "\t" in line]
    refs = [r for r in refs if len(r[len(REFS):].split("/")) == 3]
    if names:
        wanted = [r for r in refs if r.rsplit("/", 1)[1] in names or r in names]
        found = {r.rsplit("/", 1)[1] for r in wanted} | set(wanted)
        lacking = [n for n in names if n not in found]
        if lacking:
            raise DatavcError(f"no experiment called {lacking[0]!r} on {git_remote}")
        refs = wanted
    if not refs:
        raise DatavcError(f"{git_remote} has no experiments")
    repo.git("fetch", "-q", "--no-write-fetch-head", git_remote,
             *[("+" if force else "") + f"{r}:{r}" for r in refs])
    exps = [e for e in recorded(repo) if e.ref in refs]
    result = _move_data(repo, exps, data_remote, upload=False)
    return Moved([e.name for e in exps], result.transferred, result.present)


def _move_data(repo: git.Repo, exps: list[Experiment], data_remote: str | None,
               upload: bool) -> transfer.Result:
    wanted = needs.for_revs(repo, [e.rev for e in exps])
    if not wanted.oids:
        return transfer.Result()
    _, cache, remote = sync.open_named(repo, data_remote)
    try:
        if upload:
            result = sync.push_needed(cache, remote, wanted)
        else:
            result = sync.fetch_needed(cache, remote, wanted)
    finally:
        remote.close()
    result.raise_for_failures("push" if upload else "fetch")
    return result
