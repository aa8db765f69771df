"""The one door to git: every `git` subprocess and every pygit2 use lives here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence, TextIO

from .errors import DatavcError, GitError

BIG_INPUT = 1 << 16


def run(args: Sequence[str], cwd: str | os.PathLike[str] | None = None,
        input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> bytes:
    """Run `git ARGS`; return stdout. A failure becomes a GitError with git's message.
    `env`: variables set for this git only (GIT_INDEX_FILE, DATAVC_SKIP_HOOKS)."""
    full_env = {**os.environ, **env} if env else None
    try:
        if input is not None and len(input) > BIG_INPUT:
            # Through files: subprocess's pipe loop wakes for every write of git's (three per
            # object in `cat-file --batch`) and feeds 512 bytes per round; for 10,000 ids
            # that loop cost more than git's own work.
            import tempfile     # not at the top: the filter and hooks start without it

            with tempfile.TemporaryFile() as f_in, tempfile.TemporaryFile() as f_out:
                f_in.write(input)
                f_in.seek(0)
                proc = subprocess.run(["git", *args], cwd=cwd, stdin=f_in, stdout=f_out,
                                      stderr=subprocess.PIPE, env=full_env)
                f_out.seek(0)
                proc.stdout = f_out.read()
        else:
            proc = subprocess.run(["git", *args], cwd=cwd, input=input,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        message = lines[-1] if lines else f"git {args[0]} exited with {proc.returncode}"
        raise GitError(message.removeprefix("fatal: ").removeprefix("error: "))
    return proc.stdout


@dataclass(frozen=True)
class Repo:
    root: Path        # top of the work tree
    git_dir: Path     # this worktree's git dir
    common_dir: Path  # shared by all worktrees: the cache and state live under it

    @property
    def datavc_dir(self) -> Path:
        return self.common_dir / "datavc"

    def git(self, *args: str, input: bytes | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> bytes:
        return run(args, cwd=self.root, input=input, check=check, env=env)


def find_repo(start: str | os.PathLike[str] | None = None) -> Repo:
    """The repository containing `start` (default: the current directory)."""
    try:
        out = run(["rev-parse", "--path-format=absolute", "--show-toplevel",
                   "--git-dir", "--git-common-dir"], cwd=start)
    except GitError as e:
        raise GitError(f"not in a git repository with a work tree ({e.message})") from None
    lines = out.decode().splitlines()
    if len(lines) != 3:
        raise GitError("not in a git repository with a work tree")
    return Repo(Path(lines[0]), Path(lines[1]), Path(lines[2]))


def hooks_dir(repo: Repo) -> Path:
    """Where git runs hooks from: respects core.hooksPath."""
    out = repo.git("rev-parse", "--path-format=absolute", "--git-path", "hooks")
    return Path(out.decode().strip())


def check_attr(repo: Repo, attr: str, paths: Iterable[str]) -> dict[str, str]:
    """The value of `attr` for each path (`unspecified`, `set`, `unset` or a value)."""
    data = b"".join(p.encode() + b"\0" for p in paths)
    if not data:
        return {}
    out = repo.git("check-attr", "-z", "--stdin", attr, input=data).split(b"\0")
    return {out[i].decode(): out[i + 2].decode() for i in range(0, len(out) - 2, 3)}


def staged_changes(repo: Repo) -> list[tuple[str, str, str]]:
    """(mode, blob sha, path) of files added or modified in the index against HEAD."""
    has_head = bool(repo.git("rev-parse", "--verify", "-q", "HEAD", check=False))
    base = "HEAD" if has_head else run(["hash-object", "-t", "tree", "/dev/null"]).decode().strip()
    out = repo.git("diff-index", "--cached", "-z", "--no-renames", "--diff-filter=AM", base)
    fields = out.split(b"\0")
    changes = []
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].decode().lstrip(":").split()
        changes.append((meta[1], meta[3], fields[i + 1].decode()))
    return changes


def index_entries(repo: Repo, paths: Sequence[str] = ()) -> Iterator[tuple[str, str, str]]:
    """(mode, blob sha, path) of stage-0 index entries, optionally limited to pathspecs."""
    out = repo.git("ls-files", "-s", "-z", "--", *paths)
    for record in out.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            mode, sha, stage = meta.decode().split()
            if stage == "0":
                yield mode, sha, path.decode()


def blob_sizes(repo: Repo, shas: Sequence[str]) -> dict[str, int]:
    if not shas:
        return {}
    out = repo.git("cat-file", "--buffer", "--batch-check=%(objectname) %(objectsize)",
                   input="".join(s + "\n" for s in shas).encode())
    sizes = {}
    for line in out.decode().splitlines():
        sha, size = line.split()
        sizes[sha] = int(size)
    return sizes


def blob_info(repo: Repo, shas: Sequence[str]) -> dict[str, int | None]:
    """Size of each blob (None for another object type or a missing object)."""
    if not shas:
        return {}
    out = repo.git("cat-file", "--buffer", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                   input="".join(s + "\n" for s in shas).encode())
    info: dict[str, int | None] = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:
            info[parts[0]] = int(parts[2]) if parts[1] == "blob" else None
    return info


def tree_blobs(repo: Repo, rev: str) -> list[tuple[str, int, str]]:
    """(sha, size, path) of every blob in rev's tree, in one `git ls-tree`."""
    out = repo.git("ls-tree", "-r", "-l", "-z", "--full-tree", rev)
    blobs = []
    for record in filter(None, out.decode("utf-8", "surrogateescape").split("\0")):
        meta, path = record.split("\t", 1)
        _, kind, sha, size = meta.split()
        if kind == "blob":
            blobs.append((sha, int(size), path))
    return blobs


def read_blobs(repo: Repo, shas: Sequence[str]) -> dict[str, bytes]:
    """Contents of small blobs (pointers), in one `git cat-file --batch`."""
    if not shas:
        return {}
    out = repo.git("cat-file", "--buffer", "--batch", input="".join(s + "\n" for s in shas).encode())
    blobs, pos = {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        if len(header) < 3:  # "<sha> missing"
            pos = end + 1
            continue
        size = int(header[2])
        blobs[header[0]] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
    return blobs


def blob_stream(repo: Repo, sha: str) -> subprocess.Popen[bytes]:
    """A `git cat-file blob` process whose stdout streams a (possibly large) blob."""
    return subprocess.Popen(["git", "cat-file", "blob", sha], cwd=repo.root,
                            stdout=subprocess.PIPE)


def popen(repo: Repo, args: Sequence[str], stdin: int | IO[bytes] | None = None,
          stdout: int | IO[bytes] | None = subprocess.PIPE,
          stderr: int | IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """A long-running `git ARGS` whose pipes the caller drives (fast-export, fast-import,
    cat-file --batch-command: history rewriting streams through them)."""
    try:
        return subprocess.Popen(["git", *args], cwd=repo.root, stdin=stdin, stdout=stdout,
                                stderr=stderr)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None


PIPE = subprocess.PIPE


def write_blob(repo: Repo, data: bytes) -> str:
    """Store `data` as a blob exactly as given (no filters)."""
    return repo.git("hash-object", "-w", "--stdin", "--no-filters", input=data).decode().strip()


def set_index_entry(repo: Repo, mode: str, sha: str, path: str) -> None:
    repo.git("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}")


def config_get_all(scope_args: Sequence[str], cwd: str | os.PathLike[str] | None = None
                   ) -> dict[str, str]:
    """Every key of one git-config scope or file (`--global`, `-f FILE`, ...)."""
    return _parse_config_list(run(["config", *scope_args, "--list", "-z"], cwd=cwd, check=False))


def _parse_config_list(out: bytes) -> dict[str, str]:
    values = {}
    for item in out.split(b"\0"):
        if item:
            key, _, value = item.decode(errors="replace").partition("\n")
            values[key] = value
    return values


def config_file(path: Path) -> dict[str, str]:
    """Every key of a git-config file; a file git cannot parse is an error, not ignored."""
    try:
        out = run(["config", "--file", str(path), "--list", "-z"])
    except GitError as e:
        raise GitError(f"cannot read {path.name}: {e.message}") from None
    return _parse_config_list(out)


def config_set(scope_args: Sequence[str], key: str, value: str,
               cwd: str | os.PathLike[str] | None = None) -> None:
    run(["config", *scope_args, key, value], cwd=cwd)


def config_unset(scope_args: Sequence[str], key: str,
                 cwd: str | os.PathLike[str] | None = None) -> None:
    run(["config", *scope_args, "--unset-all", key], cwd=cwd, check=False)


def config_unset_section(scope_args: Sequence[str], section: str,
                         cwd: str | os.PathLike[str] | None = None) -> None:
    run(["config", *scope_args, "--remove-section", section], cwd=cwd, check=False)


_OUTPUT_LOCK = threading.Lock()


def run_command(command: str, cwd: str | os.PathLike[str], env: dict[str, str],
                prefix: str = "") -> int:
    """Run a pipeline stage's shell command with its output going straight to ours; returns
    its exit status. With `prefix` (stages running side by side), each whole line of its
    stdout and stderr goes to ours with the prefix in front, so lines of two stages never
    mix. The one process git-datavc starts that is not git: it lives here so that every
    process start stays in this module."""
    try:
        if not prefix:
            return subprocess.run(command, shell=True, cwd=cwd, env=env).returncode
        proc = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise DatavcError(f"cannot run {command!r}: {e.strerror}") from None
    assert proc.stdout is not None and proc.stderr is not None
    err = threading.Thread(target=_copy_lines, args=(proc.stderr, sys.stderr, prefix))
    err.start()
    _copy_lines(proc.stdout, sys.stdout, prefix)
    err.join()
    return proc.wait()


def _copy_lines(source: IO[bytes], dest: TextIO, prefix: str) -> None:
    head = prefix.encode()
    with source:
        for line in source:
            if not line.endswith(b"\n"):
                line += b"\n"
            with _OUTPUT_LOCK:
                dest.flush()
                dest.buffer.write(head + line)
                dest.buffer.flush()


def start_datavc(args: Sequence[str], cwd: str | os.PathLike[str],
                 env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `git datavc ARGS` (this interpreter's) in `cwd` with its stdout and stderr
    merged into one pipe: how an experiment runs its pipeline in its own worktree, so that
    several can run side by side and each one's output goes to its own log."""
    try:
        # a session of its own: `stop` ends it with the stage commands it started
        return subprocess.Popen([sys.executable, "-m", "git_datavc.main", *args], cwd=cwd,
                                env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as e:
        raise DatavcError(f"cannot start git-datavc: {e.strerror}") from None


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """End a process from `start_datavc` and everything it started: SIGTERM to its
    process group, SIGKILL after `grace` seconds."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
