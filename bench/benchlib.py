"""What filter_bench.py, metafile_bench.py and sync_bench.py share: the throw-away HOME and
environment git and the tools run in, running commands (timed under /usr/bin/time or not),
the machine description at the top of the results, and two report helpers.

Imported as a sibling module (the scripts run as `python3 bench/X.py`, with bench/ on
sys.path). What each script measures and how it words its results stays in the script.

Where the three copies differed, the choices:

- isolated_env is the same for all three where a copy lacking something loses nothing:
  a fresh HOME each time (filter_bench kept the old one: nothing else uses it, and it
  rewrote the .gitconfig anyway); GIT_*, DVC_* and XDG_* left out of the caller's
  environment (filter_bench: GIT_* only); XDG_CACHE_HOME in that HOME, LC_ALL=C.UTF-8 and
  DVC_NO_ANALYTICS=1 (not in filter_bench's: it runs no DVC and parses no translated
  output); GIT_CEILING_DIRECTORIES at the work dir and its parent (sync_bench's alone:
  every git command the scripts run under the work dir has its repository there, so it
  only keeps git, git-lfs and git-datavc from reaching this checkout's .git).
  Parameters where the difference is real: `drop_also` and `extra` for sync_bench's
  AWS_* / DATAVC_* and S3 variables (a DATAVC_* override the caller exports still reaches
  the other two), `prefer_venv=False` for filter_bench's PATH rule (the checkout's .venv
  only when PATH finds no git-datavc; the others put it first whenever it has one).
- Runner: the failure messages are filter_bench's and metafile_bench's ("CMD exited N:
  <last 5 lines of stderr>", "CMD: timed out after N s"); sync_bench keeps its own through
  three small overrides, because its report parses them. `timed_run` is the
  /usr/bin/time part common to all three; filter_bench drops the command's stdout
  (keep_stdout=False), metafile_bench adds %U %S (cpu=True) and its memory sampler and
  CPU meter (a Watch), and each script turns the result into its own Sample.
- first_line runs its probe (`--version`, `uptime`, findmnt) in bench/ unless told
  otherwise: filter_bench and metafile_bench did; sync_bench passes its throw-away HOME.
- Machine holds the facts; each script keeps its own wording of the lines (sync_bench's
  differ from the others', and so do the load lines of all three).
- Tool is the part of metafile_bench's and sync_bench's tools that was the same (a key,
  the dvc executable, DVC's site cache in the repository); filter_bench's Tool is its own.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
TIME_BIN = "/usr/bin/time"
MIB = 1 << 20

HOME_GITCONFIG = """\
[user]
\tname = git-datavc bench
\temail = bench@example.invalid
[init]
\tdefaultBranch = main
[gc]
\tauto = 0
[maintenance]
\tauto = false
[advice]
\tdetachedHead = false
"""


class StepFailed(Exception):
    pass


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tail(data: bytes | str, lines: int = 5) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return " | ".join(text.strip().splitlines()[-lines:])


def require_gnu_time() -> None:
    if not os.access(TIME_BIN, os.X_OK):
        sys.exit(f"{TIME_BIN} not found: install GNU time (apt-get install time)")


# --------------------------------------------------------------------------- environment

def isolated_env(workdir: Path, home: Path, *, prefer_venv: bool = True,
                 drop_also: tuple[str, ...] = (), extra: dict[str, str] | None = None
                 ) -> dict[str, str]:
    """An environment that reads no user or system git config, no GIT_* overrides and no
    DVC analytics, with HOME a fresh directory holding HOME_GITCONFIG.

    prefer_venv: this checkout's development install (.venv), when there is one, goes first
    on PATH: the benchmark is of this working tree, not of whichever git-datavc PATH finds
    first (the hooks call `git-datavc` through PATH too, so they get the same one). False:
    only when PATH finds no git-datavc. drop_also: more variable prefixes to leave out;
    extra: variables to set."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text(HOME_GITCONFIG)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "DVC_", "XDG_", *drop_also))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), GIT_CONFIG_NOSYSTEM="1",
               GIT_TERMINAL_PROMPT="0", LC_ALL="C.UTF-8",
               # git (and git-lfs, DVC, git-datavc, which ask git) never look for a
               # repository above the work dir (git still looks in a ceiling directory
               # itself, then above it: hence its parent too, for commands run there)
               GIT_CEILING_DIRECTORIES=os.pathsep.join([str(workdir), str(workdir.parent)]),
               DVC_NO_ANALYTICS="1")
    env.update(extra or {})
    venv_bin = VENV_PYTHON.parent
    if (venv_bin / "git-datavc").exists() and (
            prefer_venv or shutil.which("git-datavc", path=env.get("PATH")) is None):
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    return env


# --------------------------------------------------------------------------- /usr/bin/time

TIME_FORMAT = "%e %M"            # wall seconds, peak RSS (KiB) of the largest single process
TIME_FORMAT_CPU = "%e %M %U %S"  # and the user and system CPU seconds of the whole tree


@dataclass
class TimeOutput:
    wall: float
    rss_kib: int
    cpu_seconds: float = 0.0  # %U + %S (TIME_FORMAT_CPU only)


def parse_time_output(text: str, cpu: bool = False) -> TimeOutput | None:
    """The last TIME_FORMAT (cpu: TIME_FORMAT_CPU) line written by /usr/bin/time (other
    lines are its notes)."""
    pattern = r"\s*([\d.]+)\s+(\d+)" + (r"\s+([\d.]+)\s+([\d.]+)" if cpu else "") + r"\s*"
    for line in reversed(text.splitlines()):
        m = re.fullmatch(pattern, line)
        if m:
            return TimeOutput(float(m.group(1)), int(m.group(2)),
                              float(m.group(3)) + float(m.group(4)) if cpu else 0.0)
    return None


@dataclass
class Timed:
    """One command run by Runner.timed_run."""
    seconds: float     # wall time measured here, process start-up included
    time: TimeOutput   # what /usr/bin/time wrote
    stdout: bytes      # empty with keep_stdout=False
    stderr: bytes

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).decode(errors="replace")


class Watch:
    """Something that watches a timed command (metafile_bench's memory sampler and CPU
    meter): `before` right before the command starts (after os.sync()), `started` with its
    pid, `ended` once it has ended or been killed."""

    def before(self) -> None:
        pass

    def started(self, pid: int) -> None:
        pass

    def ended(self) -> None:
        pass


# --------------------------------------------------------------------------- running commands

class Runner:
    """Runs commands with one environment, each in a session of its own (a timeout kills
    its whole tree); a failure raises StepFailed. The three methods under "messages" word
    the failures: sync_bench overrides them."""

    def __init__(self, env: dict[str, str], timeout: float) -> None:
        self.env = env
        self.timeout = timeout

    # messages
    def shown(self, args: list[str]) -> str:
        return shlex.join(args)

    def error_text(self, out: bytes, err: bytes) -> str:
        return tail(err)

    def timed_out(self, what: str) -> str:
        return f"{what}: timed out after {self.timeout:.0f} s"

    # running
    def popen(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
              keep_stdout: bool = True) -> "subprocess.Popen[bytes]":
        return subprocess.Popen(argv, cwd=cwd, env={**self.env, **(env or {})},
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)

    def wait(self, proc: "subprocess.Popen[bytes]", what: str) -> tuple[bytes, bytes]:
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session started for this command
            proc.communicate()
            raise StepFailed(self.timed_out(what)) from None
        return out or b"", err or b""

    def run(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
        """Untimed command: its stdout; StepFailed on a non-zero exit."""
        proc = self.popen(args, cwd, env)
        out, err = self.wait(proc, shlex.join(args))
        if proc.returncode != 0:
            raise StepFailed(f"{self.shown(args)} exited {proc.returncode}: "
                             f"{self.error_text(out, err)}")
        return out.decode(errors="replace")

    def timed_run(self, args: list[str], cwd: Path, env: dict[str, str] | None = None, *,
                  cpu: bool = False, keep_stdout: bool = True, watch: Watch | None = None
                  ) -> Timed:
        """The command under /usr/bin/time, after os.sync(); StepFailed on a non-zero exit."""
        watch = watch or Watch()
        with tempfile.NamedTemporaryFile("r", prefix="time-", suffix=".txt") as tf:
            argv = [TIME_BIN, "-f", TIME_FORMAT_CPU if cpu else TIME_FORMAT, "-o", tf.name,
                    "--", *args]
            os.sync()
            watch.before()
            start = time.perf_counter()
            proc = self.popen(argv, cwd, env, keep_stdout)
            watch.started(proc.pid)
            try:
                out, err = self.wait(proc, shlex.join(args))
            finally:
                watch.ended()
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise StepFailed(f"{self.shown(args)} exited {proc.returncode}: "
                                 f"{self.error_text(out, err)}")
            parsed = parse_time_output(tf.read(), cpu)
        if parsed is None:
            raise StepFailed(f"{self.shown(args)}: no output from {TIME_BIN}")
        return Timed(seconds, parsed, out, err)


def first_line(runner: Runner, args: list[str], cwd: Path = HERE) -> str | None:
    """The first line of an untimed command's output (a version, `uptime`), or None when it
    does not run."""
    try:
        return runner.run(args, cwd).strip().splitlines()[0]
    except (StepFailed, OSError, IndexError):
        return None


# --------------------------------------------------------------------------- tools

@dataclass
class Tool:
    """A benchmarked tool by its key ("dvc": DVC), with the dvc executable to run."""
    key: str
    dvc: str

    def env(self, repo: Path) -> dict[str, str]:
        """Variables for the tool's commands in REPO: DVC's site cache (its index and
        hash-state databases) inside the repository, fresh for every repository, counted
        by du, removed with the repository."""
        if self.key == "dvc":
            return {"DVC_SITE_CACHE_DIR": str(repo / ".dvc" / "tmp" / "site-cache")}
        return {}


# --------------------------------------------------------------------------- git-datavc snapshot

def write_launcher(root: Path, python: Path = VENV_PYTHON) -> Path:
    """ROOT/bin/git-datavc, a script that runs the copy of git_datavc/ in ROOT with PYTHON
    (the checkout's .venv python: its dependencies), the copy byte-compiled first; returns
    ROOT/bin. The hooks and filters call `git-datavc` through PATH: that dir goes first."""
    subprocess.run([str(python), "-m", "compileall", "-q", str(root / "git_datavc")],
                   check=True)
    (root / "bin").mkdir()
    script = root / "bin" / "git-datavc"
    script.write_text(f"#!{python}\nimport sys\nsys.path.insert(0, {str(root)!r})\n"
                      "from git_datavc.main import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return root / "bin"


# --------------------------------------------------------------------------- machine

def proc_field(path: str, name: str) -> str:
    """The value of the first `NAME: value` line of a /proc file, or "?"."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


@dataclass
class Machine:
    date: str     # now, UTC, "%Y-%m-%d %H:%M"
    cpu: str      # /proc/cpuinfo's model name, or "?"
    nproc: int    # CPUs this process may run on
    memory: str   # "15.6 GiB" (MemTotal), or "?"
    system: str   # "Linux 6.1.0-18-amd64"
    fstype: str   # the work dir's file system (findmnt), or "?"


def describe_machine(runner: Runner, workdir: Path, cwd: Path = HERE) -> Machine:
    mem_kib = proc_field("/proc/meminfo", "MemTotal").split()[0]
    fstype = first_line(runner, ["findmnt", "-n", "-o", "FSTYPE", "-T", str(workdir)], cwd) or "?"
    return Machine(date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                   cpu=proc_field("/proc/cpuinfo", "model name"),
                   nproc=len(os.sched_getaffinity(0)),
                   memory=f"{int(mem_kib) / MIB:.1f} GiB" if mem_kib.isdigit() else "?",
                   system=f"{platform.system()} {platform.release()}",
                   fstype=fstype)


# --------------------------------------------------------------------------- report

class HasSeconds(Protocol):
    seconds: float


def fmt_seconds(samples: Sequence[HasSeconds]) -> str:
    """min–max of the wall times (one figure when both ends round alike): 3 decimals below
    1 s, 2 below 10 s, else 1; "–" for none."""
    if not samples:
        return "–"
    lo, hi = min(s.seconds for s in samples), max(s.seconds for s in samples)
    digits = 3 if hi < 1 else 2 if hi < 10 else 1
    return f"{lo:.{digits}f}" if len(samples) == 1 or round(lo, digits) == round(hi, digits) \
        else f"{lo:.{digits}f}–{hi:.{digits}f}"


def write_or_print(text: str, results: Path, write: bool) -> None:
    """`--write-results`: the text goes to `results` (a file in bench/); else to stdout."""
    if write:
        results.write_text(text)
        print(f"wrote {results.relative_to(REPO_ROOT)}")
    else:
        print(text)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table, the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30) -> bool:
    """True once something accepts connections on 127.0.0.1:PORT; False after `seconds`."""
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start_server(argv: list[str], port: int, what: str) -> "subprocess.Popen[bytes]":
    """Start a server (output discarded) and wait until it listens on PORT."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_for_port(port):
        proc.kill()
        proc.wait()
        raise SystemExit(f"{what} did not start")
    return proc
