"""Taking over a DVC repository: projects made by the real `dvc` (pinned 3.67.1, installed
into `.dvc-parity/venv` like the parity harness does), DVC 2 projects written by hand (plain
text), a local DVC remote and an S3 one on moto."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.helpers import datavc, git, run
from tests.servers import AWS_KEY, AWS_SECRET, MotoServer, aws_env, moto_server  # noqa: F401

DVC_VERSION = "3.67.1"
ROOT = Path(__file__).resolve().parents[2]
Dvc = Callable[..., subprocess.CompletedProcess[str]]


def _ensure_dvc() -> Path:
    """The parity harness's pinned DVC when its module is there, else the same venv made
    the same way (`.dvc-parity/venv`, marker `dvc-version` written last)."""
    try:
        from tests.dvc_parity.dvcenv import ensure_dvc  # type: ignore[import-not-found]

        return Path(ensure_dvc())
    except ImportError:
        pass
    venv_dir = ROOT / ".dvc-parity" / "venv"
    dvc, marker = venv_dir / "bin" / "dvc", venv_dir / "dvc-version"
    if dvc.exists() and marker.exists() and marker.read_text().strip() == DVC_VERSION:
        return dvc
    import venv

    venv.EnvBuilder(clear=True, with_pip=True).create(venv_dir)
    subprocess.run([str(venv_dir / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", f"dvc=={DVC_VERSION}"], check=True)
    marker.write_text(DVC_VERSION + "\n")
    return dvc


@pytest.fixture(scope="session")
def dvc_path() -> Path:
    return _ensure_dvc()


@pytest.fixture
def dvc(dvc_path: Path) -> Dvc:
    def call(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return run([str(dvc_path), *args], cwd, env={"DVC_NO_ANALYTICS": "1"})
    return call


def files_of(top: Path, git_dir: bool = True) -> dict[str, bytes]:
    """Every file below `top` (and in .git unless not `git_dir`) with its bytes, but the
    stat cache any command opens and the repository lock any writer takes (left empty):
    what a dry run must not change."""
    found = {}
    for folder, dirs, names in os.walk(top):
        if not git_dir and ".git" in dirs:
            dirs.remove(".git")
        for name in names:
            path = Path(folder) / name
            rel = str(path.relative_to(top))
            if not path.is_symlink() and not rel.startswith(".git/datavc/state.db") \
                    and rel != ".git/datavc/lock":
                found[rel] = path.read_bytes()
    return found


# --- a DVC 3 project ----------------------------------------------------------------------

DVC_YAML = """\
stages:
  prepare:
    cmd: echo prepare >> {log} && mkdir -p prepared && cp -r data/. prepared/ && wc -c data/b.txt > metrics.txt
    deps: [data]
    params: [prepare.seed]
    outs: [prepared, {{metrics.txt: {{cache: false}}}}]
  train:
    cmd: echo train >> {log} && cat prepared/b.txt prepared/sub/a.txt > model.pkl
    deps: [prepared]
    outs: [model.pkl]
"""


def make_dvc_project(path: Path, dvc: Dvc, log: Path, remote: Path) -> None:
    """data/ (a CRLF text file, a sub-folder) and model.bin added with `dvc add`, a
    two-stage pipeline run by `dvc repro`, everything pushed to a local DVC remote."""
    path.mkdir()
    git(path, "init", "-q")
    dvc(path, "init", "-q")
    (path / "data" / "sub").mkdir(parents=True)
    (path / "data" / "sub" / "a.txt").write_bytes(b"a\r\nb\r\n")
    (path / "data" / "b.txt").write_bytes(b"hello\n")
    (path / "weights.bin").write_bytes(os.urandom(3000))
    dvc(path, "add", "-q", "data", "weights.bin")
    (path / "params.yaml").write_text("prepare:\n  seed: 1\n")
    (path / "dvc.yaml").write_text(DVC_YAML.format(log=log))
    dvc(path, "repro", "-q")
    dvc(path, "remote", "add", "-q", "-d", "storage", str(remote))
    dvc(path, "push", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "a DVC project")


@pytest.fixture
def project(tmp_path: Path, dvc: Dvc) -> Iterator[tuple[Path, Path]]:
    log = tmp_path / "runs.log"
    path = tmp_path / "proj"
    make_dvc_project(path, dvc, log, tmp_path / "dvcstore")
    log.write_text("")       # what DVC ran is forgotten: from here on, git-datavc's runs
    yield path, log


def blake3_of(data: bytes) -> str:
    import blake3

    return str(blake3.blake3(data).hexdigest())


def test_repro_takes_over_dvc_lock_instead_of_running(project: tuple[Path, Path]) -> None:
    path, log = project
    datavc(path, "init")
    first = datavc(path, "repro")
    assert log.read_text() == ""                      # nothing ran
    assert "Stage 'prepare': taken over from dvc.lock" in first.stderr
    assert "Stage 'train': taken over from dvc.lock" in first.stderr
    assert "up to date" in first.stdout
    import yaml

    lock = yaml.safe_load((path / "datavc.lock").read_text())["stages"]
    model = [o for o in lock["train"]["outs"] if o["path"] == "model.pkl"][0]
    assert model["blake3"] == blake3_of((path / "model.pkl").read_bytes())
    assert lock["prepare"]["params"] == {"params.yaml": {"prepare.seed": 1}}
    assert {o["path"]: o.get("cache", True) for o in lock["prepare"]["outs"]} == \
        {"prepared": True, "metrics.txt": False}
    second = datavc(path, "repro")
    assert "taken over" not in second.stderr and "up to date" in second.stdout
    assert log.read_text() == ""
    (path / "params.yaml").write_text("prepare:\n  seed: 2\n")   # now DVC would run both
    datavc(path, "repro")
    assert log.read_text().split() == ["prepare"]                # train's dep is unchanged
    assert datavc(path, "status").returncode == 0


def test_repro_runs_what_changed_since_dvc_lock(project: tuple[Path, Path]) -> None:
    path, log = project
    datavc(path, "init")
    os.chmod(path / "data" / "b.txt", 0o644)
    (path / "data" / "b.txt").write_bytes(b"changed\n")
    result = datavc(path, "repro")
    assert "Stage 'prepare': dvc.lock no longer matches (data changed since DVC " \
        "recorded it)" in result.stderr
    assert log.read_text().split() == ["prepare", "train"]
    assert (path / "model.pkl").read_bytes() == b"changed\na\r\nb\r\n"


def test_repro_dry_run_takes_over_without_writing(project: tuple[Path, Path]) -> None:
    path, log = project
    datavc(path, "init")
    before = files_of(path)
    result = datavc(path, "repro", "--dry")
    assert "up to date" in result.stdout
    assert files_of(path) == before and log.read_text() == ""


def test_import_dvc_dry_run_writes_nothing_then_converts(project: tuple[Path, Path]) -> None:
    path, log = project
    datavc(path, "init")
    before = files_of(path)
    dry = datavc(path, "import-dvc", "--dry-run")
    assert files_of(path) == before
    assert "would convert 2 .dvc files and 2 dvc.lock stages" in dry.stdout
    assert "nothing was written" in dry.stdout
    done = datavc(path, "import-dvc")
    assert "converted 2 .dvc files and 2 dvc.lock stages" in done.stdout
    assert "dvc.lock replaced by datavc.lock" in done.stdout
    assert not (path / "data.dvc").exists() and not (path / "dvc.lock").exists()
    import yaml

    meta = yaml.safe_load((path / "weights.bin.datavc").read_text())["outs"][0]
    assert meta["blake3"] == blake3_of((path / "weights.bin").read_bytes())
    assert yaml.safe_load((path / "data.datavc").read_text())["outs"][0]["nfiles"] == 2
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "taken over")
    assert "up to date" in datavc(path, "repro").stdout and log.read_text() == ""
    status = datavc(path, "status")
    assert "modified" not in status.stdout and "missing" not in status.stdout
    assert "DVC files" not in status.stderr
    # a converted repository works like any other: delete the data, check it out again
    shutil.rmtree(path / "data")
    datavc(path, "checkout")
    assert (path / "data" / "sub" / "a.txt").read_bytes() == b"a\r\nb\r\n"


def test_import_dvc_fetches_from_a_local_dvc_remote(project: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    path, log = project
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(path), str(clone))
    datavc(clone, "init")
    assert "2 DVC files (data.dvc, ...) are not read: `git datavc import-dvc` converts them" \
        in datavc(clone, "status").stderr
    before = files_of(clone, git_dir=False)
    missing = datavc(clone, "import-dvc", check=False)
    assert missing.returncode == 1
    assert "not converted: data.dvc: data is not in the workspace; its manifest " in missing.stdout
    assert "items could not be converted" in missing.stderr
    assert files_of(clone, git_dir=False) == before    # nothing converted, nothing written
    fetched = datavc(clone, "import-dvc", "--fetch")
    assert "from DVC remote 'storage'" in fetched.stdout
    assert (clone / "data" / "sub" / "a.txt").read_bytes() == b"a\r\nb\r\n"
    assert (clone / "weights.bin").read_bytes() == (path / "weights.bin").read_bytes()
    assert (clone / "model.pkl").read_bytes() == (path / "model.pkl").read_bytes()
    assert "up to date" in datavc(clone, "repro").stdout and log.read_text() == ""


def test_a_corrupt_object_on_the_dvc_remote_is_never_used(project: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    path, _ = project
    digest = hashlib.md5((path / "weights.bin").read_bytes()).hexdigest()
    obj = tmp_path / "dvcstore" / "files" / "md5" / digest[:2] / digest[2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"not the weights")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(path), str(clone))
    datavc(clone, "init")
    result = datavc(clone, "import-dvc", "--fetch", check=False)
    assert result.returncode == 1
    assert f"object {digest} in DVC remote 'storage' is corrupt: not used" in result.stderr
    assert "not converted: weights.bin.dvc" in result.stdout
    assert (clone / "weights.bin.dvc").exists() and not (clone / "weights.bin").exists()
    assert (clone / "data" / "b.txt").read_bytes() == b"hello\n"   # the rest was converted


@pytest.mark.usefixtures("aws_env")
def test_import_dvc_fetches_from_an_s3_dvc_remote(project: tuple[Path, Path], tmp_path: Path,
                                                  moto_server: MotoServer) -> None:
    path, _ = project
    moto_server.make_bucket("dvc-takeover")
    s3 = moto_server.client()
    store = tmp_path / "dvcstore"    # what `dvc push` wrote, at the same keys on S3
    for file in store.rglob("*"):
        if file.is_file():
            s3.upload_file(str(file), "dvc-takeover", f"proj/{file.relative_to(store)}")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(path), str(clone))
    (clone / ".dvc" / "config").write_text(
        "[core]\n    remote = s3store\n['remote \"s3store\"']\n    url = s3://dvc-takeover/proj\n"
        f"    endpointurl = {moto_server.endpoint}\n    region = us-east-1\n")
    (clone / ".dvc" / "config.local").write_text(
        f"['remote \"s3store\"']\n    access_key_id = {AWS_KEY}\n"
        f"    secret_access_key = {AWS_SECRET}\n")
    datavc(clone, "init")
    result = datavc(clone, "import-dvc", "--fetch")
    assert "from DVC remote 's3store'" in result.stdout
    assert (clone / "weights.bin").read_bytes() == (path / "weights.bin").read_bytes()
    assert (clone / "data" / "sub" / "a.txt").read_bytes() == b"a\r\nb\r\n"


# --- DVC 2 layout, written by hand -------------------------------------------------------

def md5_dos2unix(data: bytes) -> str:
    """DVC 2's md5 of a text file: its CRLFs read as LFs."""
    return hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest()


def make_dvc2_project(path: Path) -> dict[str, bytes]:
    """A DVC 2 repository: .dvc and dvc.lock without `hash:` keys, objects at
    .dvc/cache/ab/cdef (named by md5 of the dos2unix'd text), the data not checked out."""
    files = {"a.csv": b"x,y\r\n1,2\r\n", "deep/b.bin": b"\x00\x01\r\n"}
    entries = sorted(({"md5": md5_dos2unix(d) if b"\0" not in d else hashlib.md5(d).hexdigest(),
                       "relpath": rel} for rel, d in files.items()), key=lambda e: e["relpath"])
    manifest = json.dumps(entries, sort_keys=True).encode()
    dir_md5 = hashlib.md5(manifest).hexdigest() + ".dir"
    cache = path / ".dvc" / "cache"
    for data, entry in [(manifest, {"md5": dir_md5})] + [
            (files[e["relpath"]], e) for e in entries]:
        obj = cache / entry["md5"][:2] / entry["md5"][2:]
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data)
    (path / ".dvc" / "config").write_text("")
    size = sum(len(d) for d in files.values())
    (path / "raw.dvc").write_text(f"outs:\n- md5: {dir_md5}\n  size: {size}\n  nfiles: 2\n"
                                  "  path: raw\n")
    (path / ".gitignore").write_text("/raw\n/.dvc/cache\n")
    return files


def test_import_dvc_reads_a_dvc2_layout_cache(tmp_path: Path) -> None:
    path = tmp_path / "old"
    path.mkdir()
    git(path, "init", "-q")
    files = make_dvc2_project(path)
    datavc(path, "init")
    result = datavc(path, "import-dvc")
    assert "2 from the DVC cache" in result.stdout
    for rel, data in files.items():
        assert (path / "raw" / rel).read_bytes() == data     # CRLFs kept as they were
    assert (path / "raw.datavc").exists() and not (path / "raw.dvc").exists()


def test_repro_takes_over_a_dvc2_lock(tmp_path: Path) -> None:
    path = tmp_path / "old"
    path.mkdir()
    git(path, "init", "-q")
    (path / "in.txt").write_bytes(b"one\r\ntwo\r\n")
    (path / "out.txt").write_bytes(b"2\n")
    (path / "dvc.yaml").write_text("stages:\n  count:\n    cmd: echo ran > ran.txt && "
                                   "wc -l < in.txt > out.txt\n    deps: [in.txt]\n"
                                   "    outs: [out.txt]\n")
    dep, out = md5_dos2unix(b"one\r\ntwo\r\n"), md5_dos2unix(b"2\n")
    (path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  count:\n    cmd: echo ran > ran.txt && wc -l < in.txt > "
        f"out.txt\n    deps:\n    - path: in.txt\n      md5: {dep}\n      size: 10\n"
        f"    outs:\n    - path: out.txt\n      md5: {out}\n      size: 2\n")
    datavc(path, "init")
    result = datavc(path, "repro")
    assert "Stage 'count': taken over from dvc.lock" in result.stderr
    assert not (path / "ran.txt").exists()


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("lock, message", [
    ("schema: '2.0'\nstages:\n  count:\n    cmd: 7\n", "`cmd` must be a command"),
    ("schema: '2.0'\nstages:\n  count:\n    cmd: c\n    outs:\n    - path: ../../x\n"
     "      md5: 764efa883dda1e11db47671c4a3bbd9e\n", "leaves the repository"),
    ("schema: '2.0'\nstages:\n  count:\n    cmd: c\n    deps:\n    - path: in.txt\n"
     "      md5: 12\n", "bad md5"),
    ("stages: [\n", "not valid YAML"),
])
def test_a_bad_dvc_lock_is_refused_with_nothing_written(tmp_path: Path, lock: str,
                                                        message: str) -> None:
    path = tmp_path / "r"
    path.mkdir()
    git(path, "init", "-q")
    (path / "in.txt").write_text("x\n")
    (path / "dvc.yaml").write_text("stages:\n  count:\n    cmd: c\n    deps: [in.txt]\n")
    (path / "dvc.lock").write_text(lock)
    datavc(path, "init")
    before = files_of(path)
    for command in (["repro"], ["import-dvc"]):
        result = datavc(path, *command, check=False)
        assert result.returncode == 1, result
        lines = result.stderr.strip().splitlines()
        assert lines[0].startswith("error: dvc.lock") and message in lines[0]
        assert "Traceback" not in result.stderr and len(lines) <= 2   # error (+ hint)
        assert files_of(path) == before


def test_a_dvc_file_naming_a_path_outside_the_repo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r"
    (path / "sub").mkdir(parents=True)
    git(path, "init", "-q")
    (path / "ok.dvc").write_text("outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  path: ok\n")
    (path / "ok").write_text("hi\n")
    (path / "sub" / "x.dvc").write_text(
        "outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  path: ../../outside\n")
    datavc(path, "init")
    before = files_of(path)
    result = datavc(path, "import-dvc", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == \
        "error: sub/x.dvc: path '../../outside' leaves the repository"
    assert files_of(path) == before                    # ok.dvc was not converted either
