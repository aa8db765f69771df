"""`migrate info`: which file types and paths take the space in a history (like `git lfs
migrate info`), to choose what `migrate import --include` should convert.

Every distinct blob is counted once, under the first path git's walk names it by (`git
rev-list --objects`, piped straight into `git cat-file --batch-check`): the figures are what
git stores before compression, not the sum over all commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from . import git, migrate_blobs, pointer
from .errors import GitError
from .pathmatch import PathFilter

POINTER_SIZES = range(60, migrate_blobs.SMALL + 1)   # blobs worth reading to spot pointers


@dataclass
class Group:
    size: int = 0
    blobs: int = 0
    paths: set[str] = field(default_factory=set)


@dataclass
class Report:
    by_type: dict[str, Group]
    by_path: dict[str, Group]
    datavc: tuple[int, int]     # (pointers, bytes they stand for)
    lfs: tuple[int, int]
    commits: int


def file_type(path: str) -> str:
    """`*.bin` for data/a.bin; the name itself for names without an extension."""
    name = path.rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return f"*.{ext}" if dot and stem else name


def collect(repo: git.Repo, revs: list[str], paths: PathFilter, above: int) -> Report:
    walk = git.popen(repo, ["rev-list", "--objects", "--filter=object:type=blob", *revs, "--"])
    check = git.popen(repo, ["cat-file", "--batch-check=%(objecttype) %(objectsize) "
                                         "%(objectname) %(rest)"], stdin=walk.stdout)
    assert walk.stdout is not None and check.stdout is not None
    walk.stdout.close()     # cat-file owns it now
    by_type: dict[str, Group] = defaultdict(Group)
    by_path: dict[str, Group] = defaultdict(Group)
    candidates: dict[str, str] = {}
    for line in check.stdout:
        kind, size_text, sha, *rest = line.rstrip(b"\n").split(b" ", 3)
        if kind != b"blob" or not rest:
            continue
        path, size = rest[0].decode("utf-8", "surrogateescape"), int(size_text)
        if not paths.selects(path):
            continue
        if size in POINTER_SIZES:
            candidates[sha.decode()] = path
        if size >= above:
            for group, key in ((by_type, file_type(path)), (by_path, path)):
                group[key].size += size
                group[key].blobs += 1
                group[key].paths.add(path)
    if walk.wait() != 0 or check.wait() != 0:
        raise GitError("git rev-list failed: is every revision valid?")
    commits = int(repo.git("rev-list", "--count", *revs, "--"))
    datavc, lfs = [0, 0], [0, 0]
    for data in git.read_blobs(repo, list(candidates)).values():
        if (p := pointer.parse(data)) is not None:
            datavc[0], datavc[1] = datavc[0] + 1, datavc[1] + p.size
        elif (q := migrate_blobs.parse_lfs(data)) is not None:
            lfs[0], lfs[1] = lfs[0] + 1, lfs[1] + q.size
    return Report(dict(by_type), dict(by_path), (datavc[0], datavc[1]), (lfs[0], lfs[1]),
                  commits)
