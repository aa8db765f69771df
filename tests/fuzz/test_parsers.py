"""Every parser, fed arbitrary input: it returns a result or raises the project's error
type (DatavcError and its subclasses), never another exception, and every path in a result
stays inside the repository. Short run by default; `pytest --torture` runs 10,000 cases each.
"""

from __future__ import annotations

import posixpath
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from git_datavc import config, dvcrepo, lockfile, metafile, pipeline, pointer
from git_datavc.errors import DatavcError
from git_datavc.remotes import _jobs, parse_url
from git_datavc.safepath import check_relpath
from tests.fuzz import strategies as s

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def inside(path: str) -> None:
    """`path` is a clean relative path in the repository (check_relpath would accept it)."""
    assert isinstance(path, str)
    check_relpath(path)
    assert not posixpath.normpath(path).startswith("..")


def parsed(fn: Callable[[], Any]) -> Any:
    """fn()'s result, or None when it raised the project's error; anything else fails."""
    try:
        return fn()
    except DatavcError as e:
        assert isinstance(e.message, str) and e.message
        return None


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        (path / "params.yaml").write_text("lr: 0.1\nd: data\nlist: [1, 2]\nnest: {a: 1}\n")
        yield path


@given(st.binary(max_size=250) | s.documents(st.just({})).map(lambda b: b[:250])
       | st.builds(lambda oid, size: b"version: datavc/1\nblake3: %s\nsize: %s\n" % (oid, size),
                   s.oids.map(lambda o: o.encode("utf-8", "replace")),
                   st.sampled_from([b"0", b"01", b"-1", b"1 ", b"\xff", b"9" * 30])))
def test_pointer(data: bytes) -> None:
    found = parsed(lambda: pointer.parse(data))
    if found is not None:
        assert found.encode() == data     # only a canonical pointer is a pointer


@given(s.documents(s.metafiles))
def test_metafile(data: bytes) -> None:
    outs = parsed(lambda: metafile.load(Path("data.datavc"), data))
    for out in outs or []:
        inside(out.path)
        assert out.size >= 0


@given(s.documents(s.manifests) | s.manifests.map(lambda m: s.json_bytes(m)))
def test_manifest(data: bytes) -> None:
    entries = parsed(lambda: metafile.decode_manifest(data))
    for entry in entries or []:
        inside(entry.relpath)
    if entries:   # a manifest that parses re-encodes to one that parses the same
        assert metafile.decode_manifest(metafile.encode_manifest(entries)) == sorted(
            entries, key=lambda e: e.relpath)


@given(s.documents(s.locks))
def test_lockfile(data: bytes) -> None:
    stages = parsed(lambda: lockfile.parse(data, "datavc.lock"))
    for lock in (stages or {}).values():
        for out in (*lock.outs, *lock.deps):
            inside(out.path)
        for file in lock.params:
            inside(file)
    if stages:   # what was read can be written and read back
        assert lockfile.parse(lockfile.dump(stages).encode(), "datavc.lock") == stages


@fixture_ok
@given(s.documents(s.pipelines), st.booleans(), st.sampled_from(["datavc.yaml", "dvc.yaml"]))
def test_pipeline(root: Path, data: bytes, strict: bool, name: str) -> None:
    pipe = parsed(lambda: pipeline.parse(root, name, data, strict=strict))
    if pipe is None:
        return
    for stage in pipe.stages.values():
        if stage.wdir:
            inside(stage.wdir)
        for path in (*stage.deps, *(o.path for o in stage.outs), *(f for f, _ in stage.params)):
            inside(path)
    for path in (*pipe.metrics, *pipe.params_files, *(a.path for a in pipe.artifacts),
                 *(f.path for p in pipe.plots for f in p.files)):
        inside(path)
    parsed(lambda: pipe.order())


@fixture_ok
@given(s.configs, st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       st.booleans())
def test_config(root: Path, entries: list[tuple[str, str]], raw: bytes, use_raw: bool) -> None:
    folder = root / ".datavc"
    folder.mkdir(exist_ok=True)
    (folder / "config").write_bytes(raw if use_raw else s.git_config(entries))
    settings_ = parsed(lambda: config.load(root))
    if settings_ is None:
        return
    for prop in ("autotrack", "threshold", "cache_types", "protected"):
        parsed(lambda: getattr(settings_, prop))
    parsed(lambda: settings_.cache_dir(root / "cache"))
    parsed(lambda: _jobs("r", settings_))
    parsed(lambda: parse_url(settings_.get("remote.r.url") or ""))
    parsed(lambda: pipeline.parsing_settings(root))


@fixture_ok
@given(s.documents(s.dvcfiles), st.sampled_from(["data.dvc", "sub/data.dvc"]))
def test_dvc_file(root: Path, data: bytes, rel: str) -> None:
    (root / "sub").mkdir(exist_ok=True)
    (root / rel).write_bytes(data)
    found = parsed(lambda: dvcrepo.load_dvcfile(root, rel))
    for out in found.outs if found else ():
        inside(out.path)


@given(s.documents(s.dvclocks))
def test_dvc_lock(data: bytes) -> None:
    stages = parsed(lambda: dvcrepo.parse_lock(data))
    for stage in (stages or {}).values():   # paths are joined to the wdir later, checked then
        for _, item in (*stage.deps, *stage.outs):
            parsed(lambda: inside(dvcrepo.join("", item["path"], "dvc.lock")))


@given(s.documents(s.dvcmanifests) | s.dvcmanifests.map(s.json_bytes))
def test_dvc_manifest(data: bytes) -> None:
    for rel, _ in parsed(lambda: dvcrepo.parse_manifest(data, "m.dir")) or []:
        inside(rel)


@fixture_ok
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode) | s.dvcconfigs)
def test_dvc_config(root: Path, data: bytes) -> None:
    (root / ".dvc").mkdir(exist_ok=True)
    (root / ".dvc" / "config").write_bytes(data)
    found = parsed(lambda: dvcrepo.read_config(root))
    if found is not None:
        dvcrepo.remotes(found)
        dvcrepo.cache_dir(root, found)


@given(s.urls)
def test_remote_url(url: str) -> None:
    found = parsed(lambda: parse_url(url))
    if found is not None:
        assert found.scheme in ("local", "s3", "ssh")
        assert 0 <= found.port < 65536


def test_config_file_git_refuses_is_a_datavc_error(tmp_path: Path) -> None:
    """The config fuzzer's premise: a file git cannot parse is the project's error."""
    (tmp_path / ".datavc").mkdir()
    (tmp_path / ".datavc" / "config").write_text("[core\n")
    with pytest.raises(DatavcError):
        config.load(tmp_path)
    assert subprocess.run(["git", "config", "--file", str(tmp_path / ".datavc" / "config"),
                           "--list"], capture_output=True).returncode != 0
