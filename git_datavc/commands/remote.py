"""`remote add|remove|list|default|modify`: remotes in .datavc/config (`--local`:
.datavc/config.local, the place for credentials)."""

from __future__ import annotations

import re

from .. import config, git, output
from ..errors import DatavcError, UsageError

KEYS = ("url", "endpointurl", "jobs", "accesskeyid", "secretaccesskey", "region", "profile",
        "user", "port", "keyfile", "knownhostsfile", "stricthostkeychecking", "layout", "gcgrace")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _file(repo: git.Repo, local: bool) -> list[str]:
    path = repo.root / ".datavc" / ("config.local" if local else "config")
    path.parent.mkdir(exist_ok=True)
    return ["--file", str(path)]


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(f"invalid remote name {name!r} (letters, digits, '.', '_', '-')")


def _remotes(settings: config.Settings) -> dict[str, dict[str, str]]:
    remotes: dict[str, dict[str, str]] = {}
    for key, value in settings.values.items():
        if key.startswith("remote.") and key.count(".") >= 2:
            name, _, var = key[len("remote."):].rpartition(".")
            remotes.setdefault(name, {})[var] = value
    return remotes


def add(name: str, url: str, default: bool, local: bool, force: bool,
        layout: str | None = None) -> int:
    _check_name(name)
    repo = git.find_repo()
    if name in _remotes(config.load(repo.root)) and not force:
        raise DatavcError(f"remote {name!r} exists already", "use -f to replace it")
    from ..remotes import parse_url

    parse_url(url)  # malformed URLs are refused here, not at the first push
    git.config_set(_file(repo, local), f"remote.{name}.url", url)
    if layout:
        git.config_set(_file(repo, local), f"remote.{name}.layout", layout)
    if default:
        git.config_set(_file(repo, local), "core.remote", name)
    output.info(f"datavc: remote {name} -> {url}" + (" (default)" if default else ""))
    return 0


def remove(name: str, local: bool) -> int:
    repo = git.find_repo()
    if name not in _remotes(config.load(repo.root)):
        raise DatavcError(f"no remote named {name!r}")
    for is_local in (False, True):
        path = repo.root / ".datavc" / ("config.local" if is_local else "config")
        if path.exists():
            git.config_unset_section(_file(repo, is_local), f"remote.{name}")
            values = git.config_file(path)
            if values.get("core.remote") == name:
                git.run(["config", *_file(repo, is_local), "--unset", "core.remote"], check=False)
    output.info(f"datavc: remote {name} removed")
    return 0


def list_remotes() -> int:
    repo = git.find_repo()
    settings = config.load(repo.root)
    default = settings.get("core.remote")
    for name, values in sorted(_remotes(settings).items()):
        mark = "  (default)" if name == default else ""
        print(f"{name}\t{values.get('url', '?')}{mark}")
    return 0


def set_default(name: str | None, local: bool, unset: bool) -> int:
    repo = git.find_repo()
    settings = config.load(repo.root)
    if unset:
        git.run(["config", *_file(repo, local), "--unset", "core.remote"], check=False)
        return 0
    if name is None:
        print(settings.get("core.remote") or "(no default remote)")
        return 0
    if name not in _remotes(settings):
        raise DatavcError(f"no remote named {name!r}")
    git.config_set(_file(repo, local), "core.remote", name)
    return 0


def modify(name: str, key: str, value: str | None, local: bool, unset: bool) -> int:
    repo = git.find_repo()
    key = key.lower()
    if key not in KEYS:
        raise UsageError(f"unknown remote setting {key!r} (known: {', '.join(KEYS)})")
    if name not in _remotes(config.load(repo.root)):
        raise DatavcError(f"no remote named {name!r}")
    if key in config.SECRET_KEYS and not local and not unset:
        raise DatavcError(f"{key} is a credential: it must not go in the committed .datavc/config",
                          f"use `git datavc remote modify --local {name} {key} ...`")
    if unset:
        git.run(["config", *_file(repo, local), "--unset", f"remote.{name}.{key}"], check=False)
    else:
        if value is None:
            raise UsageError("modify needs a VALUE (or --unset)")
        if key == "url":
            from ..remotes import parse_url

            parse_url(value)
        git.config_set(_file(repo, local), f"remote.{name}.{key}", value)
    return 0




def upgrade(name: str | None, jobs: int) -> int:
    from .. import packmaint, sync

    repo = git.find_repo()
    _, cache, remote = sync.open_named(repo, name)
    try:
        report = packmaint.upgrade(cache, remote, jobs)
    finally:
        remote.close()
    output.info(f"datavc: remote {remote.name} is layout 2: {report.moved} objects moved into "
                f"packs ({output.human_size(report.bytes)} stored as "
                f"{output.human_size(report.stored)})"
                + (f", {report.failed} could not be moved" if report.failed else ""))
    if report.failed:
        raise DatavcError(f"{report.failed} objects stay whole on remote {remote.name} "
                          f"(first: {report.first_error})",
                          "they are still read; rerun `git datavc remote upgrade` to retry")
    return 0
