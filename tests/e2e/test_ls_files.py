"""`git datavc ls-files` (issue 11): every tracked data file of the three modes with its
hash, size, mode and where its content is (workspace, cache, a local or moto S3 remote)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_sync import (Store, b3, commit_all, connect, content, local_store,
                                 s3_store, write)
from tests.helpers import cache_object, datavc, git
from tests.servers import aws_env, moto_server  # noqa: F401

pytestmark = pytest.mark.usefixtures("aws_env")

FILTER = {"a.bin": content("a"), "models/m.bin": content("m", 20000)}
DATA = {"data/f1": content("f1"), "data/sub/f2": content("f2", 500)}
OUT = b"made by the stage\n"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "s3":
        return s3_store(request.getfixturevalue("moto_server"))
    return local_store(tmp_path)


def populate(repo: Path) -> None:
    for rel, data in {**FILTER, **DATA}.items():
        write(repo, rel, data)
    datavc(repo, "add", "data")
    write(repo, "datavc.yaml", b"stages:\n  make: {cmd: printf 'made by the stage\\n' > out.txt,"
                               b" outs: [out.txt]}\n")
    datavc(repo, "repro")
    commit_all(repo, "data")


def rows(repo: Path, *args: str) -> dict[str, dict]:
    return {row["path"]: row for row in json.loads(datavc(repo, "ls-files", "--json",
                                                          *args).stdout)}


def expected() -> dict[str, tuple[str, int, str]]:
    return {**{p: (b3(d), len(d), "filter") for p, d in FILTER.items()},
            **{p: (b3(d), len(d), "metafile") for p, d in DATA.items()},
            "out.txt": (b3(OUT), len(OUT), "pipeline")}


def test_every_mode_with_its_flags_against_a_remote(repo: Path, store: Store) -> None:
    connect(repo, store)
    populate(repo)
    got = rows(repo, "--remote")
    assert {p: (r["oid"], r["size"], r["mode"]) for p, r in got.items()} == expected()
    assert all(r["workspace"] and r["cache"] and r["remote"] is False for r in got.values())
    assert all(r["remote"] is None for r in rows(repo).values()), "not asked: unknown"

    datavc(repo, "push")
    assert all(r["remote"] for r in rows(repo, "--remote").values())
    text = datavc(repo, "ls-files", "--remote").stdout.splitlines()
    assert f"{b3(FILTER['a.bin'])[:10]} wcr filter   a.bin" in text
    assert f"{b3(DATA['data/f1'])[:10]} wcr metafile data/f1" in text
    assert f"{b3(OUT)[:10]} wcr pipeline out.txt" in text
    assert len(text) == 5

    cache_object(repo, b3(FILTER["a.bin"])).unlink()
    (repo / "data" / "f1").unlink()
    got = rows(repo, "--remote")
    assert (got["a.bin"]["cache"], got["a.bin"]["workspace"], got["a.bin"]["remote"]) == \
        (False, True, True)
    assert (got["data/f1"]["workspace"], got["data/f1"]["cache"]) == (False, True)
    assert f"{b3(FILTER['a.bin'])[:10]} w-r filter   a.bin" in \
        datavc(repo, "ls-files", "--remote").stdout


def test_a_clone_holding_pointers(repo: Path, tmp_path: Path) -> None:
    store = local_store(tmp_path)
    connect(repo, store)
    populate(repo)
    datavc(repo, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone), env={"DATAVC_SKIP_SMUDGE": "1"})
    assert (clone / "a.bin").read_bytes().startswith(b"version: datavc/1")
    got = rows(clone, "--remote")
    assert (got["a.bin"]["workspace"], got["a.bin"]["cache"], got["a.bin"]["remote"]) == \
        (False, False, True)
    # the manifest is not in the clone's cache yet: the directory is one row, marked so
    assert got["data/"]["mode"] == "metafile" and not got["data/"]["cache"]
    assert not got["out.txt"]["workspace"]
    datavc(clone, "pull")
    assert set(rows(clone)) == set(expected())
    assert all(r["workspace"] and r["cache"] for r in rows(clone).values())


def test_flags_paths_revisions(repo: Path) -> None:
    populate(repo)
    first = b3(FILTER["a.bin"])
    write(repo, "a.bin", content("a2"))
    commit_all(repo, "a2")

    assert datavc(repo, "ls-files", "-n").stdout.splitlines() == sorted(expected())
    long = datavc(repo, "ls-files", "-l", "-s", "models").stdout.splitlines()
    assert long == [f"{b3(FILTER['models/m.bin'])} wc filter   models/m.bin (19.5 KiB)"]
    assert list(rows(repo, "*.bin")) == ["a.bin", "models/m.bin"]
    assert list(rows(repo, "data/**")) == ["data/f1", "data/sub/f2"]
    sub = datavc(repo / "data", "ls-files", "-n", "sub").stdout.splitlines()
    assert sub == ["data/sub/f2"]

    old = rows(repo, "--rev", "HEAD~1", "a.bin")["a.bin"]
    assert old["oid"] == first and not old["workspace"] and old["cache"]
    every = json.loads(datavc(repo, "ls-files", "--all", "--json", "a.bin").stdout)
    assert [(r["oid"], r["workspace"]) for r in every] == sorted(
        [(first, False), (b3(content("a2")), True)])


def test_bad_input(repo: Path, tmp_path: Path) -> None:
    populate(repo)
    result = datavc(repo, "ls-files", "--rev", "no-such-rev", check=False)
    assert result.returncode == 1 and result.stderr.splitlines() == [
        "error: no-such-rev is not a commit"]
    result = datavc(repo, "ls-files", str(tmp_path), check=False)
    assert result.returncode == 2 and "outside the repository" in result.stderr
    assert "Traceback" not in result.stderr
    assert datavc(repo, "ls-files", "--rev", "HEAD", "--all", check=False).returncode == 2
    shutil.rmtree(repo / ".git" / "datavc" / "cache")
    assert "--remote" not in datavc(repo, "ls-files").stderr   # no remote asked: none needed
    result = datavc(repo, "ls-files", "--remote", check=False)
    assert result.returncode == 1 and "no default remote" in result.stderr
