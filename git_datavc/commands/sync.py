"""`push`, `fetch`, `pull` and `status --remote`: sync the cache with a remote."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Sequence

from .. import git, output, sync
from ..transfer import Result

if TYPE_CHECKING:
    from ..fetchfilter import FetchFilter


def _say(verb: str, result: Result) -> None:
    _summary(verb, result)
    result.raise_for_failures(verb)


def _summary(verb: str, result: Result) -> None:
    left_out = f", {result.left_out} left out by the partial fetch" if result.left_out else ""
    output.info(f"datavc: {verb} {result.transferred} objects "
                f"({output.human_size(result.bytes)}), {result.present} already there"
                f"{left_out}")
    if result.packed and result.bytes:
        output.info(savings(verb, result.sent, result.bytes))


def savings(verb: str, sent: int, logical: int) -> str:
    """`push: 1.2 MiB of 1.0 GiB sent (99.9% already on the remote)`: what a layout-2 remote
    saved by moving only the chunks the other side lacked."""
    moved, where = ("sent", "on the remote") if verb == "push" else \
        ("received", "in the cache")
    saved = max(0.0, 100.0 * (1 - sent / logical)) if logical else 0.0
    return (f"datavc: {verb}: {output.human_size(sent)} of {output.human_size(logical)} "
            f"{moved} ({saved:.1f}% already {where})")


def run_push(remote: str | None, scope: sync.Scope, jobs: int, check_all: bool = False) -> int:
    _say("push", sync.push(git.find_repo(), remote, scope, jobs, check_all))
    return 0


def run_fetch(remote: str | None, scope: sync.Scope, jobs: int,
              include: Sequence[str] = (), exclude: Sequence[str] = ()) -> int:
    repo = git.find_repo()
    _say("fetch", sync.fetch(repo, remote, scope, jobs, _only(repo, include, exclude)))
    return 0


def _only(repo: git.Repo, include: Sequence[str], exclude: Sequence[str]) -> FetchFilter:
    from .. import config, fetchfilter

    return fetchfilter.load(repo, config.load(repo.root), include, exclude)


def run_pull(remote: str | None, scope: sync.Scope, jobs: int, force: bool,
             include: Sequence[str] = (), exclude: Sequence[str] = ()) -> int:
    """Fetch, then check out what arrived; a failed fetch is the error to report, even
    when the checkout then fails for the objects it could not get."""
    repo = git.find_repo()
    only = _only(repo, include, exclude)
    result = sync.fetch(repo, remote, scope, jobs, only)
    from ..commands import checkout
    from ..errors import DatavcError

    _summary("fetch", result)
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
