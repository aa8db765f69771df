"""The pre-commit hook's policy: big staged files that no filter=datavc rule covers.

core.autotrack=on adds a rule for each and re-stages it as a pointer; `refuse` stops the
commit; `off` lets it through. A file already covered by a rule but staged as raw content
(added before the rule existed) is re-staged as a pointer whatever the setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import git, install, output, pointer
from .cache import Cache
from .config import Settings, cache_root
from .errors import DatavcError
from .output import human_size
from .pointer import Pointer

SKIP_MODES = ("120000", "160000")  # symlinks and submodules are not file content


@dataclass(frozen=True)
class Staged:
    mode: str
    sha: str
    path: str
    size: int


def find_big(repo: git.Repo, threshold: int) -> tuple[list[Staged], list[Staged]]:
    """(big files no rule covers, files a rule covers but staged as raw content)."""
    changes = [c for c in git.staged_changes(repo) if c[0] not in SKIP_MODES]
    if not changes:
        return [], []
    sizes = git.blob_sizes(repo, sorted({sha for _, sha, _ in changes}))
    candidates = [Staged(mode, sha, path, sizes[sha]) for mode, sha, path in changes
                  if sizes[sha] >= threshold or sizes[sha] > pointer.MAX_SIZE]
    if not candidates:
        return [], []
    filters = git.check_attr(repo, "filter", [c.path for c in candidates])
    untracked = [c for c in candidates
                 if filters.get(c.path) != "datavc" and c.size >= threshold]
    # Over pointer.MAX_SIZE bytes a blob cannot be a pointer: it was staged before the rule.
    covered = [c for c in candidates if filters.get(c.path) == "datavc"]
    return untracked, covered


def restage_as_pointer(repo: git.Repo, cache: Cache, item: Staged) -> None:
    """Store the staged blob's bytes in the cache and stage its pointer instead."""
    proc = git.blob_stream(repo, item.sha)
    assert proc.stdout is not None
    with cache.writer() as w:
        oid, size = w.add_chunks(iter(lambda: proc.stdout.read(1 << 20), b""), item.size)  # type: ignore[union-attr]
    if proc.wait() != 0 or size != item.size:
        raise DatavcError(f"could not read the staged content of {item.path}")
    if size == 0:
        return
    blob = git.write_blob(repo, Pointer(oid, size).encode())
    git.set_index_entry(repo, item.mode, blob, item.path)


def pre_commit(repo: git.Repo, settings: Settings) -> int:
    untracked, covered = find_big(repo, settings.threshold)
    mode = settings.autotrack
    if untracked and mode == "refuse":
        listing = ", ".join(f"{c.path} ({human_size(c.size)})" for c in untracked[:5])
        more = f" and {len(untracked) - 5} more" if len(untracked) > 5 else ""
        raise DatavcError(
            f"commit refused: {listing}{more} reach core.threshold "
            f"({human_size(settings.threshold)}) but no datavc rule covers them",
            "track them with `git datavc track PATTERN` and `git add` them again, "
            "or commit with core.autotrack=off")
    to_convert = covered + (untracked if mode == "on" else [])
    if not to_convert:
        return 0
    if _temporary_index(repo):
        names = ", ".join(c.path for c in to_convert[:5])
        raise DatavcError(
            f"commit stopped: {names} must be stored as datavc pointers, which cannot be "
            "done for `git commit PATHS` (git commits a temporary index)",
            f"run `git add -- {to_convert[0].path}` (and the others), then `git commit` without paths")
    cache = Cache(cache_root(repo, settings))
    if mode == "on" and untracked:
        install.track(repo, [install.path_pattern(c.path) for c in untracked])
        repo.git("add", "--", ".gitattributes")
    for item in to_convert:
        restage_as_pointer(repo, cache, item)
        output.info(f"datavc: {item.path} ({human_size(item.size)}) is now stored in the "
                    "datavc cache; git gets a pointer")
    if mode == "on" and untracked:
        output.info("datavc: added rules for them to .gitattributes (core.autotrack=on)")
    return 0



def _temporary_index(repo: git.Repo) -> bool:
    """`git commit PATHS` runs the hook on a temporary index: staging into it would leave
    the real index holding the raw file."""
    import os

    index = os.environ.get("GIT_INDEX_FILE")
    if not index:
        return False
    # `commit -a` uses index.lock, which becomes the index; `commit PATHS` a next-index.
    # Not `git rev-parse --git-path index`: that answers with GIT_INDEX_FILE itself.
    real = {os.path.realpath(os.path.join(repo.git_dir, name)) for name in ("index", "index.lock")}
    return os.path.realpath(os.path.join(repo.root, index)) not in real
