"""The repository lock between real processes: flock, kill -9, messages, re-entrancy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from git_datavc import repolock
from git_datavc.config import Settings
from git_datavc.errors import DatavcError
from git_datavc.repolock import Holder, LockBusy, hold

HOLDER = """
import sys, time
from pathlib import Path
from git_datavc.repolock import hold
with hold(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])):
    print("held", flush=True)
    time.sleep(float(sys.argv[4]))
print("released", flush=True)
"""


def start_holder(where: Path, command: str = "git datavc repro", seconds: float = 60,
                 timeout: float = 0) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(where), command, str(timeout),
                             str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = start_holder(tmp_path)
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_process_fails_naming_the_holder(tmp_path: Path,
                                                  holder: subprocess.Popen[str]) -> None:
    started = time.monotonic()
    with pytest.raises(LockBusy) as caught:
        with hold(tmp_path, "git datavc add x", 0.3):
            pytest.fail("took a lock another process holds")
    assert time.monotonic() - started >= 0.3
    message = caught.value.message
    assert message.startswith(f"another git-datavc process (pid {holder.pid}, "
                              "'git datavc repro') holds the repository lock since 20")
    assert message.endswith("; wait for it to finish or stop it")
    assert "core.lockTimeout" in caught.value.hint and "now 0.3" in caught.value.hint


def test_the_holder_is_written_in_the_lock_file(tmp_path: Path,
                                                holder: subprocess.Popen[str]) -> None:
    found = repolock.read_holder(tmp_path / "lock")
    assert found is not None and found.pid == holder.pid
    assert found.command == "git datavc repro" and time.time() - found.since < 30


def test_kill_9_of_the_holder_frees_the_lock(tmp_path: Path,
                                             holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockBusy):
        with hold(tmp_path, "git datavc gc", 0):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with hold(tmp_path, "git datavc gc", 0):
        found = repolock.read_holder(tmp_path / "lock")
        assert found is not None and (found.pid, found.command) == (os.getpid(), "git datavc gc")


def test_a_waiter_says_so_once_and_gets_the_lock_when_it_is_released(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proc = start_holder(tmp_path, seconds=0.6)
    try:
        with hold(tmp_path, "git datavc checkout", 10):
            assert proc.wait(5) == 0
            assert proc.stdout is not None and proc.stdout.read() == "released\n"
    finally:
        proc.kill()
    waited = capsys.readouterr().err.splitlines()
    assert len(waited) == 1
    assert waited[0].startswith(f"datavc: waiting: another git-datavc process (pid {proc.pid}, "
                                "'git datavc repro') holds the repository lock since ")


def test_released_lock_is_free_for_another_process(tmp_path: Path) -> None:
    with hold(tmp_path, "git datavc add", 0):
        pass
    assert (tmp_path / "lock").read_bytes() == b""
    proc = start_holder(tmp_path, seconds=0)
    assert proc.wait(10) == 0


def test_reentrant_within_a_process(tmp_path: Path) -> None:
    with hold(tmp_path, "git datavc pull", 0):
        with hold(tmp_path, "git datavc checkout", 0):
            pass
        # the inner exit did not release it: another process still cannot take it
        failed = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path), "other", "0", "0"],
                                capture_output=True, text=True,
                                env={**os.environ, repolock.ENV: ""})
        assert failed.returncode != 0 and "holds the repository lock" in failed.stderr
    assert start_holder(tmp_path, seconds=0).wait(10) == 0


def test_a_child_process_runs_inside_its_parents_lock(tmp_path: Path) -> None:
    """A stage's command (or a hook git runs for us) may run git-datavc again."""
    with hold(tmp_path, "git datavc repro", 0):
        assert os.environ[repolock.ENV] == str(os.getpid())
        child = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path), "git datavc add",
                                "0", "0"], capture_output=True, text=True)
        assert child.returncode == 0, child.stderr
        assert child.stdout == "held\nreleased\n"
        # the child's exit did not free the parent's lock
        assert repolock.read_holder(tmp_path / "lock").pid == os.getpid()  # type: ignore[union-attr]
    assert repolock.ENV not in os.environ


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_without_flock_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    held = tmp_path / "lock.held"
    me = Holder(os.getpid(), time.time(), "git datavc repro", repolock.socket.gethostname())
    held.write_bytes(Holder(_dead_pid(), time.time(), "git datavc gc", me.host).encode())
    release = repolock._take_excl(held, me)
    assert release is not None and repolock.read_holder(held) == me
    release()
    assert not held.exists()


def test_without_flock_a_live_holder_keeps_its_lock_file(tmp_path: Path,
                                                         holder: subprocess.Popen[str]) -> None:
    held = tmp_path / "other" / "lock.held"
    held.parent.mkdir()
    theirs = Holder(holder.pid, time.time(), "git datavc gc", repolock.socket.gethostname())
    held.write_bytes(theirs.encode())
    me = Holder(os.getpid(), time.time(), "git datavc repro", theirs.host)
    assert repolock._take_excl(held, me) is None
    assert repolock.read_holder(held) == theirs


def test_lock_timeout_setting(tmp_path: Path) -> None:
    assert Settings(tmp_path, {"core.locktimeout": "2.5"}).lock_timeout == 2.5
    assert Settings(tmp_path, {"core.locktimeout": "-1"}).lock_timeout == -1
    with pytest.raises(DatavcError, match="core.lockTimeout must be a number of seconds"):
        Settings(tmp_path, {"core.locktimeout": "soon"}).lock_timeout
