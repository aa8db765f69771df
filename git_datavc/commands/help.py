"""`help [COMMAND]`: the manual page of git-datavc or of one command, as `git help` shows
git's own; `help --man-dir DIR` writes every page (install.sh does, where `man` looks)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import manpage, output
from ..errors import UsageError


def run(parser: argparse.ArgumentParser, command: str | None, man_dir: str | None) -> int:
    if man_dir is not None:
        written = manpage.write_pages(parser, Path(man_dir))
        output.info(f"{len(written)} manual pages written to {Path(man_dir) / 'man1'}")
        return 0
    commands = manpage.command_parsers(parser)
    if command is not None and command not in commands:
        raise UsageError(f"no such command: {command}",
                         "`git datavc help` lists the commands")
    name = manpage.page_name(command)
    if shutil.which("man") is None:  # no man at all: the same text as --help
        (parser if command is None else commands[command]).print_help()
        return 0
    found = subprocess.run(["man", "-w", name], capture_output=True).returncode == 0
    if found:
        return subprocess.run(["man", name]).returncode
    with tempfile.TemporaryDirectory() as tmp:  # not installed: show a page made now
        page = Path(tmp) / f"{name}.1"
        page.write_text(manpage.render(parser, command), encoding="utf-8")
        sys.stdout.flush()
        return subprocess.run(["man", "-l", str(page)]).returncode
