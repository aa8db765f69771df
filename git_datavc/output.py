"""Every message to the user goes through here: stderr, one line each."""

from __future__ import annotations

import sys


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def error(message: str, hint: str = "") -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    if hint:
        print(f"hint: {hint}", file=sys.stderr, flush=True)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable


def print_paths(title: str, paths: list[str], limit: int = 10, everything: bool = False) -> None:
    """A titled list on stdout, cut at `limit` lines unless `everything`."""
    if not paths:
        return
    print(f"{title}:")
    shown = paths if everything else paths[:limit]
    for path in shown:
        print(f"    {path}")
    if len(paths) > len(shown):
        print(f"    ... and {len(paths) - len(shown)} more (--all lists them, --json too)")
