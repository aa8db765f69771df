"""Manual pages made from the command-line definitions, so they never drift from `--help`.

git answers `git datavc --help` with `man git-datavc`, the way it does for every git
command, so a page per command has to exist where `man` looks. They are generated from the
argparse parsers in main.py (by argparse-manpage, made for exactly this) when `install.sh`
runs, into the `share/man/man1` beside the `bin` that holds `git-datavc`: `man` searches
there for every folder on PATH. `git datavc help CMD` shows the same page, generated on the
spot when none is installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

from . import __version__

SEE_ALSO = "git(1), gitattributes(5), githooks(5)"


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The top-level commands by name, as parsers."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def page_name(command: str | None) -> str:
    return "git-datavc" if not command else f"git-datavc-{command}"


def render(parser: argparse.ArgumentParser, command: str | None = None) -> str:
    """The roff source of git-datavc(1), or of git-datavc-COMMAND(1)."""
    from argparse_manpage.manpage import Manpage

    commands = command_parsers(parser)
    target = parser if command is None else commands[command]
    name = page_name(command)
    description = target.description or ""
    page = Manpage(target, _data={
        "prog": name, "description": description, "project_name": "git-datavc",
        "version": __version__, "manual_title": "git-datavc Manual",
    })
    page.prog = name  # the page's title and NAME line: git-datavc-push, as git's pages
    if command is None:
        see = ", ".join(f"{page_name(c)}(1)" for c in commands)
        page.add_section("SEE ALSO", "=", f"{see}, {SEE_ALSO}")
    else:
        page.add_section("SEE ALSO", "=", f"git-datavc(1), {SEE_ALSO}")
    return _escape_stray_requests(str(page))


_MACROS = {"TH", "SH", "SS", "TP", "PP", "IP", "RS", "RE", "B", "I", "br", "nf", "fi"}


def _escape_stray_requests(roff: str) -> str:
    """Help text wrapped so that a line starts with '.' or "'" (".gitattributes-style")
    would be read by troff as a request: escape those lines with a zero-width \\&."""
    lines = []
    for line in roff.split("\n"):
        if line[:1] in (".", "'") and line[1:].split(" ", 1)[0] not in _MACROS:
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def pages(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    """(file name, roff) for the top-level page and every command's page."""
    yield f"{page_name(None)}.1", render(parser)
    for command in command_parsers(parser):
        yield f"{page_name(command)}.1", render(parser, command)


def write_pages(parser: argparse.ArgumentParser, man_dir: Path) -> list[Path]:
    """Write every page into MAN_DIR/man1, replacing pages an older version left."""
    section = man_dir / "man1"
    section.mkdir(parents=True, exist_ok=True)
    for old in section.glob("git-datavc*.1"):
        old.unlink()
    written = []
    for file_name, text in pages(parser):
        path = section / file_name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
