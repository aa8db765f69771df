"""Help where git users look: `git datavc --help` (git runs `man git-datavc`),
`git datavc CMD --help` and `git datavc help CMD`, after a real `./install.sh` in a new HOME."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from git_datavc import manpage
from git_datavc.main import _parser
from tests.helpers import datavc, git, run

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(manpage.command_parsers(_parser()))

def _words(text: str) -> str:
    """man's output with its justification (runs of spaces, hyphenation) undone."""
    return " ".join(text.replace("\u2010", "-").replace("\u2011", "-").split())


def test_every_page_renders_without_troff_warnings(tmp_path: Path) -> None:
    if shutil.which("man") is None:
        pytest.fail("man is not installed: .ci/run installs man-db")
    datavc(tmp_path, "help", "--man-dir", str(tmp_path / "man"))
    pages = sorted(p.name for p in (tmp_path / "man" / "man1").iterdir())
    assert pages == sorted(["git-datavc.1"] + [f"git-datavc-{c}.1" for c in COMMANDS])
    for page in pages:
        shown = run(["man", "-l", str(tmp_path / "man" / "man1" / page)], tmp_path,
                    env={"MANPAGER": "cat", "MANWIDTH": "100"})
        assert shown.stderr == "", f"{page}: {shown.stderr}"
        name = page.removesuffix(".1")
        assert f"{name} - " in _words(shown.stdout)
        assert "SYNOPSIS" in shown.stdout


def test_help_of_an_unknown_command_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = datavc(tmp_path, "help", "no-such-command", check=False)
    assert result.returncode == 2  # usage errors exit 2, as argparse's own
    assert result.stderr.startswith("error: no such command: no-such-command")
    assert "Traceback" not in result.stderr


def test_install_sh_in_a_fresh_home_gives_man_pages_to_git_help(tmp_path: Path) -> None:
    """A new user's machine: nothing configured, install.sh puts git-datavc in
    ~/.local/bin and its pages in ~/.local/share/man, and git's own --help route finds them."""
    if shutil.which("man") is None:
        pytest.fail("man is not installed: .ci/run installs man-db")
    home = tmp_path / "home"
    home.mkdir()
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    env = {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        # the user's real pip cache, so the dependencies are not downloaded again
        "PIP_CACHE_DIR": os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".cache", "pip"),
        "PATH": os.pathsep.join([str(home / ".local" / "bin"), git_dir, "/usr/bin", "/bin"]),
        "PYTHON": getattr(sys, "_base_executable", sys.executable),
        "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100",
    }
    env = {k: v for k, v in {**os.environ, **env}.items()
           if k not in ("VIRTUAL_ENV", "MANPATH")}
    installed = subprocess.run(["sh", str(ROOT / "install.sh")], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert (home / ".local" / "bin" / "git-datavc").exists()
    assert (home / ".local" / "share" / "man" / "man1" / "git-datavc-push.1").exists()

    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, env=env, check=True)

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True)

    top = sh("git", "datavc", "--help")  # git turns this into `man git-datavc`
    assert top.returncode == 0, top.stderr
    assert "No manual entry" not in top.stderr
    assert "git-datavc - Version large data files" in _words(top.stdout)
    assert "git-datavc-push(1)" in _words(top.stdout)
    for command in COMMANDS:
        page = sh("git", "datavc", "help", command)
        assert page.returncode == 0, f"{command}: {page.stderr}"
        assert f"git-datavc-{command} - " in _words(page.stdout), command
        usage = sh("git", "datavc", command, "--help")
        assert usage.returncode == 0, f"{command} --help: {usage.stderr}"
        assert usage.stdout.startswith(f"usage: git datavc {command}"), command
    assert git(work, "config", "--global", "filter.datavc.process",
               env=env).stdout.strip().endswith("filter-process")
