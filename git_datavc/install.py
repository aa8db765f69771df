"""Registering git-datavc with git: filter/diff/merge drivers, hook shims, .gitattributes rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from . import git, output
from .errors import UsageError

DRIVERS = {
    "filter.datavc.process": "git-datavc filter-process",
    "filter.datavc.clean": "git-datavc clean -- %f",
    "filter.datavc.smudge": "git-datavc smudge -- %f",
    "filter.datavc.required": "true",
    # No textconv: git then diffs the pointers themselves (hash and size), without
    # smudging whole old versions into temp files as a textconv would make it do.
    "diff.datavc.binary": "false",
    "merge.datavc.name": "git-datavc pointer merge",
    "merge.datavc.driver": "git-datavc merge-driver %O %A %B %P",
}
HOOKS = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
STDIN_HOOKS = ("pre-push", "post-rewrite")
MARKER = "# git-datavc hook"
HOOK_VERSION = 1
CHAINED_SUFFIX = ".pre-datavc"  # not ".legacy": pre-commit's own shim uses that name
ATTRS = "filter=datavc diff=datavc merge=datavc -text"


# --- drivers -------------------------------------------------------------------------

def install_drivers(scope_args: Sequence[str], cwd: Path | None = None) -> None:
    for key, value in DRIVERS.items():
        git.config_set(scope_args, key, value, cwd=cwd)


SECTIONS = ("filter.datavc", "diff.datavc", "merge.datavc")


def uninstall_drivers(scope_args: Sequence[str], cwd: Path | None = None) -> list[str]:
    """Unset the keys `install_drivers` sets, where they still hold its values; returns
    them. A key the user set or changed stays (warned about), and so does its section;
    a section left empty is removed (git keeps an empty header after `--unset`)."""
    current = git.config_get_all(scope_args, cwd=cwd)
    removed = []
    for key, value in DRIVERS.items():
        if key not in current:
            continue
        if current[key] == value:
            git.config_unset(scope_args, key, cwd=cwd)
            removed.append(key)
        else:
            output.warn(f"kept {key} = {current[key]} ({scope_args[0][2:]} config): "
                        "git-datavc did not set that value")
    left = {key for key in current if key not in removed}
    for section in SECTIONS:
        if not any(key.startswith(section + ".") for key in left):
            git.config_unset_section(scope_args, section, cwd=cwd)
    return removed


# --- hooks ---------------------------------------------------------------------------

def hook_script(name: str) -> str:
    """The shim installed as .git/hooks/NAME; identical to hooks/NAME in the project."""
    missing = ("exit 2" if name.startswith("pre-") else "exit 0")
    lines = [
        "#!/bin/sh",
        f"{MARKER} {name}, version {HOOK_VERSION}. Runs `git datavc hook {name}`;",
        f"# a hook that was here before is kept as {name}{CHAINED_SUFFIX} and runs first.",
        "command -v git-datavc >/dev/null 2>&1 || {",
        f"  echo >&2 \"git-datavc is not on PATH, but this repository's {name} hook needs it\"",
        f"  {missing}",
        "}",
        f'chained="$(dirname "$0")/{name}{CHAINED_SUFFIX}"',
        'if [ -x "$chained" ]; then',
    ]
    if name in STDIN_HOOKS:
        lines += [
            '  input=$(mktemp) || exit 1',
            '  trap \'rm -f "$input"\' EXIT',
            '  cat >"$input"',
            '  "$chained" "$@" <"$input" || exit $?',
            f'  git-datavc hook {name} "$@" <"$input"',
            '  exit $?',
        ]
    else:
        lines += ['  "$chained" "$@" || exit $?']
    lines += ["fi", f'exec git-datavc hook {name} "$@"', ""]
    return "\n".join(lines)


def _is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return MARKER.encode() in f.read(4096)
    except OSError:
        return False


def install_hooks(repo: git.Repo, force: bool = False) -> list[str]:
    """Install every shim; a foreign hook is kept and chained. Returns what was done."""
    hooks = git.hooks_dir(repo)
    hooks.mkdir(parents=True, exist_ok=True)
    done = []
    for name in HOOKS:
        path = hooks / name
        chained = hooks / (name + CHAINED_SUFFIX)
        if path.exists() and not _is_ours(path):
            if chained.exists() and not force:
                output.warn(f"left {path} alone: {chained.name} exists too (use --force)")
                continue
            os.replace(path, chained)
            done.append(f"kept your {name} hook as {chained.name}; it still runs first")
        _write_executable(path, hook_script(name))
    return done


def uninstall_hooks(repo: git.Repo) -> list[str]:
    """Remove our shims and put back the hooks they chained; a hook that is not ours is
    never touched. Returns what was done."""
    hooks = git.hooks_dir(repo)
    done = []
    for name in HOOKS:
        path, chained = hooks / name, hooks / (name + CHAINED_SUFFIX)
        ours = _is_ours(path)
        if ours:
            path.unlink()
            done.append(f"removed the {name} hook")
        if chained.exists() and not os.path.lexists(path):
            os.replace(chained, path)
            done.append(f"restored your {name} hook (from {chained.name})")
        elif chained.exists():
            output.warn(f"left {chained} alone: {path.name} is not git-datavc's hook")
    return done


def _write_executable(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp-datavc")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, path)


# --- .gitattributes ------------------------------------------------------------------

def escape_pattern(pattern: str) -> str:
    """A user's pattern made safe for one .gitattributes line."""
    if not pattern or "\n" in pattern or "\r" in pattern or "\0" in pattern:
        raise UsageError(f"pattern {pattern!r} cannot be written to .gitattributes")
    if pattern.startswith("!"):
        raise UsageError(f"negative pattern {pattern!r}: .gitattributes does not allow them",
                         "untrack the pattern instead")
    if pattern.startswith("#"):
        pattern = "\\" + pattern
    return "".join("[[:space:]]" if c.isspace() else c for c in pattern)


def path_pattern(path: str) -> str:
    """A .gitattributes pattern matching exactly one repo-relative path."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in path)
    return escape_pattern("/" + escaped)


def _attr_lines(repo: git.Repo) -> list[str]:
    path = repo.root / ".gitattributes"
    return path.read_text(encoding="utf-8", errors="surrogateescape").splitlines() \
        if path.exists() else []


def _is_datavc_rule(line: str) -> bool:
    parts = line.split()
    return len(parts) > 1 and not line.startswith("#") and "filter=datavc" in parts[1:]


def tracked_patterns(repo: git.Repo) -> list[str]:
    return [line.split()[0] for line in _attr_lines(repo) if _is_datavc_rule(line)]


def track(repo: git.Repo, patterns: Sequence[str]) -> list[str]:
    """Add a rule for each pattern not tracked yet; returns the patterns added."""
    existing = set(tracked_patterns(repo))
    added = []
    for raw in patterns:
        pattern = escape_pattern(raw)
        if pattern not in existing and pattern not in added:
            added.append(pattern)
    if added:
        lines = _attr_lines(repo) + [f"{p} {ATTRS}" for p in added]
        _write_attrs(repo, lines)
    return added


def untrack(repo: git.Repo, patterns: Sequence[str]) -> list[str]:
    wanted = {escape_pattern(p) for p in patterns}
    kept, removed = [], []
    for line in _attr_lines(repo):
        if _is_datavc_rule(line) and line.split()[0] in wanted:
            removed.append(line.split()[0])
        else:
            kept.append(line)
    if removed:
        _write_attrs(repo, kept)
    return removed


def _write_attrs(repo: git.Repo, lines: list[str]) -> None:
    path = repo.root / ".gitattributes"
    tmp = path.with_name(".gitattributes.tmp-datavc")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8",
                   errors="surrogateescape")
    os.replace(tmp, path)

