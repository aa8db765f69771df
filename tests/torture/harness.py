"""The kill -9 harness: start a command in its own process group, SIGKILL the whole group
after a random delay, and check what it left behind.

Every trial draws its delay from `random.Random(f"{seed}-{name}-{n}")`; the seed is printed
at the start of each trial (pytest shows it with a failure), and `TORTURE_SEED=...` replays
a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from git_datavc.hashing import hash_bytes, hash_file
from tests.helpers import datavc, git

SEED = int(os.environ.get("TORTURE_SEED") or random.SystemRandom().randrange(10**9))


@dataclass
class Trial:
    name: str
    n: int
    rng: random.Random

    def delay(self, longest: float) -> float:
        """A moment to kill at: anywhere from the start to a bit past a normal run's end."""
        return self.rng.uniform(0, longest * 1.1)


def trials(name: str, count: int) -> Iterator[Trial]:
    for n in range(count):
        print(f"torture {name} trial {n}: TORTURE_SEED={SEED}", flush=True)
        yield Trial(name, n, random.Random(f"{SEED}-{name}-{n}"))


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """`args` in a new session (its own process group: git, filters, hooks, ssh all in it)."""
    return subprocess.Popen(args, cwd=cwd, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL `proc`'s process group after `delay` seconds; False if it ended first."""
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        killed = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # also whatever it left running
    except ProcessLookupError:
        pass
    proc.wait()
    if proc.stderr:
        proc.stderr.close()
    return killed


def run_killed(args: list[str], cwd: Path, delay: float) -> bool:
    return kill_after(start(args, cwd), delay)


def timed(args: list[str], cwd: Path) -> float:
    """Seconds one uninterrupted run takes (asserting it succeeds): the kill window."""
    began = time.monotonic()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return time.monotonic() - began


def after_kill(repo: Path) -> None:
    """What a user does after a killed git: remove git's own lock files (git leaves
    index.lock behind whenever it dies, and tells the user to remove it)."""
    for lock in (repo / ".git").glob("*.lock"):
        lock.unlink()


def cache_dir(repo: Path) -> Path:
    return repo / ".git" / "datavc" / "cache"


def in_cache(repo: Path, data: bytes) -> bool:
    """`data`'s object is in the cache with exactly these bytes."""
    oid = hash_bytes(data)
    path = cache_dir(repo) / "files" / "blake3" / oid[:2] / oid[2:]
    return path.is_file() and hash_file(path)[0] == oid


def assert_intact(repo: Path, rel: str, versions: list[bytes]) -> None:
    """The user's data at `rel` is one version complete, or every version is safe in the
    cache (a killed checkout may leave a half-written file that the rerun replaces)."""
    path = repo / rel
    if path.is_file() and path.read_bytes() in versions:
        return
    assert all(in_cache(repo, v) for v in versions), \
        f"{rel}: neither a complete version in the workspace nor every version in the cache"


def assert_verify_clean(repo: Path) -> None:
    out = datavc(repo, "verify", check=False)
    assert out.returncode == 0 and "none corrupt" in out.stdout, out.stdout + out.stderr


def status(repo: Path) -> list[str]:
    return sorted(git(repo, "status", "--porcelain", "--untracked-files=all").stdout
                  .splitlines())
