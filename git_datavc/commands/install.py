"""`install` / `uninstall`: register the drivers (global by default) and, in a repo, the hooks."""

from __future__ import annotations

from .. import git, install, output
from ..errors import GitError


def _scope(local: bool) -> list[str]:
    return ["--local"] if local else ["--global"]


def _repo_or_none() -> git.Repo | None:
    try:
        return git.find_repo()
    except GitError:
        return None


def run(local: bool = False, no_hooks: bool = False, force: bool = False) -> int:
    repo = _repo_or_none()
    if local and repo is None:
        raise GitError("install --local must run inside a git repository")
    install.install_drivers(_scope(local))
    output.info(f"git-datavc: filter, diff and merge drivers registered ({'local' if local else 'global'} git config)")
    if repo is not None and not no_hooks:
        for line in install.install_hooks(repo, force=force):
            output.info(f"git-datavc: {line}")
        output.info(f"git-datavc: hooks installed in {git.hooks_dir(repo)}")
    if repo is not None:  # a clone made before install holds pointers: fill what we can
        from .checkout import restore_pointers

        restore_pointers(repo)
    return 0


def run_uninstall(local: bool = False) -> int:
    repo = _repo_or_none()
    install.uninstall_drivers(_scope(local))
    if repo is not None:
        install.uninstall_hooks(repo)
    output.info("git-datavc: drivers" + (" and hooks" if repo else "") + " removed")
    return 0
