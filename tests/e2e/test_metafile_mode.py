"""Metafile mode end to end (DESIGN.md sections 2, 3, 5, 7, 8; issue 3): `git datavc add` of
files and directories, the linked workspace for every cache type, checkout through git's
hooks, status, diff, commit, bad input, worktrees, subdirectories and a kill -9 in `add`."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection

import blake3
import pytest
import yaml

from tests.helpers import cache_object, datavc, git, run

LINK_TYPES = ("hardlink", "symlink", "copy")
DEFAULT_TYPE = "reflink,copy"  # reflink does not work on this filesystem: copy it is


# --- helpers -------------------------------------------------------------------------

def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def content(seed: str, size: int = 1500) -> bytes:
    """Deterministic pseudo-random bytes, different for every seed."""
    return blake3.blake3(seed.encode()).digest(length=size)


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    """{relpath: bytes} of every file below root (a symlinked file is read through)."""
    tree = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            tree[path.relative_to(root).as_posix()] = path.read_bytes()
    return tree


def apply_version(root: Path, old: dict[str, bytes], new: dict[str, bytes]) -> None:
    """Edit the files below root from `old` to `new` as a user would (folders emptied go)."""
    for rel in old.keys() - new.keys():
        (root / rel).unlink()
        folder = (root / rel).parent
        while folder != root and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    write_files(root, {rel: data for rel, data in new.items() if old.get(rel) != data})


def set_cache_type(repo: Path, kind: str) -> None:
    (repo / ".datavc" / "config.local").write_text(f"[cache]\n\ttype = {kind}\n")


def cache_dir(repo: Path) -> Path:
    return repo / ".git" / "datavc" / "cache" / "files" / "blake3"


def objects(repo: Path) -> set[str]:
    """Every object id in the cache (a manifest keeps its .dir suffix)."""
    top = cache_dir(repo)
    if not top.is_dir():
        return set()
    return {prefix.name + obj.name for prefix in top.iterdir() for obj in prefix.iterdir()}


def put_object(repo: Path, data: bytes, suffix: str = "") -> str:
    """Write an object into the cache under its correct name, as a crafted input."""
    oid = b3(data) + suffix
    path = cache_object(repo, oid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o444)
    return oid


def outs_of(metafile: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(metafile.read_text())["outs"]


def manifest_of(repo: Path, oid: str) -> list[dict[str, Any]]:
    return json.loads(cache_object(repo, oid).read_bytes())


def canonical_manifest(files: dict[str, bytes], executable: Collection[str] = ()) -> bytes:
    entries = [{"blake3": b3(data), "relpath": rel, "size": len(data),
                **({"isexec": True} if rel in executable else {})}
               for rel, data in sorted(files.items())]
    return json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def status(cwd: Path) -> dict[str, list[str]]:
    return json.loads(datavc(cwd, "status", "--json").stdout)


def commit(repo: Path, message: str, *paths: str) -> str:
    git(repo, "add", "-A", "--", *paths)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def assert_one_error(result: subprocess.CompletedProcess[str]) -> None:
    """DESIGN.md section 7: exit 1, a one-line `error: ...`, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr


def assert_linked(repo: Path, root: Path, kind: str) -> None:
    """Every file below root is placed from the cache with the link type `kind`."""
    for rel, data in read_tree(root).items():
        path, obj = root / rel, cache_object(repo, b3(data))
        assert obj.is_file(), f"{rel}: not in the cache"
        if kind == "hardlink":
            assert not path.is_symlink() and path.stat().st_ino == obj.stat().st_ino, rel
        elif kind == "symlink":
            assert path.is_symlink() and path.resolve() == obj.resolve(), rel
        else:
            assert not path.is_symlink() and path.stat().st_ino != obj.stat().st_ino, rel


def assert_cache_intact(repo: Path) -> None:
    for oid in objects(repo):
        data = cache_object(repo, oid).read_bytes()
        assert b3(data) == oid.removesuffix(".dir"), f"object {oid} was changed"
    datavc(repo, "verify")


@pytest.fixture
def base(repo: Path) -> Path:
    """`repo` with its datavc setup (.datavc/, .gitattributes) committed."""
    commit(repo, "setup")
    return repo


# --- add: metafile, manifest, .gitignore, cache --------------------------------------

DATA = {
    "a.txt": content("a"),
    "b.txt": content("b", 0),
    "sub/c.txt": content("c"),
    "sub/deep/d.txt": content("d", 70_000),
    "données/é.txt": content("é"),
    "run.sh": b"#!/bin/sh\necho hi\n",
}


def test_add_directory_writes_metafile_manifest_gitignore_and_objects(base: Path) -> None:
    repo = base
    write_files(repo / "data", DATA)
    (repo / "data" / "run.sh").chmod(0o755)
    datavc(repo, "add", "data")

    manifest = canonical_manifest(DATA, executable={"run.sh"})
    dir_oid = b3(manifest) + ".dir"
    assert outs_of(repo / "data.datavc") == [{
        "path": "data", "blake3": dir_oid, "size": sum(map(len, DATA.values())),
        "nfiles": len(DATA)}]
    obj = cache_object(repo, dir_oid)
    assert obj.name.endswith(".dir") and obj.read_bytes() == manifest
    for rel, data in DATA.items():
        assert cache_object(repo, b3(data)).read_bytes() == data, rel
    assert objects(repo) == {b3(d) for d in DATA.values()} | {dir_oid}
    for oid in objects(repo):
        assert stat.S_IMODE(cache_object(repo, oid).stat().st_mode) == 0o444, oid

    assert (repo / ".gitignore").read_text().splitlines() == ["/data"]
    assert read_tree(repo / "data") == DATA, "the workspace keeps every byte"
    assert git(repo, "status", "--porcelain", "--untracked-files=all").stdout.splitlines() \
        == ["?? .gitignore", "?? data.datavc"]


def test_add_again_is_idempotent(base: Path) -> None:
    repo = base
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    first = (repo / "data.datavc").read_text(), objects(repo)
    datavc(repo, "add", "data")
    assert ((repo / "data.datavc").read_text(), objects(repo)) == first
    assert (repo / ".gitignore").read_text().splitlines() == ["/data"]


@pytest.mark.parametrize("name", ["my data", "set[1]", "#notes", "!keep", "50%*?"])
def test_add_awkward_names_are_ignored_exactly(base: Path, name: str) -> None:
    repo = base
    write_files(repo / name, {"f.txt": b"x"})
    (repo / "set1").mkdir()
    (repo / "set1" / "other.txt").write_text("not data")
    datavc(repo, "add", name)
    assert outs_of(repo / f"{name}.datavc")[0]["path"] == name
    untracked = git(repo, "status", "--porcelain", "--untracked-files=all", "-z").stdout
    assert sorted(filter(None, untracked.split("\0"))) == \
        sorted(["?? .gitignore", f"?? {name}.datavc", "?? set1/other.txt"])


def test_add_single_file_in_a_subdirectory(base: Path) -> None:
    repo = base
    data = content("weights", 100_000)
    write_files(repo, {"models/weights.pt": data, "models/readme.md": b"keep in git"})
    datavc(repo, "add", "models/weights.pt")
    assert outs_of(repo / "models" / "weights.pt.datavc") == [
        {"path": "weights.pt", "blake3": b3(data), "size": len(data)}]
    assert (repo / "models" / ".gitignore").read_text().splitlines() == ["/weights.pt"]
    assert not (repo / ".gitignore").exists()
    assert cache_object(repo, b3(data)).read_bytes() == data
    assert (repo / "models" / "weights.pt").read_bytes() == data
    assert git(repo, "check-ignore", "-q", "models/weights.pt", check=False).returncode == 0
    assert git(repo, "check-ignore", "-q", "models/readme.md", check=False).returncode == 1


def _outside(repo: Path) -> list[str]:
    outside = repo.parent / "outside"
    write_files(outside, {"f.txt": b"outside"})
    return ["add", "../outside"]


def _nested_in_one_call(repo: Path) -> list[str]:
    return ["add", "d", "d/sub"]


def _inside_tracked(repo: Path) -> list[str]:
    datavc(repo, "add", "d")
    return ["add", "d/sub"]


def _around_tracked(repo: Path) -> list[str]:
    datavc(repo, "add", "d/sub")
    return ["add", "d"]


def _file_in_git(repo: Path) -> list[str]:
    write_files(repo, {"tracked.txt": b"in git"})
    commit(repo, "tracked", "tracked.txt")
    return ["add", "tracked.txt"]


def _dir_with_file_in_git(repo: Path) -> list[str]:
    commit(repo, "tracked", "d/sub/s.txt")
    return ["add", "d"]


def _the_metafile(repo: Path) -> list[str]:
    datavc(repo, "add", "d")
    return ["add", "d.datavc"]


@pytest.mark.parametrize("prepare", [
    _outside, _nested_in_one_call, _inside_tracked, _around_tracked, _file_in_git,
    _dir_with_file_in_git, _the_metafile])
def test_add_refuses_bad_targets(base: Path, prepare: Callable[[Path], list[str]]) -> None:
    repo = base
    write_files(repo / "d", {"x.txt": b"x", "sub/s.txt": b"s"})
    args = prepare(repo)

    def state() -> tuple[dict[str, bytes], set[str]]:
        files = {k: v for k, v in read_tree(repo.parent).items() if "/.git/" not in k}
        return files, objects(repo)

    before = state()
    result = datavc(repo, *args, check=False)
    assert_one_error(result)
    assert state() == before, "nothing written"


# --- cache types -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", LINK_TYPES)
def test_add_links_workspace_to_cache(base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", DATA)
    result = datavc(repo, "add", "data")
    assert "warning" not in result.stderr
    assert read_tree(repo / "data") == DATA
    assert_linked(repo, repo / "data", kind)
    for oid in objects(repo):
        assert stat.S_IMODE(cache_object(repo, oid).stat().st_mode) == 0o444, oid
    if kind != "copy":  # a linked file shares the cache object's read-only mode
        for rel in DATA:
            assert (repo / "data" / rel).stat().st_mode & 0o222 == 0, rel


def test_default_cache_type_falls_back_to_copy_silently(base: Path) -> None:
    repo = base
    write_files(repo / "data", DATA)
    result = datavc(repo, "add", "data")
    assert "warning" not in result.stderr and "error" not in result.stderr, result.stderr
    assert read_tree(repo / "data") == DATA
    assert_linked(repo, repo / "data", "copy")


@pytest.mark.parametrize("kind", ["copy", DEFAULT_TYPE])
def test_add_keeps_executable_bit_of_copies(base: Path, kind: str) -> None:
    """A workspace file that is a copy keeps the user's mode; the manifest records isexec."""
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", {"run.sh": b"#!/bin/sh\n", "plain.txt": b"x"})
    (repo / "data" / "run.sh").chmod(0o755)
    datavc(repo, "add", "data")
    assert os.access(repo / "data" / "run.sh", os.X_OK), \
        oct((repo / "data" / "run.sh").stat().st_mode)
    assert not os.access(repo / "data" / "plain.txt", os.X_OK)
    entries = manifest_of(repo, outs_of(repo / "data.datavc")[0]["blake3"])
    assert [e.get("isexec", False) for e in entries] == [False, True]


@pytest.mark.parametrize("kind", LINK_TYPES)
def test_unprotect_gives_a_writable_copy_and_editing_it_spares_the_cache(
        base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    target = repo / "data" / "a.txt"
    obj = cache_object(repo, b3(DATA["a.txt"]))

    datavc(repo, "unprotect", "data/a.txt")
    st = os.lstat(target)
    assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_ino != obj.stat().st_ino
    assert st.st_mode & 0o200, oct(st.st_mode)
    assert target.read_bytes() == DATA["a.txt"]
    with open(target, "r+b") as f:  # in place, as an editor that does not rename would
        f.write(b"EDITED")
    target.write_bytes(target.read_bytes() + b" and more")

    assert obj.read_bytes() == DATA["a.txt"]
    assert_cache_intact(repo)


@pytest.mark.parametrize("kind", LINK_TYPES)
def test_unprotect_a_directory(base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    datavc(repo, "unprotect", "data")
    for rel in DATA:
        st = os.lstat(repo / "data" / rel)
        assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_mode & 0o200, \
            f"{rel}: {'a symlink' if stat.S_ISLNK(st.st_mode) else oct(st.st_mode)}"
    assert read_tree(repo / "data") == DATA
    for rel in DATA:
        with open(repo / "data" / rel, "ab") as f:
            f.write(b" edited")
    assert_cache_intact(repo)


def test_writing_a_copy_directly_leaves_the_cache_intact(base: Path) -> None:
    repo = base
    set_cache_type(repo, "copy")
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    with open(repo / "data" / "a.txt", "r+b") as f:
        f.write(b"EDITED")
    assert_cache_intact(repo)
    assert status(repo)["modified"] == ["data/a.txt"]


# --- status and re-add -------------------------------------------------------------------

MANY = {f"f{i:03d}.txt": content(f"many{i}", 100 + i) for i in range(200)}


def _edit(repo: Path, rel: str, data: bytes | None) -> None:
    """Change (or, with None, delete) a workspace file the safe way: unprotect first."""
    path = repo / rel
    if data is None:
        path.unlink()
        return
    if path.exists():
        datavc(repo, "unprotect", rel)
    path.write_bytes(data)


@pytest.mark.parametrize("kind", LINK_TYPES)
def test_status_lists_modified_added_deleted(base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", MANY)
    datavc(repo, "add", "data")
    assert not any(status(repo).values()), status(repo)

    _edit(repo, "data/f123.txt", b"changed")
    assert status(repo) == {**_empty_status(), "modified": ["data/f123.txt"]}
    _edit(repo, "data/new.txt", b"new")
    _edit(repo, "data/f000.txt", None)
    assert status(repo) == {**_empty_status(), "modified": ["data/f123.txt"],
                            "added": ["data/new.txt"], "deleted": ["data/f000.txt"]}
    text = datavc(repo, "status").stdout
    for rel in ("data/f123.txt", "data/new.txt", "data/f000.txt"):
        assert rel in text


def _empty_status() -> dict[str, list[str]]:
    return {k: [] for k in ("staged", "added", "modified", "deleted", "not_checked_out",
                            "not_in_cache", "left_out")}


@pytest.mark.parametrize("kind", LINK_TYPES)
def test_readd_stores_only_the_changed_file(base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", MANY)
    datavc(repo, "add", "data")
    before = objects(repo)
    assert len(before) == 201

    _edit(repo, "data/f123.txt", b"changed")
    datavc(repo, "add", "data")
    expected = {**MANY, "f123.txt": b"changed"}
    dir_oid = outs_of(repo / "data.datavc")[0]["blake3"]
    assert cache_object(repo, dir_oid).read_bytes() == canonical_manifest(expected)
    assert objects(repo) - before == {b3(b"changed"), dir_oid}
    assert outs_of(repo / "data.datavc")[0]["nfiles"] == 200
    assert read_tree(repo / "data") == expected
    assert not any(status(repo).values())


# --- two committed versions, switched by git's hooks --------------------------------------

V1 = {
    "a.txt": content("a1"),
    "b.txt": content("b"),
    "gone.txt": content("gone"),
    "olddir/x.txt": content("x"),
    "sub/c.txt": content("c1"),
    "sub/deep/d.txt": content("d"),
    **{f"same/{i:02d}.txt": content(f"same{i}") for i in range(10)},
}
V2 = {
    **{k: v for k, v in V1.items() if k not in ("gone.txt", "olddir/x.txt")},
    "a.txt": content("a2"),
    "sub/c.txt": content("c2"),
    "new.txt": content("new"),
    "newdir/e.txt": content("e"),
}
UNCHANGED = sorted(k for k in V1 if V2.get(k) == V1[k])
BINS_V1 = {"model.bin": content("model1"), "old.bin": content("old")}
BINS_V2 = {"model.bin": content("model2"), "new.bin": content("newbin")}


@dataclass
class Versions:
    repo: Path
    kind: str
    c1: str
    c2: str


def make_versions(repo: Path, kind: str, bins: bool = False) -> Versions:
    """main: setup, then data = V1 (commit c1), then data = V2 (commit c2)."""
    set_cache_type(repo, kind)
    commit(repo, "setup")
    write_files(repo / "data", V1)
    if bins:
        write_files(repo, BINS_V1)
    datavc(repo, "add", "data")
    c1 = commit(repo, "v1")
    # Each file by name: this is the setup, not the test of unprotecting a directory.
    datavc(repo, "unprotect", *(f"data/{rel}" for rel in V1))
    apply_version(repo / "data", V1, V2)
    if bins:
        apply_version(repo, BINS_V1, BINS_V2)
    datavc(repo, "add", "data")
    c2 = commit(repo, "v2")
    assert read_tree(repo / "data") == V2
    return Versions(repo, kind, c1, c2)


@pytest.fixture(params=LINK_TYPES)
def versions(repo: Path, request: pytest.FixtureRequest) -> Versions:
    return make_versions(repo, request.param)


@pytest.fixture
def copies(repo: Path) -> Versions:
    return make_versions(repo, "copy")


def test_checkout_switches_between_versions_through_the_hook(versions: Versions) -> None:
    repo = versions.repo
    kind = versions.kind
    git(repo, "checkout", "-q", "HEAD~1")
    assert read_tree(repo / "data") == V1
    assert not (repo / "data" / "newdir").exists(), "a folder emptied by the switch goes"
    assert_linked(repo, repo / "data", kind)

    git(repo, "checkout", "-q", "main")
    assert read_tree(repo / "data") == V2
    assert not (repo / "data" / "olddir").exists()
    assert_linked(repo, repo / "data", kind)
    assert_cache_intact(repo)


def test_status_clean_after_switching(versions: Versions) -> None:
    repo = versions.repo
    git(repo, "checkout", "-q", "HEAD~1")
    assert not any(status(repo).values()), status(repo)
    git(repo, "checkout", "-q", "main")
    assert not any(status(repo).values()), status(repo)


def test_switch_touches_only_changed_files(copies: Versions) -> None:
    repo = copies.repo
    inodes = {rel: (repo / "data" / rel).stat().st_ino for rel in UNCHANGED}
    git(repo, "checkout", "-q", "HEAD~1")
    assert {rel: (repo / "data" / rel).stat().st_ino for rel in UNCHANGED} == inodes
    git(repo, "checkout", "-q", "main")
    assert {rel: (repo / "data" / rel).stat().st_ino for rel in UNCHANGED} == inodes
    assert read_tree(repo / "data") == V2


def test_branch_checkout_and_fast_forward_merge(copies: Versions) -> None:
    repo = copies.repo
    git(repo, "checkout", "-q", "-b", "old", copies.c1)
    assert read_tree(repo / "data") == V1
    git(repo, "merge", "-q", "--ff-only", "main")
    assert git(repo, "rev-parse", "HEAD").stdout.strip() == copies.c2
    assert read_tree(repo / "data") == V2, "post-merge brought version 2"


def test_rebase_onto_older_data(copies: Versions) -> None:
    repo = copies.repo
    git(repo, "checkout", "-q", "-b", "topic")
    write_files(repo, {"notes.txt": b"notes"})
    commit(repo, "notes", "notes.txt")
    git(repo, "rebase", "-q", "--onto", copies.c1, copies.c2, "topic")
    assert git(repo, "rev-parse", "HEAD~1").stdout.strip() == copies.c1
    assert read_tree(repo / "data") == V1
    assert (repo / "notes.txt").read_bytes() == b"notes"


def test_amend_syncs_through_post_rewrite(copies: Versions) -> None:
    """`git commit --amend` runs no post-checkout: only post-rewrite can bring the data."""
    repo = copies.repo
    (repo / "data.datavc").write_text(git(repo, "show", f"{copies.c1}:data.datavc").stdout)
    write_files(repo, {"notes.txt": b"back to version 1"})
    git(repo, "add", "data.datavc", "notes.txt")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    assert read_tree(repo / "data") == V1


# --- checkout: modified files, missing objects, relink ------------------------------------

@pytest.mark.parametrize("kind", LINK_TYPES)
def test_checkout_never_overwrites_a_modified_file_without_force(base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    commit(repo, "data")
    _edit(repo, "data/a.txt", b"my precious edit")
    _edit(repo, "data/sub/c.txt", None)

    result = datavc(repo, "checkout", check=False)
    assert "Traceback" not in result.stderr
    assert "data/a.txt" in result.stderr, result.stderr
    assert (repo / "data" / "a.txt").read_bytes() == b"my precious edit"
    assert (repo / "data" / "sub" / "c.txt").read_bytes() == DATA["sub/c.txt"], "others go on"

    datavc(repo, "checkout", "--force")
    assert read_tree(repo / "data") == DATA
    assert_linked(repo, repo / "data", kind)
    assert_cache_intact(repo)


@pytest.mark.parametrize("kind", LINK_TYPES)
def test_checkout_restores_a_deleted_file_of_a_directory(base: Path, kind: str) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    (repo / "data" / "sub" / "c.txt").unlink()
    datavc(repo, "checkout")
    assert read_tree(repo / "data") == DATA
    assert_linked(repo, repo / "data", kind)


def test_checkout_after_a_checkout_without_hooks_keeps_a_modified_file(copies: Versions) -> None:
    """`git datavc checkout` repairs what a command that runs no hook left behind, and
    still leaves a file with bytes that are in no cache alone."""
    repo = copies.repo
    (repo / "data" / "a.txt").write_bytes(b"my precious edit")  # differs between versions
    git(repo, "-c", "core.hooksPath=no-hooks-here", "checkout", "-q", "HEAD~1")
    assert read_tree(repo / "data")["sub/c.txt"] == V2["sub/c.txt"], "no hook ran"
    result = datavc(repo, "checkout", check=False)
    assert "Traceback" not in result.stderr
    assert "data/a.txt" in result.stderr, result.stderr
    assert read_tree(repo / "data") == {**V1, "a.txt": b"my precious edit"}
    datavc(repo, "checkout", "--force")
    assert read_tree(repo / "data") == V1


def test_branch_switch_keeps_a_modified_file_and_user_files(copies: Versions) -> None:
    repo = copies.repo
    (repo / "data" / "a.txt").write_bytes(b"my precious edit")  # differs between versions
    (repo / "data" / "mine.txt").write_bytes(b"mine, not tracked")
    result = git(repo, "checkout", "-q", "HEAD~1")
    assert "data/a.txt" in result.stderr, result.stderr
    assert read_tree(repo / "data") == {**V1, "a.txt": b"my precious edit",
                                        "mine.txt": b"mine, not tracked"}
    datavc(repo, "checkout", "--force", "data")
    assert (repo / "data" / "a.txt").read_bytes() == V1["a.txt"]


def test_checkout_lists_missing_objects_and_places_the_rest(base: Path) -> None:
    repo = base
    set_cache_type(repo, "copy")
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    commit(repo, "data")
    cache_object(repo, b3(DATA["sub/c.txt"])).unlink()
    run(["rm", "-rf", "data"], repo)

    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert "data/sub/c.txt" in result.stderr
    assert read_tree(repo / "data") == {k: v for k, v in DATA.items() if k != "sub/c.txt"}
    assert "data/sub/c.txt" in status(repo)["not_in_cache"]


def test_checkout_relink_after_changing_cache_type(base: Path) -> None:
    repo = base
    set_cache_type(repo, "copy")
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    assert_linked(repo, repo / "data", "copy")
    set_cache_type(repo, "hardlink")
    datavc(repo, "checkout", "--relink")
    assert read_tree(repo / "data") == DATA
    assert_linked(repo, repo / "data", "hardlink")
    assert_cache_intact(repo)


def test_checkout_restores_a_deleted_directory_and_file(base: Path) -> None:
    repo = base
    write_files(repo, {"data/x.txt": b"x", "model.pt": b"weights"})
    datavc(repo, "add", "data", "model.pt")
    run(["rm", "-rf", "data", "model.pt"], repo)
    datavc(repo, "checkout")
    assert read_tree(repo / "data") == {"x.txt": b"x"}
    assert (repo / "model.pt").read_bytes() == b"weights"


# --- diff and commit -----------------------------------------------------------------------

def test_diff_between_commits_inside_directories_and_filter_tracked(repo: Path) -> None:
    make_versions(repo, "copy", bins=True)
    result = json.loads(datavc(repo, "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert result == {
        "added": ["data/new.txt", "data/newdir/e.txt", "new.bin"],
        "modified": ["data/a.txt", "data/sub/c.txt", "model.bin"],
        "deleted": ["data/gone.txt", "data/olddir/x.txt", "old.bin"],
    }
    back = json.loads(datavc(repo, "diff", "HEAD", "HEAD~1", "--json").stdout)
    assert back == {"added": result["deleted"], "modified": result["modified"],
                    "deleted": result["added"]}
    assert json.loads(datavc(repo, "diff", "HEAD", "HEAD", "--json").stdout) == \
        {"added": [], "modified": [], "deleted": []}


def test_diff_head_against_workspace(repo: Path) -> None:
    make_versions(repo, "copy", bins=True)
    assert json.loads(datavc(repo, "diff", "--json").stdout) == \
        {"added": [], "modified": [], "deleted": []}
    (repo / "data" / "a.txt").write_bytes(b"edited")
    (repo / "data" / "b.txt").unlink()
    (repo / "data" / "sub" / "z.txt").write_bytes(b"new")
    (repo / "model.bin").write_bytes(b"new model")
    assert json.loads(datavc(repo, "diff", "--json").stdout) == {
        "added": ["data/sub/z.txt"], "modified": ["data/a.txt", "model.bin"],
        "deleted": ["data/b.txt"]}
    text = datavc(repo, "diff").stdout
    assert "data/sub/z.txt" in text and "data/b.txt" in text


def test_commit_records_workspace_contents(base: Path) -> None:
    repo = base
    set_cache_type(repo, "copy")
    write_files(repo / "data", DATA)
    datavc(repo, "add", "data")
    commit(repo, "data")
    old = outs_of(repo / "data.datavc")[0]["blake3"]

    edited = {**DATA, "a.txt": b"edited", "new.txt": b"new"}
    del edited["b.txt"]
    apply_version(repo / "data", DATA, edited)
    datavc(repo, "commit")
    out = outs_of(repo / "data.datavc")[0]
    assert out["blake3"] != old
    assert out["blake3"] == b3(canonical_manifest(edited)) + ".dir"
    assert (out["size"], out["nfiles"]) == (sum(map(len, edited.values())), len(edited))
    assert cache_object(repo, b3(b"new")).read_bytes() == b"new"
    assert not any(status(repo).values())
    assert git(repo, "status", "--porcelain").stdout == " M data.datavc\n"


# --- bad input -----------------------------------------------------------------------------

PAYLOAD = b"payload that must not escape"


def _write_metafile(repo: Path, name: str, out_path: str, oid: str, size: int = len(PAYLOAD),
                    nfiles: int | None = 1) -> None:
    text = f"outs:\n- path: {json.dumps(out_path)}\n  blake3: {oid}\n  size: {size}\n"
    if nfiles is not None:
        text += f"  nfiles: {nfiles}\n"
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)


def _dir_object(repo: Path, relpath: str = "f.txt") -> str:
    put_object(repo, PAYLOAD)
    entries = [{"blake3": b3(PAYLOAD), "relpath": relpath, "size": len(PAYLOAD)}]
    return put_object(repo, json.dumps(entries, separators=(",", ":")).encode(), ".dir")


@pytest.mark.parametrize("out_path, escapes_to", [
    ("../outside", "../outside"),
    ("ABSOLUTE", "abs_target"),
    (".git/x", "repo/.git/x"),
    ("sub/../../escape", "../escape"),
    ("a/../data", "repo/data"),
    (".GIT/hooks", "repo/.git/hooks/f.txt"),
])
def test_checkout_refuses_unsafe_metafile_paths(base: Path, out_path: str,
                                               escapes_to: str) -> None:
    repo = base
    target = repo.parent / "abs_target"
    if out_path == "ABSOLUTE":
        out_path = str(target)  # a path of this temp dir, written at run time
    elif escapes_to.startswith("repo/"):
        target = repo / escapes_to.removeprefix("repo/")
    else:
        target = (repo / escapes_to).resolve()
    _write_metafile(repo, "evil.datavc", out_path, _dir_object(repo))
    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert not target.exists(), target
    assert not any(repo.parent.glob("**/f.txt"))


@pytest.mark.parametrize("relpath", ["../x", "../../x", "ABSOLUTE", "a/../../x", ".git/config",
                                     "a\\..\\..\\x"])
def test_checkout_refuses_unsafe_manifest_paths(base: Path, relpath: str) -> None:
    repo = base
    if relpath == "ABSOLUTE":
        relpath = str(repo.parent / "x")
    _write_metafile(repo, "data.datavc", "data", _dir_object(repo, relpath))
    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert not (repo / "x").exists() and not (repo.parent / "x").exists()
    assert not (repo / "data").exists(), "refused before anything is written"
    assert (repo / ".git" / "config").read_bytes().startswith(b"[core]")


@pytest.mark.parametrize("text", [
    "outs: [\n",
    "outs:\n- path: data\n  blake3: [unclosed\n",
    "outs:\n\t- path: data\n",
    "outs: 5\n",
    "- just a list\n",
    "",
    "outs:\n- path: data\n  blake3: nothex.dir\n  size: 1\n",
    "outs:\n- path: data\n  size: 1\n",
    "outs:\n- path: data\n  blake3: " + "a" * 64 + ".dir\n  size: -1\n",
    "outs:\n- path: 5\n  blake3: " + "a" * 64 + "\n  size: 1\n",
    "\xff\xfe garbage",
])
def test_checkout_refuses_malformed_metafiles(base: Path, text: str) -> None:
    repo = base
    (repo / "data.datavc").write_text(text, encoding="latin-1")
    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert not (repo / "data").exists()
    assert_one_error(datavc(repo, "status", check=False))


@pytest.mark.parametrize("manifest", [
    b"[{not json", b"{}", b"[1]", b'[{"relpath":"f.txt","size":1}]',
    b'[{"blake3":"%s","relpath":"f.txt","size":"1"}]' % (b"a" * 64),
    b'[{"blake3":"%s","relpath":"a","size":1},{"blake3":"%s","relpath":"a/b","size":1}]'
    % (b"a" * 64, b"a" * 64),
    b"\xff\xfe",
])
def test_checkout_refuses_malformed_manifests(base: Path, manifest: bytes) -> None:
    repo = base
    oid = put_object(repo, manifest, ".dir")
    _write_metafile(repo, "data.datavc", "data", oid)
    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert not (repo / "data").exists()


def test_checkout_refuses_out_through_symlinked_directory(base: Path) -> None:
    repo = base
    outside = repo.parent / "elsewhere"
    outside.mkdir()
    (repo / "link").symlink_to(outside)
    _write_metafile(repo, "x.datavc", "link/data", _dir_object(repo))
    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert list(outside.iterdir()) == []


def test_checkout_refuses_manifest_path_through_symlinked_directory(base: Path) -> None:
    repo = base
    outside = repo.parent / "elsewhere"
    outside.mkdir()
    (repo / "data").mkdir()
    (repo / "data" / "sub").symlink_to(outside)
    _write_metafile(repo, "data.datavc", "data", _dir_object(repo, "sub/f.txt"))
    result = datavc(repo, "checkout", check=False)
    assert_one_error(result)
    assert list(outside.iterdir()) == []
    assert os.path.islink(repo / "data" / "sub")


def test_symlinks_inside_an_added_directory_are_not_followed(base: Path) -> None:
    repo = base
    outside = repo.parent / "secrets"
    write_files(outside, {"key.txt": b"secret key", "more/deep.txt": b"deep secret"})
    write_files(repo / "data", {"real.txt": b"real"})
    (repo / "data" / "to_dir").symlink_to(outside)
    (repo / "data" / "to_file").symlink_to(outside / "key.txt")
    result = datavc(repo, "add", "data")
    assert "warning" in result.stderr and "symlink" in result.stderr, result.stderr
    entries = manifest_of(repo, outs_of(repo / "data.datavc")[0]["blake3"])
    assert [e["relpath"] for e in entries] == ["real.txt"]
    assert not cache_object(repo, b3(b"secret key")).exists()
    assert not cache_object(repo, b3(b"deep secret")).exists()
    assert read_tree(outside) == {"key.txt": b"secret key", "more/deep.txt": b"deep secret"}


# --- worktrees and subdirectories ---------------------------------------------------------

def test_worktree_shares_the_cache(copies: Versions) -> None:
    repo = copies.repo
    before = objects(repo)
    git(repo, "branch", "v1", copies.c1)
    git(repo, "worktree", "add", "-q", "../wt", "v1")
    wt = repo.parent / "wt"
    assert read_tree(wt / "data") == V1, "post-checkout placed the data in the worktree"
    assert objects(repo) == before, "no object duplicated"
    assert not [*wt.rglob("blake3"), *(repo / ".git" / "worktrees").rglob("blake3")]
    assert not (repo / ".git" / "worktrees" / "wt" / "datavc" / "cache").exists()
    assert not any(status(wt).values()), status(wt)

    git(wt, "checkout", "-q", "--detach", copies.c2)
    assert read_tree(wt / "data") == V2
    write_files(wt / "more", {"m.txt": b"made in the worktree"})
    datavc(wt, "add", "more")
    assert cache_object(repo, b3(b"made in the worktree")).read_bytes() == b"made in the worktree"
    assert read_tree(repo / "data") == V2, "the main worktree is untouched"


def test_commands_work_from_a_subdirectory(base: Path) -> None:
    repo = base
    sub = repo / "sub"
    write_files(sub / "data", {"x.txt": b"x", "y/z.txt": b"z"})
    result = datavc(sub, "add", "data")
    assert "git add data.datavc .gitignore" in result.stderr, result.stderr
    assert outs_of(sub / "data.datavc")[0]["path"] == "data"
    assert (sub / ".gitignore").read_text().splitlines() == ["/data"]
    assert not (repo / "data.datavc").exists() and not (repo / ".gitignore").exists()
    assert not any(status(sub).values())

    git(sub, "add", "data.datavc", ".gitignore")
    git(sub, "commit", "-q", "-m", "sub data")
    run(["rm", "-rf", "data"], sub)
    assert status(sub)["deleted"] == ["sub/data/x.txt", "sub/data/y/z.txt"]
    datavc(sub, "checkout", "data")
    assert read_tree(sub / "data") == {"x.txt": b"x", "y/z.txt": b"z"}
    (sub / "data" / "x.txt").write_bytes(b"edited")
    assert json.loads(datavc(sub / "data", "diff", "--json").stdout)["modified"] == \
        ["sub/data/x.txt"]


# --- kill -9 in the middle of add ---------------------------------------------------------

BIG_DIR = {f"{i % 30:02d}/f{i:04d}.bin": content(f"big{i}", 1024 + (i % 7) * 1000)
           for i in range(3000)}


def _storing(repo: Path) -> bool:
    """Objects are being written (temp files, or hardlinked straight into place)."""
    tmp = repo / ".git" / "datavc" / "cache" / "tmp"
    return (tmp.is_dir() and any(tmp.iterdir())) or bool(objects(repo))


def _placing(repo: Path) -> bool:
    """The objects are published: workspace files are being replaced by links/copies."""
    return bool(objects(repo))


@pytest.mark.parametrize("kind, moment", [(DEFAULT_TYPE, _storing), (DEFAULT_TYPE, _placing),
                                          ("hardlink", _storing)],
                         ids=["default-storing", "default-placing", "hardlink-storing"])
def test_kill_9_during_add_loses_nothing(base: Path, kind: str,
                                         moment: Callable[[Path], bool]) -> None:
    repo = base
    set_cache_type(repo, kind)
    write_files(repo / "data", BIG_DIR)
    proc = subprocess.Popen(["git-datavc", "add", "data"], cwd=repo, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and not moment(repo) and time.monotonic() < deadline:
        time.sleep(0.002)
    killed = proc.poll() is None
    if killed:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes
        except ProcessLookupError:
            killed = False
    proc.wait()
    assert killed, "add finished before it could be killed: make BIG_DIR bigger"

    files = {rel: data for rel, data in read_tree(repo / "data").items()
             if ".datavc-tmp" not in rel}
    assert files == BIG_DIR, "every user file keeps its bytes"
    assert_cache_intact(repo)

    datavc(repo, "add", "data")
    entries = manifest_of(repo, outs_of(repo / "data.datavc")[0]["blake3"])
    assert {e["relpath"]: e["blake3"] for e in entries} == {r: b3(d) for r, d in BIG_DIR.items()}
    assert read_tree(repo / "data") == BIG_DIR, "no temp file left behind in the data"
    assert not any(status(repo).values())
    assert_cache_intact(repo)


def test_switch_between_a_folder_and_a_file_of_the_same_name(base: Path) -> None:
    """One version has data/x/ (a folder, and data/z/ that goes away), the other data/x as
    a file and data/y/w in a folder made anew: the checkout removes folders and creates
    others in the same run, and never writes into a folder it has taken away."""
    repo = base
    one = {"x/a.txt": content("xa"), "x/deep/b.txt": content("xb"), "z/c.txt": content("zc")}
    two = {"x": content("x-file"), "y/w.txt": content("yw"), "z/c.txt": content("zc")}
    write_files(repo / "data", one)
    datavc(repo, "add", "data")
    commit(repo, "one")
    git(repo, "checkout", "-q", "-b", "two")
    run(["rm", "-rf", "data"], repo)
    write_files(repo / "data", two)
    datavc(repo, "add", "data")
    commit(repo, "two")
    for branch, files in (("main", one), ("two", two), ("main", one)):
        git(repo, "checkout", "-q", branch)
        assert read_tree(repo / "data") == files, branch
    run(["rm", "-rf", "data/x", "data/z"], repo)
    (repo / "data" / "x").write_bytes(b"a stray file, in no cache")
    result = datavc(repo, "checkout", "--force")
    assert read_tree(repo / "data") == one, result.stderr
