"""`migrate import|export|info`: rewrite existing history to or from datavc pointers, or
show what takes the space in it (the job of `git lfs migrate`)."""

from __future__ import annotations

from typing import Sequence

from .. import git, migrate, migrate_info, output
from ..config import parse_size
from ..pathmatch import path_filter, split_patterns


def run(mode: str, include: Sequence[str], exclude: Sequence[str], refs: Sequence[str],
        everything: bool, from_lfs: bool, yes: bool, force: bool) -> int:
    repo = git.find_repo()
    req = migrate.Request(mode, tuple(split_patterns(include)), tuple(split_patterns(exclude)),
                          tuple(refs), everything, from_lfs, yes, force)
    result = migrate.run(repo, req)
    s = result.stats
    if not result.updated:
        print(f"migrate: nothing to rewrite ({s.commits} commits looked at, no ref changed)")
        return 0
    names = ", ".join(git_short(name) for name, _, _ in result.updated)
    print(f"migrate: rewrote {s.commits} commits; moved {names}")
    if mode == "import" and s.lfs_objects:
        print(f"migrate: {s.lfs_objects} Git LFS pointers became datavc pointers; "
              f"{output.human_size(s.lfs_bytes)} of LFS objects copied into the datavc cache "
              "(.git/lfs can go once the result looks right)")
    if mode == "import" and s.blobs:
        print(f"migrate: {s.blobs} blobs became pointers: "
              f"{output.human_size(s.content_bytes)} of content now in the datavc cache "
              f"instead of git ({output.human_size(s.content_bytes - s.pointer_bytes)} saved)")
    else:
        print(f"migrate: {s.blobs} pointers at {len(s.paths)} paths became content "
              f"({output.human_size(s.content_bytes)} back in git)")
    print(f"migrate: the old refs are kept under {migrate.BACKUP_NS}; once the result looks "
          "right, delete them and let git reclaim the space:")
    print(f"    git for-each-ref --format='delete %(refname)' {migrate.BACKUP_NS} "
          "| git update-ref --stdin")
    print("    git reflog expire --expire=now --all && git gc --prune=now")
    if result.published:
        print("migrate: published commits were rewritten: force-push the branches "
              "(git push --force-with-lease) and tell everyone who has them")
    return 0


def git_short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def run_info(include: Sequence[str], exclude: Sequence[str], refs: Sequence[str],
             everything: bool, top: int, above: str) -> int:
    repo = git.find_repo()
    tips, excludes = migrate.plan(repo, migrate.Request("info", refs=tuple(refs),
                                                        everything=everything))
    revs = [t.commit for t in tips] + ["^" + e for e in excludes]
    report = migrate_info.collect(repo, revs, path_filter(split_patterns(include),
                                                          split_patterns(exclude)),
                                  parse_size(above, "--above"))
    scope = ", ".join(git_short(t.name) for t in tips)
    print(f"History of {scope}: {report.commits} commits")
    _table("File types", report.by_type, top)
    _table("Paths", report.by_path, top)
    for label, (count, size) in (("datavc pointers", report.datavc),
                                 ("Git LFS pointers", report.lfs)):
        if count:
            print(f"{label}: {count} (standing for {output.human_size(size)})")
    return 0


def _table(title: str, groups: dict[str, migrate_info.Group], top: int) -> None:
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1].size, kv[0]))
    if not ranked:
        return
    print(f"{title} (largest first):")
    width = min(40, max(len(k) for k, _ in ranked[:top]))
    for key, g in ranked[:top]:
        paths = f" at {len(g.paths)} paths" if len(g.paths) > 1 else ""
        print(f"    {key:<{width}}  {output.human_size(g.size):>10}  {g.blobs} blobs{paths}")
    if len(ranked) > top:
        print(f"    ... and {len(ranked) - top} more (--top N shows more)")
