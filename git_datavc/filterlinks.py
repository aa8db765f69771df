"""Filter mode without double storage (like git-annex's annex.thin).

When `cache.type` allows a link that git sees as a regular file (reflink or hardlink) and
the post-checkout hook is installed, smudge hands git the pointer and notes the path in
`<git-dir>/datavc/smudged`; the hooks (or `git datavc checkout`, after commands that run
no hook, such as `git stash`) then put the object in place as a link and refresh git's
index. git never holds a whole file in memory and no byte is stored twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import git, pointer
from .cache import Cache
from .config import Settings
from .links import Linker

HOOK = "post-checkout"
LINK_TYPES = ("reflink", "hardlink")  # a symlink would show in git as a type change


def smudged_list(git_dir: Path) -> Path:
    return git_dir / "datavc" / "smudged"


def link_mode(repo: git.Repo, settings: Settings, cache_root: Path) -> Linker | None:
    """A linker for filter-tracked files, or None when smudge must write the content."""
    types = [t for t in settings.cache_types if t in LINK_TYPES]
    if not types or not _hook_installed(repo):
        return None
    linker = Linker(types + ["copy"], settings.protected)
    if types[0] == "reflink" and not _reflink_works(cache_root):
        types.pop(0)
        if not types:
            return None
        linker = Linker(types + ["copy"], settings.protected)
    return linker


def _hook_installed(repo: git.Repo) -> bool:
    from .install import MARKER

    path = repo.git_dir / "hooks" / HOOK
    configured = repo.git("config", "--get", "core.hooksPath", check=False).strip()
    if configured:
        path = Path(git.hooks_dir(repo)) / HOOK
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    # Only our own shim is known to run `git datavc hook post-checkout`; under other hook
    # managers smudge writes the content, which is always correct.
    return MARKER.encode() in head


def _reflink_works(cache_root: Path) -> bool:
    from .links import _reflink

    probe_dir = cache_root / "tmp"
    probe_dir.mkdir(parents=True, exist_ok=True)
    src, dst = probe_dir / f"probe-{os.getpid()}", probe_dir / f"probe-{os.getpid()}.clone"
    try:
        src.write_bytes(b"x")
        _reflink(str(src), str(dst), 0o600)
        return True
    except OSError:
        return False
    finally:
        for p in (src, dst):
            try:
                p.unlink()
            except OSError:
                pass


def note_smudged(git_dir: Path, pathname: str) -> None:
    """Append one path; O_APPEND writes of one short line do not interleave."""
    path = smudged_list(git_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, pathname.encode("utf-8", "surrogateescape") + b"\0")
    finally:
        os.close(fd)


def take_smudged(git_dir: Path) -> list[str]:
    path = smudged_list(git_dir)
    claimed = path.with_name(f"smudged.{os.getpid()}")
    try:
        os.replace(path, claimed)
    except FileNotFoundError:
        return []
    data = claimed.read_bytes()
    claimed.unlink()
    return sorted({p.decode("utf-8", "surrogateescape") for p in data.split(b"\0") if p})


def place_links(repo: git.Repo, linker: Linker, cache: Cache, paths: list[str]) -> list[str]:
    """Replace worktree pointers by linked content; returns the paths done."""
    todo: dict[str, str] = {}
    for rel in paths:
        full = repo.root / rel
        try:
            if full.is_symlink() or full.stat().st_size > pointer.MAX_SIZE:
                continue
            ptr = pointer.parse(full.read_bytes())
        except OSError:
            continue
        if ptr is None or not cache.has(ptr.oid):
            continue
        todo[rel] = ptr.oid
    if not todo:
        return []
    _forget_stat(repo, git.index_entries(repo, [":(literal)" + p for p in todo]))
    for rel in todo:
        full = repo.root / rel
        linker.place(cache.whole(todo[rel]), str(full), isexec=os.access(full, os.X_OK))
    _refresh_index(repo, todo)
    return list(todo)


def _forget_stat(repo: git.Repo, entries: Iterable[tuple[str, str, str]]) -> None:
    """Re-add index entries (mode, sha, path) without stat data, before their pointers are
    replaced by content: git keeps the pointer's size in the index and never re-reads a
    file whose size differs, but compares content for an entry of size 0. So a kill at any
    moment after this leaves `git status` right, and no rerun (which finds no pointer
    left) needs to fix the index."""
    info = "".join(f"{mode} {sha}\t{path}\0" for mode, sha, path in entries)
    if info:
        repo.git("update-index", "-z", "--index-info",
                 input=info.encode("utf-8", "surrogateescape"))


def _refresh_index(repo: git.Repo, linked: dict[str, str]) -> None:
    """Record the stat data of the linked files (whose entries `_forget_stat` reset):
    `--refresh` cleans them, gets the same pointers, and so `git status` stays clean and
    fast. Clean hints first, so that clean hashes big files without storing them again."""
    from .filters import HINT_FROM
    from .state import State

    hints = State(repo.datavc_dir / "state.db", table="clean_hints")
    try:
        for rel, oid in linked.items():
            st = os.stat(repo.root / rel)
            if st.st_size >= HINT_FROM:
                hints.put(st, oid)
    finally:
        hints.close()
    repo.git("update-index", "-q", "--refresh", check=False)


def sync(repo: git.Repo) -> list[str]:
    """Link what smudge left as pointers (after a checkout that ran the hook)."""
    paths = take_smudged(repo.git_dir)
    if not paths:
        return []
    from . import config

    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    linker = link_mode(repo, settings, cache.root)
    if linker is None:
        return []
    return place_links(repo, linker, cache, paths)


@dataclass
class Restored:
    """What `restore_pointers` did: paths placed, kept (edited by the user), missing."""
    placed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def restore_pointers(repo: git.Repo) -> Restored:
    """Turn every filter-tracked workspace file that is still a pointer into its content.

    A clone made where the drivers were not configured (or a lost cache) leaves pointers
    that git considers up to date, so no git command will ever smudge them again. Only a
    file whose bytes are exactly its index entry's pointer is replaced: a pointer the user
    edited is theirs (kept), and a file that does not parse as a pointer is content.
    Links when the hook-driven link mode applies, else copies.
    """
    from . import config

    take_smudged(repo.git_dir)  # the scan below covers every path smudge noted
    found: dict[str, tuple[pointer.Pointer, str, str, bytes]] = {}
    for mode, sha, rel in git.index_entries(repo, [":(attr:filter=datavc)"]):
        if mode not in ("100644", "100755"):
            continue
        full = repo.root / rel
        try:
            if full.is_symlink() or full.stat().st_size > pointer.MAX_SIZE:
                continue
            data = full.read_bytes()
        except OSError:
            continue
        ptr = pointer.parse(data)
        if ptr is not None:
            found[rel] = (ptr, sha, mode, data)
    result = Restored()
    if not found:
        return result
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    linker = link_mode(repo, settings, cache.root) or Linker(["copy"], settings.protected)
    indexed = git.read_blobs(repo, sorted({sha for _, sha, _, _ in found.values()}))
    done: dict[str, str] = {}
    for rel, (ptr, sha, mode, data) in sorted(found.items()):
        if indexed.get(sha) != data:
            result.kept.append(rel)
        elif not cache.has(ptr.oid):
            result.missing.append(rel)
        else:
            done[rel] = ptr.oid
    if done:
        _forget_stat(repo, [(found[rel][2], found[rel][1], rel) for rel in done])
        for rel, oid in done.items():
            linker.place(cache.whole(oid), str(repo.root / rel),
                         isexec=found[rel][2] == "100755")
        _refresh_index(repo, done)
    result.placed = list(done)
    return result
