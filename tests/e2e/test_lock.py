"""Writers serialise: the repository lock between real `git datavc` processes, `commit`
recording hand edits of stage outs in datavc.lock, and `repro -j` output kept whole per
line. Real `git`, real `git datavc repro`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.helpers import datavc, git

# The stage runs until the test creates `go` (at most 20 s).
SLOW = """\
stages:
  slow:
    cmd: touch started && for i in $(seq 400); do test -e go && break; sleep 0.05; done &&
      echo run >> runs.log && echo made > out.txt
    outs: [out.txt]
"""


def start_repro(repo: Path, *args: str, env: dict[str, str] | None = None
                ) -> subprocess.Popen[str]:
    """`git datavc repro` in the background, returned once its stage has started."""
    # git-datavc itself, not `git datavc`: its pid is the one that holds the lock
    proc = subprocess.Popen(["git-datavc", "repro", *args], cwd=repo, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 30
    while not (repo / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    return proc


@pytest.fixture
def slow(repo: Path) -> Iterator[Path]:
    (repo / "datavc.yaml").write_text(SLOW)
    yield repo


def status_json(repo: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(datavc(repo, "status", "--json").stdout)


def test_a_second_repro_waits_for_the_first_then_finds_everything_up_to_date(slow: Path) -> None:
    first = start_repro(slow)
    second = subprocess.Popen(["git-datavc", "repro"], cwd=slow, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "DATAVC_CORE_LOCKTIMEOUT": "60"})
    assert second.stderr is not None
    waiting = second.stderr.readline()
    assert re.fullmatch(rf"datavc: waiting: another git-datavc process \(pid {first.pid}, "
                        r"'git datavc repro'\) holds the repository lock since "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n", waiting)
    assert second.poll() is None
    (slow / "go").touch()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "Running stage 'slow'" in err
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    # it ran after the first had written datavc.lock: nothing left to do
    assert "waiting" not in err and "Running stage" not in err
    assert out == "Data and pipelines are up to date.\n"
    assert (slow / "runs.log").read_text() == "run\n"


def test_a_second_repro_past_the_timeout_fails_with_one_line_naming_the_holder(
        slow: Path) -> None:
    first = start_repro(slow)
    started = time.monotonic()
    second = datavc(slow, "repro", check=False, env={"DATAVC_CORE_LOCKTIMEOUT": "0.3"})
    assert time.monotonic() - started >= 0.3
    assert first.poll() is None
    assert second.returncode == 1
    errors = [ln for ln in second.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in second.stderr
    assert re.fullmatch(rf"error: another git-datavc process \(pid {first.pid}, 'git datavc "
                        r"repro'\) holds the repository lock since [-0-9]+ [:0-9]+; wait for "
                        r"it to finish or stop it", errors[0])
    assert "hint: core.lockTimeout" in second.stderr
    (slow / "go").touch()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert (slow / "runs.log").read_text() == "run\n"


def test_readers_do_not_wait_for_the_lock(slow: Path) -> None:
    git(slow, "commit", "-q", "--allow-empty", "-m", "start")
    first = start_repro(slow)
    for args in (["status"], ["diff"], ["ls-files"], ["repro", "--dry"]):
        result = datavc(slow, *args, env={"DATAVC_CORE_LOCKTIMEOUT": "0"})
        assert "repository lock" not in result.stderr, args
    assert first.poll() is None
    (slow / "go").touch()
    assert first.wait(60) == 0


def test_other_writers_fail_while_repro_runs(slow: Path) -> None:
    (slow / "data.csv").write_text("a,b\n")
    first = start_repro(slow)
    for args in (["add", "data.csv"], ["checkout"], ["gc", "-f"], ["commit"]):
        result = datavc(slow, *args, check=False, env={"DATAVC_CORE_LOCKTIMEOUT": "0"})
        assert result.returncode == 1, args
        assert f"(pid {first.pid}, 'git datavc repro') holds the repository lock" in \
            result.stderr, args
    assert not (slow / "data.csv.datavc").exists()
    (slow / "go").touch()
    assert first.wait(60) == 0


def test_worktrees_have_locks_of_their_own_and_gc_takes_them_all(slow: Path) -> None:
    git(slow, "add", "datavc.yaml")
    git(slow, "commit", "-qm", "pipeline")
    other = slow.parent / "other"
    git(slow, "worktree", "add", "-q", str(other))
    (other / "go").touch()
    first = start_repro(slow)
    quick = {"DATAVC_CORE_LOCKTIMEOUT": "0"}
    datavc(other, "repro", env=quick)  # side by side with the first
    assert (other / "out.txt").read_text() == "made\n"
    gc = datavc(other, "gc", "-f", check=False, env=quick)
    assert gc.returncode == 1
    assert f"(pid {first.pid}, 'git datavc repro') holds the repository lock" in gc.stderr
    assert "would delete" in datavc(other, "gc", "--dry", env=quick).stderr
    (slow / "go").touch()
    assert first.wait(60) == 0
    datavc(other, "gc", "-f", env=quick)


def test_a_stage_may_run_git_datavc_inside_its_repro(repo: Path) -> None:
    """The stage's process runs inside repro's lock instead of waiting for it."""
    (repo / "datavc.yaml").write_text(yaml.safe_dump({"stages": {"s": {
        "cmd": "echo x > side.csv && git datavc add side.csv && echo y > out.txt",
        "outs": ["out.txt"]}}}))
    result = datavc(repo, "repro", env={"DATAVC_CORE_LOCKTIMEOUT": "0"})
    assert "repository lock" not in result.stderr
    assert (repo / "side.csv.datavc").is_file()


def test_a_hook_with_work_waits_for_the_lock_and_one_without_does_not(repo: Path) -> None:
    (repo / "data.csv").write_text("v1\n")
    datavc(repo, "add", "data.csv")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "checkout", "-qb", "v2")
    (repo / "data.csv").write_text("v2\n")
    datavc(repo, "add", "data.csv")
    git(repo, "commit", "-qam", "v2")
    git(repo, "checkout", "-qb", "same")
    (repo / "datavc.yaml").write_text(SLOW)
    first = start_repro(repo)
    quick = {"DATAVC_CORE_LOCKTIMEOUT": "0"}
    git(repo, "checkout", "-q", "v2", env=quick)  # no metafile changes: no lock needed
    failed = git(repo, "checkout", "-q", "main", check=False, env=quick)
    assert failed.returncode == 1
    assert "holds the repository lock" in failed.stderr
    assert "run `git datavc checkout` once it has finished" in failed.stderr
    assert git(repo, "branch", "--show-current").stdout == "main\n"  # git's part is done
    (repo / "go").touch()
    assert first.wait(60) == 0
    assert (repo / "data.csv").read_text() == "v2\n"
    datavc(repo, "checkout")
    assert (repo / "data.csv").read_text() == "v1\n"


# --- `git datavc commit` of hand-edited stage outs -----------------------------------------

def test_commit_records_a_hand_edited_out_so_status_and_repro_are_clean(repo: Path) -> None:
    (repo / "in.txt").write_text("in\n")
    (repo / "datavc.yaml").write_text(yaml.safe_dump({"stages": {
        "make": {"cmd": "cat in.txt > made.txt", "deps": ["in.txt"], "outs": ["made.txt"]},
        "use": {"cmd": "cat made.txt made.txt > used.txt", "deps": ["made.txt"],
                "outs": ["used.txt"]}}}))
    datavc(repo, "repro")
    before = yaml.safe_load((repo / "datavc.lock").read_text())["stages"]
    (repo / "made.txt").write_text("fixed by hand\n")
    assert status_json(repo)["stages"]["make"] == [{"changed outs": {"made.txt": "modified"}}]
    result = datavc(repo, "commit", "make")
    assert "recorded stage 'make' in datavc.lock" in result.stderr
    after = yaml.safe_load((repo / "datavc.lock").read_text())["stages"]
    assert after["make"]["outs"][0]["size"] == len("fixed by hand\n")
    assert after["make"]["outs"][0]["blake3"] != before["make"]["outs"][0]["blake3"]
    stages = status_json(repo)["stages"]
    assert "make" not in stages
    assert "use" in stages  # its dep changed: the next repro runs it, and only it
    assert re.findall(r"^Running stage '(\w+)'", datavc(repo, "repro").stderr, re.M) == ["use"]
    assert (repo / "used.txt").read_text() == "fixed by hand\n" * 2
    assert status_json(repo)["stages"] == {}
    assert datavc(repo, "repro").stdout.strip() == "Data and pipelines are up to date."


def test_commit_without_targets_records_every_stage(repo: Path) -> None:
    (repo / "datavc.yaml").write_text(yaml.safe_dump({"stages": {
        "a": {"cmd": "echo a > a.txt", "outs": ["a.txt"]},
        "b": {"cmd": "echo b > b.txt", "outs": ["b.txt"]}}}))
    datavc(repo, "repro")
    (repo / "a.txt").write_text("A\n")
    (repo / "b.txt").write_text("B\n")
    datavc(repo, "commit", "-f")  # as `dvc commit -f` is written in scripts
    assert status_json(repo)["stages"] == {}
    datavc(repo, "checkout", "--force")
    assert (repo / "a.txt").read_text() == "A\n" and (repo / "b.txt").read_text() == "B\n"


# --- output of stages side by side -------------------------------------------------------

LINE = "x" * 300


def test_parallel_stages_print_whole_lines_each_prefixed(repo: Path) -> None:
    # long lines written in pieces: unprefixed, two stages would cut into each other's lines
    cmd = ("for n in $(seq 1 200); do printf '{s} %s ' $n; printf '" + LINE + "'; "
           "printf ' end\\n'; done")
    (repo / "datavc.yaml").write_text(yaml.safe_dump({"stages": {
        s: {"cmd": cmd.format(s=s)} for s in ("one", "two")}}))
    result = datavc(repo, "repro", "-j", "2")
    lines = result.stdout.splitlines()
    stage_lines = [ln for ln in lines if ln.startswith("[")]
    assert len(stage_lines) == 400
    for line in stage_lines:
        match = re.fullmatch(rf"\[(one|two)\] (one|two) \d+ {LINE} end", line)
        assert match and match.group(1) == match.group(2), line[:80]
    for name in ("one", "two"):
        numbers = [int(ln.split()[2]) for ln in stage_lines if ln.startswith(f"[{name}]")]
        assert numbers == list(range(1, 201))
    assert "[one] > for n in" in result.stderr and "[two] > for n in" in result.stderr


def test_one_job_passes_output_through_unchanged_and_live(repo: Path) -> None:
    (repo / "datavc.yaml").write_text(yaml.safe_dump({"stages": {"bar": {
        "cmd": "printf 'first\\n'; sleep 1; printf '10%%\\r50%%\\r100%%'"}}}))
    proc = subprocess.Popen(["git", "datavc", "repro"], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"first\n"
    assert proc.poll() is None  # the line came while the stage still ran
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.startswith(b"10%\r50%\r100%")  # a progress bar's \r, no prefix, no newline added
    assert b"> printf" in err and b"[bar]" not in err + out
