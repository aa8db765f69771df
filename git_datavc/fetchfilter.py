"""Partial fetch: which paths' data this clone fetches (Git LFS's lfs.fetchinclude/exclude).

Patterns have .gitattributes semantics (pathmatch.py), comma-separated. From weakest to
strongest: `fetch.include`/`fetch.exclude` in .datavc/config, then .datavc/config.local,
then git config `datavc.fetchInclude`/`datavc.fetchExclude` (so `git clone -c
datavc.fetchInclude='models/prod/**' URL` sets them for the clone's whole life), then
DATAVC_FETCH_INCLUDE/DATAVC_FETCH_EXCLUDE, then `-I`/`-X` of `fetch` and `pull`, which
replace what they name for that command. A path outside the filter is never fetched: in
filter mode it stays a pointer, in metafile mode it stays absent; status lists it as left
out, not as broken. Data already in the cache is still checked out (as Git LFS does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from . import config, git, pathmatch
from .errors import DatavcError, UsageError

HINT = "`git datavc pull -I PATH` fetches it"


@dataclass(frozen=True)
class FetchFilter:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def selects(self, path: str) -> bool:
        """As in .gitignore, a pattern that matches a folder matches everything in it."""
        if not self.active:
            return True
        f = self._compiled
        folders = _folders(path)
        if f.include and not any(p.matches(x) for p in f.include for x in folders):
            return False
        return not any(p.matches(x) for p in f.exclude for x in folders)

    @cached_property
    def _compiled(self) -> pathmatch.PathFilter:
        return pathmatch.path_filter(self.include, self.exclude)

    def describe(self) -> str:
        parts = []
        if self.include:
            parts.append("include " + ",".join(self.include))
        if self.exclude:
            parts.append("exclude " + ",".join(self.exclude))
        return "; ".join(parts)


def _folders(path: str) -> list[str]:
    """'a/b/c.bin' -> ['a/b/c.bin', 'a/b', 'a']."""
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def load(repo: git.Repo, settings: config.Settings, include: Sequence[str] = (),
         exclude: Sequence[str] = ()) -> FetchFilter:
    """The filter in force: flags over the environment over git config over .datavc/.
    A bad pattern is an error naming where it was set."""
    from_git = git.config_get_all(["--includes"], cwd=repo.root)
    chosen = {}
    for kind, flags in (("include", include), ("exclude", exclude)):
        sources = [(f"fetch.{kind}", settings.get(f"fetch.{kind}")),
                   (f"git config datavc.fetch{kind.capitalize()}", from_git.get(f"datavc.fetch{kind}")),
                   (f"DATAVC_FETCH_{kind.upper()}", os.environ.get(f"DATAVC_FETCH_{kind.upper()}")),
                   (f"--{kind}", ",".join(flags) if flags else None)]
        where, text = "", ""
        for source, value in sources:  # the last one set wins
            if value is not None:
                where, text = source, value
        chosen[kind] = _patterns(where, text)
    return FetchFilter(chosen["include"], chosen["exclude"])


def _patterns(where: str, text: str) -> tuple[str, ...]:
    """Comma-separated patterns, each checked now; 'models/' is the folder, as in .gitignore."""
    found = tuple(p.rstrip("/") or p for p in pathmatch.split_patterns([text]))
    try:
        for p in found:
            pathmatch.compile_pattern(p)
    except UsageError as e:
        raise (e if where.startswith("--") else DatavcError(f"{where}: {e.message}")) from None
    return found
