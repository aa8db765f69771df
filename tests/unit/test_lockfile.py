"""datavc.lock: round trip, validation of what is read, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from git_datavc import lockfile, runcache
from git_datavc.errors import DatavcError, UnsafePath
from git_datavc.lockfile import StageLock
from git_datavc.metafile import Out

A = "a" * 64
B = "b" * 64


def sample() -> dict[str, StageLock]:
    return {
        "prepare": StageLock(("python prepare.py",), (Out("data/raw.csv", A, 10),),
                             {"params.yaml": {"prepare.split": 0.2, "seed": 7}},
                             (Out("data/prepared", B + ".dir", 30, 2),)),
        "evaluate": StageLock(("python a.py", "python b.py"), (Out("model.pkl", A, 5),), {},
                              (Out("eval/metrics.json", B, 40),),
                              frozenset({"eval/metrics.json"})),
    }


def test_round_trip_and_shape(tmp_path: Path) -> None:
    path = tmp_path / "datavc.lock"
    lockfile.write(path, sample())
    assert lockfile.read(path) == sample()
    text = path.read_text()
    assert text.startswith("schema: datavc/1\nstages:\n  prepare:\n    cmd: python prepare.py\n")
    assert f"blake3: {B}.dir\n      size: 30\n      nfiles: 2\n" in text
    assert "cache: false" in text
    assert "- python a.py\n    - python b.py" in text
    assert [p.name for p in tmp_path.iterdir()] == ["datavc.lock"]  # no temp file left


def test_missing_lock_is_empty(tmp_path: Path) -> None:
    assert lockfile.read(tmp_path / "datavc.lock") == {}


@pytest.mark.parametrize("entry, error, expected", [
    ("cmd: x\nouts: [{path: ../x, blake3: A, size: 1}]", UnsafePath, "leaves its directory"),
    ("cmd: x\nouts: [{path: .git/hooks/x, blake3: A, size: 1}]", UnsafePath, "into .git"),
    ("cmd: x\nouts: [{path: /etc/x, blake3: A, size: 1}]", UnsafePath, "absolute"),
    ("cmd: x\ndeps: [{path: a, blake3: XYZ, size: 1}]", DatavcError, "bad blake3 hash for 'a'"),
    ("cmd: x\ndeps: [{path: a, blake3: A, size: -1}]", DatavcError, "bad size"),
    ("cmd: x\ndeps: [{path: a, blake3: A, size: 1, nfiles: true}]", DatavcError, "bad nfiles"),
    ("cmd: 3", DatavcError, "`cmd` must be"),
    ("cmd: x\nparams: [a]", DatavcError, "`params` must map"),
    ("cmd: x\nparams: {../p.yaml: {a: 1}}", UnsafePath, "leaves its directory"),
    ("cmd: x\nouts: {a: b}", DatavcError, "`outs` must be a list"),
])
def test_bad_entries_are_refused(tmp_path: Path, entry: str, error: type,
                                 expected: str) -> None:
    body = "\n".join("    " + line for line in entry.replace("A", A).splitlines())
    path = tmp_path / "datavc.lock"
    path.write_text(f"schema: datavc/1\nstages:\n  s:\n{body}\n")
    with pytest.raises(error) as info:
        lockfile.read(path)
    assert expected in info.value.message and "stage 's'" in info.value.message


def test_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "datavc.lock").write_text("stages: {a: [")
    with pytest.raises(DatavcError, match="datavc.lock is not valid YAML"):
        lockfile.read(tmp_path / "datavc.lock")


def test_failed_write_keeps_the_old_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    path = tmp_path / "datavc.lock"
    lockfile.write(path, sample())
    before = path.read_bytes()

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        lockfile.write(path, {})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["datavc.lock"]


def test_run_cache_round_trip_and_damage(tmp_path: Path) -> None:
    key = runcache.key(["python t.py"], "", [Out("d", A, 1)], {"p.yaml": {"x": 1}},
                       [("m", True)])
    assert key != runcache.key(["python t.py"], "", [Out("d", B, 1)], {"p.yaml": {"x": 1}},
                               [("m", True)])
    assert runcache.get(tmp_path, key) is None
    runcache.put(tmp_path, key, [Out("m", B, 3)])
    assert runcache.get(tmp_path, key) == [Out("m", B, 3)]
    (tmp_path / "runs" / key[:2] / key[2:]).write_text('{"outs": [{"path": "../x"}]}')
    assert runcache.get(tmp_path, key) is None
