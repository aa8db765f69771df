"""`init`: create .datavc/ in this repository, register the drivers locally, install hooks."""

from __future__ import annotations

from .. import git, install, output

CONFIG_HEADER = """\
# git-datavc settings shared by everyone who clones this repository (git-config syntax).
# Credentials and machine-specific settings belong in .datavc/config.local (not committed).
"""


def run() -> int:
    repo = git.find_repo()
    datavc = repo.root / ".datavc"
    datavc.mkdir(exist_ok=True)
    config = datavc / "config"
    if not config.exists():
        config.write_text(CONFIG_HEADER)
    ignore = datavc / ".gitignore"
    if not ignore.exists():
        ignore.write_text("/config.local\n/tmp/\n")
    install.install_drivers(["--local"], cwd=repo.root)
    for line in install.install_hooks(repo):
        output.info(f"git-datavc: {line}")
    output.info(f"git-datavc: initialised {repo.root} (commit .datavc/ to share its settings)")
    return 0
