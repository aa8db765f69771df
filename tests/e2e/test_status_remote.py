"""`git datavc status --remote` (issue 11): every object the scope needs is counted and
asked about, filter-mode pointers of the index and of the scope's commits included, and
what is missing is listed by path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import blake3

from tests.helpers import datavc, git


def content(seed: str, size: int = 2000) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=size)


def oid(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def filter_repo(repo: Path, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    datavc(repo, "track", "*.bin")
    datavc(repo, "remote", "add", "-d", "store", str(store))
    return store


def report(repo: Path, *flags: str) -> dict:
    return json.loads(datavc(repo, "status", "--remote", "--json", *flags).stdout)


def on_store(store: Path, data: bytes) -> bool:
    o = oid(data)
    return (store / "files" / "blake3" / o[:2] / o[2:]).is_file()


def test_filter_mode_objects_never_pushed_are_missing(repo: Path, tmp_path: Path) -> None:
    store = filter_repo(repo, tmp_path)
    (repo / "a.bin").write_bytes(content("a"))
    (repo / "b.bin").write_bytes(content("b"))
    git(repo, "add", "a.bin", "b.bin")          # staged only: the index needs them already
    got = report(repo)
    assert got["objects"] == 2 and got["objects_not_on_remote"] == 2
    assert got["not_on_remote"] == ["a.bin", "b.bin"] and got["not_in_cache"] == []
    text = datavc(repo, "status", "--remote").stdout
    assert "the workspace needs 2 objects; 0 missing from the cache, 2 from remote store" in text
    assert "    a.bin" in text and "git datavc push" in text and "have all" not in text

    git(repo, "commit", "-q", "-m", "data")
    datavc(repo, "push")
    assert on_store(store, content("a"))
    got = report(repo)
    assert (got["not_on_remote"], got["objects_not_on_remote"], got["objects"]) == ([], 0, 2)
    assert "have all 2 objects the workspace needs" in datavc(repo, "status", "--remote").stdout


def test_commits_of_the_scope_are_counted(repo: Path, tmp_path: Path) -> None:
    store = filter_repo(repo, tmp_path)
    (repo / "m.bin").write_bytes(content("v1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")       # never pushed
    (repo / "m.bin").write_bytes(content("v2"))
    git(repo, "commit", "-q", "-am", "v2")
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "s.bin").write_bytes(content("side"))
    git(repo, "add", "s.bin")
    git(repo, "commit", "-q", "-m", "side")
    git(repo, "checkout", "-q", "main")
    datavc(repo, "push")                        # the workspace: v2 only
    assert on_store(store, content("v2")) and not on_store(store, content("v1"))

    assert report(repo)["not_on_remote"] == []
    branches = report(repo, "--all-branches")
    assert (branches["objects"], branches["not_on_remote"]) == (2, ["s.bin"])
    history = report(repo, "--all-commits")
    assert history["objects"] == 3 and history["objects_not_on_remote"] == 2
    assert history["not_on_remote"] == ["m.bin", "s.bin"]
    text = datavc(repo, "status", "--remote", "--all-commits").stdout
    assert "the scope needs 3 objects; 0 missing from the cache, 2 from remote store" in text

    datavc(repo, "push", "--all-commits")
    assert report(repo, "--all-commits")["objects_not_on_remote"] == 0


def test_long_lists_are_cut_with_a_count(repo: Path, tmp_path: Path) -> None:
    filter_repo(repo, tmp_path)
    for i in range(14):
        (repo / f"f{i:02}.bin").write_bytes(content(f"f{i}"))
    git(repo, "add", "-A")
    lines = datavc(repo, "status", "--remote").stdout.splitlines()
    listed = [line for line in lines if line.startswith("    f")]
    assert listed == [f"    f{i:02}.bin" for i in range(10)]
    assert "    ... and 4 more (--all lists them, --json too)" in lines
    every = datavc(repo, "status", "--remote", "--all").stdout
    assert "    f13.bin" in every and "more" not in every
    assert len(report(repo)["not_on_remote"]) == 14


def test_a_lost_cache_still_counts_a_directory_from_the_remote_manifest(repo: Path,
                                                                        tmp_path: Path) -> None:
    store = filter_repo(repo, tmp_path)
    (repo / "d").mkdir()
    for name in ("x", "y", "z"):
        (repo / "d" / name).write_bytes(content(name))
    datavc(repo, "add", "d")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dir")
    datavc(repo, "push")
    x = store / "files" / "blake3" / oid(content("x"))[:2] / oid(content("x"))[2:]
    x.chmod(0o644)
    x.unlink()                                  # the remote lost a file behind its manifest
    shutil.rmtree(repo / ".git" / "datavc" / "cache")
    got = report(repo)
    assert got["objects"] == 4                  # the manifest and its three files
    assert got["not_in_cache"] == ["d", "d/x", "d/y", "d/z"]
    assert got["not_on_remote"] == ["d/x"] and got["unlisted_directories"] == []

    shutil.rmtree(store)                        # now nobody can say what d holds
    got = report(repo)
    assert got["unlisted_directories"] == ["d"] and got["objects"] == 1
    assert "their files are not counted" in datavc(repo, "status", "--remote").stdout


def test_files_added_without_the_filter_are_named(repo: Path, tmp_path: Path) -> None:
    """A clone where the drivers are missing stores tracked files as content: no object
    was ever made, so nothing is missing, yet the data is in git: status says so."""
    filter_repo(repo, tmp_path)
    (repo / "ok.bin").write_bytes(content("ok"))
    (repo / "empty.bin").write_bytes(b"")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "ok")
    datavc(repo, "push")
    (repo / "raw.bin").write_bytes(content("raw"))
    (repo / "tiny.bin").write_bytes(b"tiny\n")
    for name in ("raw.bin", "tiny.bin"):        # git without the filter driver
        git(repo, "-c", "filter.datavc.process=", "-c", "filter.datavc.clean=cat",
            "-c", "filter.datavc.required=false", "add", name)
    assert not git(repo, "cat-file", "-p", ":raw.bin").stdout.startswith("version:")
    got = report(repo)
    assert got["stored_as_content"] == ["raw.bin", "tiny.bin"]
    assert got["not_on_remote"] == [] and got["objects"] == 1
    text = datavc(repo, "status", "--remote").stdout
    assert "have all 1 objects" in text and "stored in git as content" in text
    assert "    raw.bin" in text and "renormalize" in text
