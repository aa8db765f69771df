"""`push`, `fetch`, `pull` and `status --remote`: sync the cache with a remote."""

from __future__ import annotations

import json
from typing import Sequence

from .. import git, output, sync
from ..transfer import Result


def _say(verb: str, result: Result) -> None:
    _summary(verb, result)
    result.raise_for_failures(verb)


def _summary(verb: str, result: Result) -> None:
    left_out = f", {result.left_out} left out by the partial fetch" if result.left_out else ""
    output.info(f"datavc: {verb} {result.transferred} objects "
                f"({output.human_size(result.bytes)}), {result.present} already there"
                f"{left_out}")


def run_push(remote: str | None, scope: sync.Scope, jobs: int, check_all: bool = False) -> int:
    _say("push", sync.push(git.find_repo(), remote, scope, jobs, check_all))
    return 0


def run_fetch(remote: str | None, scope: sync.Scope, jobs: int,
              include: Sequence[str] = (), exclude: Sequence[str] = ()) -> int:
    _say("fetch", sync.fetch(git.find_repo(), remote, scope, jobs, include, exclude))
    return 0


def run_pull(remote: str | None, scope: sync.Scope, jobs: int, force: bool,
             include: Sequence[str] = (), exclude: Sequence[str] = ()) -> int:
    """Fetch, then check out what arrived; a failed fetch is the error to report, even
    when the checkout then fails for the objects it could not get."""
    from .. import config, fetchfilter

    repo = git.find_repo()
    result = sync.fetch(repo, remote, scope, jobs, include, exclude)
    from ..commands import checkout
    from ..errors import DatavcError

    _summary("fetch", result)
    only = fetchfilter.load(repo, config.load(repo.root), include, exclude)
    try:
        code = checkout.run(scope.targets, force=force, pointers_must_resolve=True, only=only)
    except DatavcError:
        result.raise_for_failures("pull")
        raise
    result.raise_for_failures("pull")
    return code


def run_status_remote(remote: str | None, scope: sync.Scope, as_json: bool,
                      everything: bool = False) -> int:
    report = sync.remote_status(git.find_repo(), remote, scope)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return 0
    what = "the workspace" if scope.workspace_only else "the scope"
    if not (report.not_in_cache or report.not_on_remote or report.unlisted):
        print(f"datavc: the cache and remote {report.remote} have all {report.objects} "
              f"objects {what} needs")
    else:
        print(f"datavc: {what} needs {report.objects} objects; {report.cache_lacks} missing "
              f"from the cache, {report.remote_lacks} from remote {report.remote}")
    output.print_paths("missing from the local cache (git datavc fetch)", report.not_in_cache,
                       everything=everything)
    output.print_paths(f"missing from remote {report.remote} (git datavc push)",
                       report.not_on_remote, everything=everything)
    output.print_paths("directories whose manifest is in neither the cache nor the remote "
                       "(their files are not counted)", report.unlisted, everything=everything)
    output.print_paths("filter-tracked but stored in git as content (added without the "
                       "filter: `git datavc install`, then `git add --renormalize PATH`)",
                       report.as_content, everything=everything)
    return 0
