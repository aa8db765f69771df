"""Partial fetch (issue 11, like Git LFS's lfs.fetchinclude): a clone gets only the data of
the paths it asks for. Files left out stay pointers (filter mode) or absent (metafile
mode), `status` lists them as left out, never as broken, and `pull -I` gets more later."""

from __future__ import annotations

import json
from pathlib import Path

import blake3
import pytest

from tests.helpers import cache_object, datavc, git

FILES = {
    "models/prod/a.bin": b"prod model " * 4000,
    "models/dev/b.bin": b"dev model " * 4000,
    "data/c.bin": b"some data " * 4000,
}
RAW = {"raw/x.csv": b"x,1\n" * 1000, "raw/y.csv": b"y,2\n" * 1000}


def oid(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A repository with filter-tracked files and a tracked folder, its data pushed to a
    local remote and its history to a bare repository."""
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    datavc(src, "init")
    datavc(src, "track", "*.bin")
    datavc(src, "remote", "add", "-d", "store", str(tmp_path / "store"))
    for rel, data in {**FILES, **RAW}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    datavc(src, "add", "raw")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "data")
    datavc(src, "push")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    return bare


def is_pointer(path: Path, data: bytes) -> bool:
    return path.read_bytes().startswith(b"version: datavc/1\nblake3: " + oid(data).encode())


def test_clone_with_fetch_include_gets_only_those_paths(published: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-c", "datavc.fetchInclude=models/prod,raw/x.csv",
        str(published), str(clone))
    # smudge during the clone fetched the included file only
    assert (clone / "models/prod/a.bin").read_bytes() == FILES["models/prod/a.bin"]
    assert is_pointer(clone / "models/dev/b.bin", FILES["models/dev/b.bin"])
    assert is_pointer(clone / "data/c.bin", FILES["data/c.bin"])
    datavc(clone, "install")
    pulled = datavc(clone, "pull")
    assert "left out by the partial fetch" in pulled.stderr + pulled.stdout
    assert (clone / "raw/x.csv").read_bytes() == RAW["raw/x.csv"]
    assert not (clone / "raw/y.csv").exists()
    for rel in ("models/dev/b.bin", "data/c.bin"):
        assert not cache_object(clone, oid(FILES[rel])).exists(), rel
    assert not cache_object(clone, oid(RAW["raw/y.csv"])).exists()
    assert git(clone, "status", "--porcelain").stdout == ""

    status = datavc(clone, "status", "--json")
    report = json.loads(status.stdout)
    assert sorted(report["left_out"]) == ["data/c.bin", "models/dev/b.bin", "raw/y.csv"]
    assert report["not_in_cache"] == [] and report["not_checked_out"] == []
    assert report["deleted"] == [] and report["modified"] == []
    text = datavc(clone, "status").stdout
    assert "left out by the partial fetch" in text and "data/c.bin" in text

    # later, more of it: -I for one command, the configured filter otherwise
    datavc(clone, "pull", "-I", "data/**")
    assert (clone / "data/c.bin").read_bytes() == FILES["data/c.bin"]
    assert is_pointer(clone / "models/dev/b.bin", FILES["models/dev/b.bin"])
    assert git(clone, "status", "--porcelain").stdout == ""
    assert "data/c.bin" not in datavc(clone, "status", "--json").stdout


def test_fetch_exclude_in_config_and_checkout_after(published: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    env = {"DATAVC_SKIP_SMUDGE": "1"}   # pointers only, as GIT_LFS_SKIP_SMUDGE=1
    git(tmp_path, "clone", "-q", str(published), str(clone), env=env)
    (clone / ".datavc" / "config.local").write_text("[fetch]\n\texclude = models/**\n")
    fetched = datavc(clone, "fetch")
    assert "2 left out by the partial fetch" in fetched.stderr + fetched.stdout
    assert cache_object(clone, oid(FILES["data/c.bin"])).exists()
    assert not cache_object(clone, oid(FILES["models/prod/a.bin"])).exists()
    out = datavc(clone, "checkout")   # not pull: what is cached is checked out
    assert "still a pointer" not in out.stderr
    assert (clone / "data/c.bin").read_bytes() == FILES["data/c.bin"]
    assert is_pointer(clone / "models/prod/a.bin", FILES["models/prod/a.bin"])
    assert (clone / "raw/y.csv").read_bytes() == RAW["raw/y.csv"]
    # -X on the command line replaces the configured exclude
    datavc(clone, "pull", "-X", "models/dev")
    assert (clone / "models/prod/a.bin").read_bytes() == FILES["models/prod/a.bin"]
    assert is_pointer(clone / "models/dev/b.bin", FILES["models/dev/b.bin"])


def test_bad_fetch_pattern_is_a_one_line_error(published: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(published), str(clone), env={"DATAVC_SKIP_SMUDGE": "1"})
    result = datavc(clone, "fetch", "-I", "!models", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: pattern '!models'")
    assert "Traceback" not in result.stderr


def test_bad_pattern_in_config_names_the_key(published: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(published), str(clone), env={"DATAVC_SKIP_SMUDGE": "1"})
    (clone / ".datavc" / "config.local").write_text("[fetch]\n\tinclude = [[:nope:]]\n")
    for command in ("fetch", "pull", "checkout"):
        result = datavc(clone, command, check=False)
        assert result.returncode == 1, command
        assert result.stderr.startswith("error: fetch.include: pattern '[[:nope:]]'"), command
        assert "Traceback" not in result.stderr
