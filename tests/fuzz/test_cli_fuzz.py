"""End to end: `git datavc` on a fuzzed metafile or pipeline file in a real repository.
Input the parser refuses gives exactly one `error:` line and exit 1; any input gives no
traceback; nothing is written outside the repository (a sibling folder stays unchanged)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from git_datavc import metafile, pipeline
from git_datavc.errors import DatavcError
from tests.fuzz import strategies as s
from tests.helpers import datavc, git

# each example runs real processes: 1/25 of the parser fuzzers' count (12 short, 400 long)
EXAMPLES = max(12, settings.default.max_examples // 25)
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
cli_settings = settings(max_examples=EXAMPLES, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Path]:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("sentinel\n")
    git(repo, "init", "-q")
    datavc(repo, "init")
    (repo / "params.yaml").write_text("lr: 0.1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    return repo, outside


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def refused(parse: Callable[[], object]) -> bool:
    try:
        parse()
    except DatavcError:
        return True
    return False


def check(repo: Path, outside: Path, args: list[str], must_fail: bool) -> None:
    before, around = snapshot(outside), sorted(p.name for p in repo.parent.iterdir())
    proc = subprocess.run(["git", "datavc", *args], cwd=repo, capture_output=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    if must_fail:
        assert proc.returncode == 1 and len(errors) == 1, (args, proc.returncode, err)
    else:
        assert proc.returncode in (0, 1) and len(errors) == (proc.returncode == 1), err
    assert snapshot(outside) == before
    assert sorted(p.name for p in repo.parent.iterdir()) == around


@cli_settings
@given(s.documents(s.metafiles), st.sampled_from([["status"], ["checkout", "data.datavc"]]))
def test_fuzzed_metafile(place: tuple[Path, Path], data: bytes, args: list[str]) -> None:
    repo, outside = place
    (repo / "data.datavc").write_bytes(data)
    check(repo, outside, args, refused(lambda: metafile.load(Path("data.datavc"), data)))


@cli_settings
@given(s.documents(s.pipelines), st.sampled_from([["dag"], ["artifacts", "list"], ["status"]]))
def test_fuzzed_pipeline(place: tuple[Path, Path], data: bytes, args: list[str]) -> None:
    repo, outside = place
    (repo / "datavc.yaml").write_bytes(data)
    # status reports a broken pipeline file as a warning and goes on with the rest
    bad = args != ["status"] and refused(lambda: pipeline.parse(repo, "datavc.yaml", data))
    check(repo, outside, args, bad)
