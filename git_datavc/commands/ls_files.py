"""`ls-files [PATH...]`: the data files git-datavc tracks, like `git lfs ls-files`.

One line per file: short hash, where the content is (`w` workspace, `c` cache, `r` the
remote with `--remote`; `-` where it is not), the mode (filter, metafile, pipeline), the
path; `-s` adds the size, `-l` gives the whole hash, `-n` only the paths."""

from __future__ import annotations

import json
from typing import Sequence

from .. import config, git, lsfiles, output

SHORT = 10


def run(paths: Sequence[str], rev: str | None = None, every: bool = False,
        remote: str | None = None, ask_remote: bool = False, long: bool = False,
        sizes: bool = False, names: bool = False, as_json: bool = False) -> int:
    repo = git.find_repo()
    settings = config.load(repo.root)
    from ..cache import Cache

    cache = Cache(config.cache_root(repo, settings))
    rows = lsfiles.list_rows(repo, cache, lsfiles.Scope(rev, every), _from_root(repo, paths))
    if ask_remote and rows:
        from ..sync import open_named

        _, _, store = open_named(repo, remote)
        try:
            lsfiles.mark_remote(rows, store.missing(sorted({r.oid for r in rows})))
        finally:
            store.close()
    if as_json:
        print(json.dumps([row.as_dict() for row in rows], indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        print(_line(row, long, sizes, names))
    return 0


def _line(row: lsfiles.Row, long: bool, sizes: bool, names: bool) -> str:
    if names:
        return row.path
    flags = ("w" if row.workspace else "-") + ("c" if row.cache else "-")
    if row.remote is not None:
        flags += "r" if row.remote else "-"
    oid = row.oid if long else row.oid[:SHORT]
    size = f" ({output.human_size(row.size)})" if sizes else ""
    return f"{oid} {flags} {row.mode:<8} {row.path}{size}"


def _from_root(repo: git.Repo, paths: Sequence[str]) -> list[str]:
    """Pathspecs as the user typed them (from the current folder), made relative to the
    repository's root, as git does; globs are matched from the root too."""
    import os

    result = []
    prefix = os.path.relpath(os.getcwd(), repo.root)
    for path in paths:
        if any(c in path for c in "*?["):
            result.append(path if prefix == "." else f"{prefix}/{path}")
            continue
        full = os.path.normpath(os.path.join(os.getcwd(), path))
        rel = os.path.relpath(full, repo.root)
        if rel == ".." or rel.startswith("../"):
            from ..errors import UsageError

            raise UsageError(f"{path} is outside the repository")
        result.append("" if rel == "." else rel.replace(os.sep, "/"))
    return result
