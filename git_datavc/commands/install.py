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


def run_uninstall(local: bool = False, global_: bool = False) -> int:
    """Undo `install` and `init` scope by scope: inside a repository both scopes by default
    (init registers the drivers in the local config, install in the global one), outside
    one the global config. The hooks go with the local scope: `--global` alone leaves the
    repositories that `init` set up working."""
    repo = _repo_or_none()
    if local and repo is None:
        raise GitError("uninstall --local must run inside a git repository")
    if not (local or global_):
        local, global_ = repo is not None, True
    done = []
    for flag, wanted in (("--global", global_), ("--local", local)):
        if wanted and install.uninstall_drivers([flag], cwd=repo.root if repo else None):
            done.append(f"removed the filter, diff and merge drivers ({flag[2:]} git config)")
    if local and repo is not None:
        done += install.uninstall_hooks(repo)
    for line in done:
        output.info(f"git-datavc: {line}")
    if not done:
        output.info("git-datavc: nothing to uninstall" +
                    (" in the global git config" if not local else ""))
    elif repo is not None and local:
        output.info("git-datavc: kept the cache, .datavc/ and .gitattributes "
                    "(your data and the project's settings)")
    return 0
