"""`push`, `fetch`, `pull` and `status --remote`: sync the cache with a remote."""

from __future__ import annotations

import json

from .. import git, output, sync
from ..transfer import Result


def _say(verb: str, result: Result) -> None:
    _summary(verb, result)
    result.raise_for_failures(verb)


def _summary(verb: str, result: Result) -> None:
    output.info(f"datavc: {verb} {result.transferred} objects "
                f"({output.human_size(result.bytes)}), {result.present} already there")


def run_push(remote: str | None, scope: sync.Scope, jobs: int, check_all: bool = False) -> int:
    _say("push", sync.push(git.find_repo(), remote, scope, jobs, check_all))
    return 0


def run_fetch(remote: str | None, scope: sync.Scope, jobs: int) -> int:
    _say("fetch", sync.fetch(git.find_repo(), remote, scope, jobs))
    return 0


def run_pull(remote: str | None, scope: sync.Scope, jobs: int, force: bool) -> int:
    """Fetch, then check out what arrived; a failed fetch is the error to report, even
    when the checkout then fails for the objects it could not get."""
    repo = git.find_repo()
    result = sync.fetch(repo, remote, scope, jobs)
    from ..commands import checkout
    from ..errors import DatavcError

    _summary("fetch", result)
    try:
        code = checkout.run(scope.targets, force=force, pointers_must_resolve=True)
    except DatavcError:
        result.raise_for_failures("pull")
        raise
    result.raise_for_failures("pull")
    return code


def run_status_remote(remote: str | None, as_json: bool) -> int:
    report = sync.missing_report(git.find_repo(), remote)
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif not any(report.values()):
        print("datavc: the cache and the remote have everything the workspace needs")
    else:
        output.print_paths("missing from the local cache", report["not_in_cache"])
        output.print_paths("missing from the remote (git datavc push)", report["not_on_remote"])
    return 0
