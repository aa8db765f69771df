"""The linked workspace: the cache, link settings and stat cache that `add`, `checkout`,
`status` and the hooks share, plus the record of what each out last had checked out.

The record (`<git-dir>/datavc/workspace.json`, per worktree) maps each out's repo-relative
path to the object id last placed there, so a switch between two versions only touches
the files whose entries differ between the two manifests.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from . import config, git, metafile
from .cache import Cache
from .errors import DatavcError, UnsafePath
from .hashing import hash_file
from .links import Linker
from .metafile import Entry, Out
from .state import State, inode_key, lookup


@dataclass
class Workspace:
    repo: git.Repo
    settings: config.Settings
    cache: Cache
    state: State
    linker: Linker
    _known: dict[int, tuple[int, int, int, str]] | None = field(default=None, repr=False)
    ready_dirs: set[str] = field(default_factory=set, repr=False)  # checkout: checked folders

    @classmethod
    def open(cls, repo: git.Repo | None = None) -> "Workspace":
        repo = repo or git.find_repo()
        settings = config.load(repo.root)
        return cls(repo, settings, Cache(config.cache_root(repo, settings)),
                   State(repo.datavc_dir / "state.db"),
                   Linker(settings.cache_types, settings.protected))

    def close(self) -> None:
        self.state.close()

    # --- what is known about workspace files ------------------------------------------

    def preload_state(self) -> None:
        """Load the whole stat cache at once: cheaper than a query per file in big scans."""
        if self._known is None:
            self._known = self.state.snapshot()

    def known_oid(self, st: os.stat_result) -> str | None:
        if self._known is None:
            return self.state.get(st)
        return lookup(self._known, st)

    def remember(self, path: str | os.PathLike[str], oid: str) -> None:
        self.remember_many([(path, oid)])

    def remember_many(self, items: Sequence[tuple[str | os.PathLike[str], str]]) -> None:
        """Record that these files hold these objects, as they are on disk now."""
        rows = [(os.stat(path), oid) for path, oid in items]
        self.state.put_many(rows)
        if self._known is not None:
            for st, oid in rows:
                self._known[inode_key(st)] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, oid)

    def file_oid(self, path: str, st: os.stat_result | None = None) -> str:
        """The object id of a workspace file, from the stat cache or by hashing it."""
        st = st or os.stat(path)
        oid = self.known_oid(st)
        if oid is None:
            oid = hash_file(path)[0]
            after = os.stat(path)
            if (after.st_mtime_ns, after.st_size) == (st.st_mtime_ns, st.st_size):
                self.state.put(after, oid)
        return oid

    def disposable(self, path: str) -> bool:
        """Can this workspace file go without losing data: its bytes are in the cache."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return True
        if stat.S_ISLNK(st.st_mode):
            return True
        if not stat.S_ISREG(st.st_mode):
            return False
        return self.cache.has(self.file_oid(path, st))

    # --- paths ------------------------------------------------------------------------

    def walk(self, top: str | os.PathLike[str], skipped: list[str] | None = None
             ) -> Iterator[tuple[str, str, os.stat_result]]:
        """walk_files, counting links into this cache as the files they stand for."""
        return walk_files(top, skipped, self.cache._objects + os.sep)

    def relpath(self, path: Path) -> str:
        return path.relative_to(self.repo.root).as_posix()

    def out_abspath(self, mfile: Path, out: Out) -> Path:
        """Where an out lives; refuses paths through symlinked directories or into .git."""
        path = mfile.parent / out.path
        check_inside(self.repo.root, path)
        return path

    # --- records ----------------------------------------------------------------------

    @property
    def _record_path(self) -> Path:
        return self.repo.git_dir / "datavc" / "workspace.json"

    def records(self) -> dict[str, str]:
        try:
            data = json.loads(self._record_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save_records(self, records: dict[str, str]) -> None:
        path = self._record_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"workspace.json.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(records, sort_keys=True, indent=0))
        os.replace(tmp, path)

    # --- manifests --------------------------------------------------------------------

    def manifest(self, oid: str) -> list[Entry] | None:
        """A directory's entries, or None when its manifest is not in the cache."""
        items = self.manifest_items(oid)
        return None if items is None else metafile.entries_from_items(items)

    def manifest_items(self, oid: str) -> list[dict[str, object]] | None:
        """A manifest's entries as the JSON mappings they are (cheap to compare)."""
        if not self.cache.has(oid):
            return None
        with self.cache.open(oid) as f:
            data = f.read()
            st = os.fstat(f.fileno())
        # Once a manifest's paths passed the checks, a later read of the same unchanged
        # file skips them (0.3 s for 50,000 entries); any write to it changes its ctime.
        key = _manifest_key(oid, st)
        if self.state.is_valid_manifest(key):
            return metafile.manifest_items(data)
        metafile.decode_manifest(data, f"manifest {oid[:12]}")
        self.state.mark_valid_manifest(key)
        return metafile.manifest_items(data)

    def mark_manifest_checked(self, oid: str) -> None:
        """`add` built this manifest from names it checked: its first read skips the checks."""
        self.state.mark_valid_manifest(_manifest_key(oid, os.stat(self.cache.path_str(oid))))

    def entries_of(self, out: Out) -> list[Entry] | None:
        if out.is_dir:
            return self.manifest(out.oid)
        return [Entry("", out.oid, out.size)]


def check_inside(root: Path, path: Path) -> None:
    """`path` must be below `root` without passing through a symlink or a .git directory."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise UnsafePath(f"{path} is outside the repository") from None
    current = root
    for part in rel.parts[:-1]:
        if part.lower() == ".git":
            raise UnsafePath(f"{rel.as_posix()} points into .git")
        current = current / part
        if current.is_symlink():
            raise UnsafePath(f"{rel.as_posix()} passes through the symlinked directory "
                             f"{current.relative_to(root).as_posix()}")
    if rel.parts and rel.parts[-1].lower() == ".git":
        raise UnsafePath(f"{rel.as_posix()} points into .git")


def _manifest_key(oid: str, st: os.stat_result) -> str:
    return f"{oid}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def walk_files(top: str | os.PathLike[str], skipped: list[str] | None = None,
               cache_links: str | None = None) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relpath, abspath, stat) of the regular files below `top`. Symlinks are not
    followed (a link could point outside the repository) but listed in `skipped`, except
    those into the cache's object folder `cache_links` (what the symlink cache type
    placed): they are files, with the stat of the object. `.git` folders are skipped."""
    stack = [("", str(top))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name == ".git" or ".datavc-tmp" in entry.name:
                    continue
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield rel, entry.path, entry.stat(follow_symlinks=False)
                elif entry.is_symlink():
                    if cache_links and os.readlink(entry.path).startswith(cache_links):
                        try:
                            yield rel, entry.path, os.stat(entry.path)
                            continue
                        except OSError:
                            pass  # a dangling link into the cache: the object is gone
                    if skipped is not None:
                        skipped.append(rel)


def metafiles_in(repo: git.Repo, paths: list[str] | None = None) -> list[Path]:
    """Metafiles in the work tree (committed or not, ignored ones left out)."""
    spec = paths or ["*" + metafile.SUFFIX]
    out = repo.git("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *spec)
    found = sorted({p for p in out.decode().split("\0") if p.endswith(metafile.SUFFIX)})
    return [repo.root / p for p in found if (repo.root / p).is_file()]


def targets_to_metafiles(ws: Workspace, targets: Sequence[str]) -> list[Path]:
    """Metafiles named directly, or by their data path, or all below a directory."""
    if not targets:
        return metafiles_in(ws.repo)
    found: list[Path] = []
    for target in targets:
        path = Path(os.path.abspath(target))
        if path.name.endswith(metafile.SUFFIX) and path.is_file():
            found.append(path)
        elif path.with_name(path.name + metafile.SUFFIX).is_file():
            found.append(path.with_name(path.name + metafile.SUFFIX))
        elif path.is_dir():
            rel = path.relative_to(ws.repo.root).as_posix()
            found += metafiles_in(ws.repo, [f"{rel}/*{metafile.SUFFIX}" if rel != "." else
                                            f"*{metafile.SUFFIX}"])
        else:
            raise DatavcError(f"{target}: no metafile tracks it")
    return list(dict.fromkeys(found))


def lock_outs(ws: "Workspace") -> list[tuple[Path, Out]]:
    """The cached stage outs recorded in the work tree's datavc.lock (paths from the root)."""
    path = ws.repo.root / "datavc.lock"
    if not path.is_file():
        return []
    from . import lockfile

    outs = []
    for stage in lockfile.read(path).values():
        for out in stage.cached_outs():
            full = ws.repo.root / out.path
            check_inside(ws.repo.root, full)
            outs.append((full, out))
    return outs


def load_metafile(ws: Workspace, path: Path) -> list[Out]:
    try:
        check_inside(ws.repo.root, path)
        return metafile.load(path)
    except UnsafePath as e:
        raise UnsafePath(f"{ws.relpath(path) if path.is_absolute() else path}: {e.message}") from None

