#!/usr/bin/env python3
"""Push, then pull into a fresh clone: git-datavc (metafile mode and filter mode) vs DVC vs
Git LFS, end to end through each tool's command line, to a local directory and to moto's
S3 server on 127.0.0.1.

Data (bench/gen_data.py's seeded dataset; bench/scratch/data at full size, else
bench/scratch/data-COUNT-MIB):

  small  the small-file tree (50,000 files of 1-8 KiB), committed as v1; then every 100th
         file is deleted and recreated with new random bytes (1%, the same new content as
         bench/metafile_bench.py's) and committed as v2
  big    big.bin (1 GiB), committed as v1; then big-v2.bin (1 MiB in the middle differs)
         copied over it and committed as v2

Tools, each in a fresh source repository per (remote, data, run):

  datavc  git-datavc metafile mode: `git datavc add small` (small.datavc) / `add big.bin`
  dvc     DVC: `dvc add small` / `dvc add big.bin` (PyPI, its own venv, with dvc-s3)
  filter  git-datavc filter mode: `git datavc track 'small/**'` (or big.bin), `git add`
  lfs     Git LFS: `git lfs track 'small/**'` (or big.bin), `git add`; local remote only:
          an `lfs.url` of file://DIR (`.lfsconfig`, committed) uses git-lfs's built-in
          standalone file transfer agent, which needs DIR to be a git repository (a bare
          one here; its lfs/objects holds the data: given a plain directory, the agent
          looks for a repository above it, and would write into this checkout's .git
          without GIT_CEILING_DIRECTORIES). Git LFS has no S3 transfer: skipped.

The source repository's git history goes (untimed, without hooks) to a bare repository
next to it, which every clone clones from. Timed steps, each a command of its own under
/usr/bin/time (wall time, peak RSS of the largest single process in the command's tree),
after os.sync():

  push         remote empty (`git datavc push --all-commits`, `dvc push --all-commits`,
               `git lfs push --all origin`)
  no-op push   the same command again, everything already there
  clone        `git clone` into a fresh directory (Git LFS: GIT_LFS_SKIP_SMUDGE=1, so
               that its data comes with the pull; git-datavc's filter mode fetches HEAD's
               data inside the clone, through the smudge filter)
  pull, all commits   in that clone: `git datavc pull --all-commits`,
               `dvc pull --all-commits`, `git lfs fetch --all origin && git lfs checkout`
  pull, HEAD only     in a second fresh clone: `git datavc pull`, `dvc pull`, `git lfs pull`
  clone + pull        the sums, for a fair comparison with the filter mode's clone

and, before each tool's turn, `cp -r` of the same data as a baseline of how fast the
machine writes files at that moment (on a shared machine that varies several-fold).

Between clone and pull (untimed): `git datavc install` in git-datavc's clones (the README
asks for it: it adds the hooks). S3 credentials (dummy, `bench`, region us-east-1) come
from the AWS_* environment for every tool alike; the endpoint URL is in the committed
remote config (`git datavc remote modify store endpointurl ...`,
`dvc remote modify store endpointurl ...`).

Checks (untimed): after each pull, 200 small files (half of them changed ones) or the
big file, and the number of files under small/, are compared with the source bytes of
v2, and `git status` must be clean. Then the remote is taken away (the local directory renamed, the bucket emptied) and
the all-commits clone switches to v1 (`git checkout v1`; DVC: `&& dvc checkout`), which
must now come from the clone's own cache alone, and is compared the same way.

Cache types are each tool's default (reflink, else copy, for both git-datavc and DVC).
Git and the tools run with HOME under the work dir (git user, gc.auto=0;
`git datavc install --global --no-hooks`; `git lfs install`; DVC analytics and update
checks off), GIT_CONFIG_NOSYSTEM=1 and GIT_CEILING_DIRECTORIES at the work dir; DVC's
site cache goes into each repository's .dvc/tmp. git-datavc runs from a copy of this
checkout's committed git_datavc/ (HEAD, by `git archive`) taken at the start: the
figures are those of one commit even while others edit the working tree
(--snapshot-worktree: a copy of the working tree instead; --no-snapshot: as installed).

  python3 bench/sync_bench.py --small-count 2000 --big-mib 64      # a quick try
  python3 bench/sync_bench.py --write-results                       # full size

Needs GNU time, git, git-lfs, this checkout's dev install (.venv: boto3, moto[server]) and
DVC in bench/scratch/dvc-venv:
  python3 -m venv bench/scratch/dvc-venv && bench/scratch/dvc-venv/bin/pip install dvc dvc-s3
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import benchlib  # noqa: E402  (sibling modules)
import gen_data  # noqa: E402
from benchlib import (MIB, VENV_PYTHON, StepFailed, describe_machine,  # noqa: E402
                      free_port, isolated_env, progress, wait_for_port)

RESULTS_FILE = HERE / "results_sync.md"
DEFAULT_DVC = HERE / "scratch" / "dvc-venv" / "bin" / "dvc"
CHANGE_EVERY = 100   # every 100th small file changes in v2: 1%
SAMPLE = 200         # small files compared after each pull
CHANGED_FORMAT = 1   # bump when the generated v2 content changes

# S3 credentials (dummy) and region for every tool alike, moto on 127.0.0.1 never proxied;
# with AWS_* and DATAVC_* left out of the caller's environment
S3_ENV = dict(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
              AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
              NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")

TOOLS = ("datavc", "dvc", "filter", "lfs")
LABELS = {"datavc": "git-datavc (metafile)", "dvc": "DVC",
          "filter": "git-datavc (filter)", "lfs": "Git LFS"}
REFERENCE = {"datavc": "dvc", "filter": "lfs"}  # ratio columns: reference ÷ this tool

STEPS = [
    ("push", "push (remote empty)"),
    ("noop_push", "no-op push"),
    ("clone_all", "clone"),
    ("pull_all", "pull, all commits"),
    ("clone_head", "clone (2nd fresh clone)"),
    ("pull_head", "pull, HEAD only"),
]
TIMED = [k for k, _ in STEPS]
CLONE_OF = {"pull_all": "clone_all", "pull_head": "clone_head"}  # the "clone + pull" column

S3_ADMIN = r"""
import sys, boto3
action, endpoint, bucket = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
if action == "create":
    s3.create_bucket(Bucket=bucket)
    print(0)
else:
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        n += len(keys)
        if action != "count" and keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    if action == "delete":
        s3.delete_bucket(Bucket=bucket)
    print(n)
"""


# --------------------------------------------------------------------------- plumbing

@dataclass
class Sample:
    seconds: float
    rss_kib: int


def last_line(data: bytes | str) -> str:
    """The last line of a command's output that reads like an error (git-datavc and git
    end with a `hint:` line after it), else the last line."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    for line in reversed(lines):
        if re.match(r"(error|fatal|ERROR|Error)\b|[\w.]*(Error|Exception)\b", line):
            return line
    return lines[-1] if lines else "(no output)"


class Runner(benchlib.Runner):
    """benchlib's, with this script's failure messages: "`CMD` exited N: <the line that
    reads like an error>" (collect() parses that form) and "timed out after N s: CMD"."""

    def shown(self, args: list[str]) -> str:
        return f"`{shlex.join(args)}`"

    def error_text(self, out: bytes, err: bytes) -> str:
        return last_line(err or out)

    def timed_out(self, what: str) -> str:
        return f"timed out after {self.timeout:g} s: {what}"

    def timed(self, args: list[str], cwd: Path, env: dict[str, str] | None = None
              ) -> tuple[Sample, str]:
        """Timed command under /usr/bin/time: (sample, stdout + stderr)."""
        t = self.timed_run(args, cwd, env)
        return Sample(t.seconds, t.time.rss_kib), t.output


def snapshot_datavc(root: Path, worktree: bool) -> tuple[Path, str]:
    """Put this checkout's git_datavc/ in ROOT, with ROOT/bin/git-datavc running it on the
    checkout's .venv python; returns (ROOT/bin, what was taken). The bin dir goes first on
    PATH: git's filter config and the hooks call `git-datavc` through PATH.

    By default the committed HEAD (`git archive`): others may be half-way through an edit
    of the working tree. worktree: the working tree as it is."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    git = ["git", "-C", str(REPO_ROOT), "--no-optional-locks"]
    try:
        commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        if worktree:
            dirty = subprocess.run(git + ["status", "--porcelain", "--", "git_datavc"],
                                   capture_output=True, text=True, check=True).stdout.strip()
            shutil.copytree(REPO_ROOT / "git_datavc", root / "git_datavc",
                            ignore=shutil.ignore_patterns("__pycache__"))
            what = (f"commit {commit}" + (" + uncommitted changes" if dirty else "")
                    + ", the working tree's git_datavc/ as it was at the start")
        else:
            tar = subprocess.run(git + ["archive", "--format=tar", "HEAD", "git_datavc"],
                                 capture_output=True, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
                tf.extractall(root, filter="data")
            what = f"commit {commit} (its git_datavc/, by `git archive` at the start)"
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"could not take a copy of git_datavc/: {e}")
    return benchlib.write_launcher(root, VENV_PYTHON), what


def first_line(runner: Runner, args: list[str]) -> str | None:
    """benchlib.first_line run from the throw-away HOME, never inside a repository."""
    return benchlib.first_line(runner, args, Path(runner.env["HOME"]))


# --------------------------------------------------------------------------- data

@dataclass
class Data:
    root: Path       # gen_data's dir: big.bin, big-v2.bin, small/
    changed: Path    # v2 content of every 100th small file: changed/<rel>
    count: int
    big_mib: int


def prepare_data(args: argparse.Namespace) -> Data:
    full = (args.small_count, args.big_mib) == (50_000, 1024)
    root = HERE / "scratch" / ("data" if full else f"data-{args.small_count}-{args.big_mib}")
    if args.seed != 1:
        root = root.with_name(root.name + f"-seed{args.seed}")
    gen_data.generate(root, args.big_mib, args.small_count, args.seed)
    changed = args.workdir / f"changed-{args.small_count}-seed{args.seed}"
    stamp = changed / ".stamp.json"
    params = {"format": CHANGED_FORMAT, "gen_format": gen_data.FORMAT_VERSION,
              "count": args.small_count, "seed": args.seed}
    fresh = False
    try:
        fresh = json.loads(stamp.read_text()) == params
    except (OSError, ValueError):
        pass
    if not fresh:
        if changed.exists():
            shutil.rmtree(changed)
        # the same new content as metafile_bench.py's "changed" files
        rng = random.Random(f"changed:{args.seed}")
        for index in changed_indices(args.small_count):
            path = changed / gen_data.small_path(index)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(rng.randint(gen_data.SMALL_MIN, gen_data.SMALL_MAX)))
        stamp.write_text(json.dumps(params) + "\n")
    return Data(root, changed, args.small_count, args.big_mib)


def changed_indices(count: int) -> range:
    return range(0, count, CHANGE_EVERY)


def sample_indices(count: int) -> list[int]:
    """Half changed files, half unchanged ones, spread over the tree."""
    changed = list(changed_indices(count))
    pick_c = changed[:: max(1, len(changed) // (SAMPLE // 2))][: SAMPLE // 2]
    others = [i for i in range(0, count, max(1, count // SAMPLE)) if i % CHANGE_EVERY][: SAMPLE - len(pick_c)]
    return sorted(set(pick_c + others))


def same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(MIB), fb.read(MIB)
            if x != y:
                return False
            if not x:
                return True


def verify(workspace: Path, data: Data, which: str, version: str) -> str:
    """Compare the clone's workspace with the source bytes; StepFailed if it differs."""
    try:
        if which == "big":
            src = data.root / ("big-v2.bin" if version == "v2" else "big.bin")
            if not same_file(workspace / "big.bin", src):
                raise StepFailed(f"{version}: big.bin differs from {src.name} "
                                 f"({(workspace / 'big.bin').stat().st_size} bytes)")
            return f"{version} ok"
        found = sum(len(files) for _, _, files in os.walk(workspace / "small"))
        if found != data.count:
            raise StepFailed(f"{version}: {found} files under small/, expected {data.count}")
        changed = set(changed_indices(data.count))
        picked = sample_indices(data.count)
        for index in picked:
            rel = gen_data.small_path(index)
            src = (data.changed if version == "v2" and index in changed else data.root / "small") / rel
            if not same_file(workspace / "small" / rel, src):
                raise StepFailed(f"{version}: small/{rel.as_posix()} differs from the source")
        return f"{version} ok"
    except FileNotFoundError as e:
        raise StepFailed(f"{version}: missing {Path(e.filename).name}") from None


# --------------------------------------------------------------------------- moto S3

class Moto:
    """moto's server; with `latency_ms`, the tools reach it through bench/lagproxy.py, which
    delays every byte that much each way (bucket admin goes straight to moto)."""

    def __init__(self, workdir: Path, latency_ms: float = 0) -> None:
        self.port = free_port()
        self.endpoint = self.direct = f"http://127.0.0.1:{self.port}"
        self.proxy: subprocess.Popen[bytes] | None = None
        tmp = workdir / "moto-tmp"   # where moto spools big objects
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = open(workdir / "moto.log", "wb")
        self.proc = subprocess.Popen(
            [str(VENV_PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(tmp)})
        if not wait_for_port(self.port):
            self.stop()
            raise SystemExit("moto server did not start (see moto.log in the work dir)")
        if latency_ms:
            listen = free_port()
            self.proxy = subprocess.Popen(
                [sys.executable, str(HERE / "lagproxy.py"), str(listen), str(self.port),
                 str(latency_ms)], stdout=self.log, stderr=subprocess.STDOUT)
            self.endpoint = f"http://127.0.0.1:{listen}"
            if not wait_for_port(listen):
                self.stop()
                raise SystemExit("lagproxy did not start (see moto.log in the work dir)")

    def admin(self, action: str, bucket: str) -> int:
        out = subprocess.run([str(VENV_PYTHON), "-c", S3_ADMIN, action, self.direct, bucket],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise StepFailed(f"S3 {action} {bucket}: {last_line(out.stderr)}")
        return int(out.stdout.strip() or 0)

    def stop(self) -> None:
        for proc in (self.proxy, self.proc):
            if proc is not None:
                proc.kill()
                proc.wait()
        self.log.close()


# --------------------------------------------------------------------------- tools

@dataclass
class Remote:
    target: str
    url: str                   # git-datavc / DVC remote URL, or Git LFS's lfs.url
    path: Path | None = None   # local: the directory (LFS: the bare repository)
    bucket: str | None = None
    endpoint: str | None = None


@dataclass
class Tool(benchlib.Tool):
    dvc_jobs: int = 0       # DVC's `remote.store.jobs`; 0: its default
    layout: int = 1         # git-datavc's `remote.store.layout` (2: chunks in packs)

    @property
    def label(self) -> str:
        return LABELS[self.key]

    def setup(self, runner: Runner, repo: Path, remote: Remote, path: str) -> None:
        run = lambda *a: runner.run(list(a), repo, self.env(repo))  # noqa: E731
        run("git", "init", "-q", "-b", "main")
        if self.key in ("datavc", "filter"):
            run("git", "datavc", "init")
            if self.key == "filter":
                run("git", "datavc", "track", "small/**" if path == "small" else path)
            run("git", "datavc", "remote", "add", "-d", "store", remote.url)
            if remote.endpoint:
                run("git", "datavc", "remote", "modify", "store", "endpointurl", remote.endpoint)
            if self.layout != 1:
                run("git", "datavc", "remote", "modify", "store", "layout", str(self.layout))
            run("git", "add", "-A")
        elif self.key == "dvc":
            run(self.dvc, "init", "-q")
            run(self.dvc, "remote", "add", "-d", "store", remote.url)
            if remote.endpoint:
                run(self.dvc, "remote", "modify", "store", "endpointurl", remote.endpoint)
            if self.dvc_jobs:
                run(self.dvc, "remote", "modify", "store", "jobs", str(self.dvc_jobs))
            run("git", "add", "-A")
        else:
            run("git", "lfs", "install", "--local")
            run("git", "lfs", "track", "small/**" if path == "small" else path)
            run("git", "config", "-f", ".lfsconfig", "lfs.url", remote.url)
            run("git", "add", ".gitattributes", ".lfsconfig")
        run("git", "commit", "-q", "-m", "setup")

    def add_and_commit(self, runner: Runner, repo: Path, path: str, message: str) -> None:
        run = lambda *a: runner.run(list(a), repo, self.env(repo))  # noqa: E731
        if self.key == "datavc":
            run("git", "datavc", "add", path)
            run("git", "add", f"{path}.datavc", ".gitignore")
        elif self.key == "dvc":
            run(self.dvc, "add", "-q", path)
            run("git", "add", f"{path}.dvc", ".gitignore")
        else:
            run("git", "add", path)
        run("git", "commit", "-q", "-m", message)

    def push(self) -> list[str]:
        if self.key == "lfs":
            return ["git", "lfs", "push", "--all", "origin"]
        if self.key == "dvc":
            return [self.dvc, "push", "--all-commits"]
        return ["git", "datavc", "push", "--all-commits"]

    def clone_env(self) -> dict[str, str]:
        return {"GIT_LFS_SKIP_SMUDGE": "1"} if self.key == "lfs" else {}

    def after_clone(self, runner: Runner, clone: Path) -> None:
        if self.key in ("datavc", "filter"):
            runner.run(["git", "datavc", "install"], clone)

    def pull(self, all_commits: bool) -> list[str]:
        if self.key == "lfs":
            return (["sh", "-c", "git lfs fetch --all origin && git lfs checkout"] if all_commits
                    else ["git", "lfs", "pull"])
        base = [self.dvc, "pull"] if self.key == "dvc" else ["git", "datavc", "pull"]
        return base + (["--all-commits"] if all_commits else [])

    def switch(self, rev: str) -> list[str]:
        if self.key == "dvc":
            return ["sh", "-c", f"git checkout -q {rev} && {shlex.quote(self.dvc)} checkout -q"]
        return ["git", "checkout", "-q", rev]  # git-datavc: the post-checkout hook; LFS: smudge


# --------------------------------------------------------------------------- results

@dataclass
class Results:
    samples: dict[tuple[str, str, str, str], list[Sample]] = field(default_factory=dict)
    errors: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    checks: dict[tuple[str, str, str, str], list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # (target, data) -> `cp -r` of the data, timed before each tool's turn: how fast the
    # machine creates files just then
    baseline: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str, str], sample: Sample) -> None:
        self.samples.setdefault(key, []).append(sample)

    def check(self, key: tuple[str, str, str, str], note: str) -> None:
        notes = self.checks.setdefault(key, [])
        if note not in notes:
            notes.append(note)


@dataclass
class Context:
    runner: Runner
    results: Results
    data: Data
    runs_dir: Path
    moto: Moto | None
    keep: bool
    sanitize: Callable[[str], str]


def remote_objects(remote: Remote, moto: Moto | None) -> int:
    if remote.bucket:
        assert moto is not None
        return moto.admin("count", remote.bucket)
    assert remote.path is not None
    base = remote.path / "lfs" / "objects" if (remote.path / "lfs").is_dir() else remote.path
    return sum(len(files) for _, _, files in os.walk(base))


def git_status_note(runner: Runner, tool: Tool, clone: Path, ctx: Context) -> str:
    """`git status` right after the pull (untimed): a pull should leave a clean tree."""
    try:
        out = runner.run(["git", "status", "--porcelain", "--untracked-files=all"], clone,
                         tool.env(clone))
    except StepFailed as e:
        return f"git status failed: {ctx.sanitize(str(e))}"
    lines = out.splitlines()
    if not lines:
        return "git status clean"
    return f"git status: {len(lines)} entries (e.g. `{lines[0].strip()}`)"


def copy_baseline(ctx: Context, target: str, which: str) -> None:
    """`cp -r` of the dataset's files into the work dir, timed like a step."""
    work = ctx.runs_dir / "baseline-copy"
    if work.is_file():
        work.unlink()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    src = ctx.data.root / ("small" if which == "small" else "big-v2.bin")
    try:
        sample, _ = ctx.runner.timed(["cp", "-r", str(src), str(work / src.name)], work)
        ctx.results.baseline.setdefault((target, which), []).append(sample)
    except StepFailed as e:
        progress(f"  baseline copy failed: {e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_combo(ctx: Context, tool: Tool, target: str, which: str, run: int) -> None:
    runner, results, data = ctx.runner, ctx.results, ctx.data
    key = lambda step: (target, which, tool.key, step)  # noqa: E731
    where = f"{target} {which} {tool.label} run {run}"
    rd = ctx.runs_dir / f"{target}-{which}-{tool.key}-run{run}"
    if rd.exists():
        shutil.rmtree(rd)
    rd.mkdir(parents=True)
    path = "small" if which == "small" else "big.bin"

    if target == "local":
        store = rd / ("store.git" if tool.key == "lfs" else "store")
        if tool.key == "lfs":   # the standalone file agent wants a git repository there
            runner.run(["git", "init", "-q", "--bare", str(store)], rd)
            remote = Remote(target, f"file://{store}", path=store)
        else:
            store.mkdir()
            remote = Remote(target, str(store), path=store)
    else:
        assert ctx.moto is not None
        bucket = f"sync-{which}-{tool.key}-r{run}-{int(time.time())}"
        ctx.moto.admin("create", bucket)
        remote = Remote(target, f"s3://{bucket}/store", bucket=bucket, endpoint=ctx.moto.endpoint)

    def fail(step: str, e: Exception) -> None:
        msg = ctx.sanitize(str(e))
        results.errors.setdefault(key(step), msg)
        results.failures.append(f"{where}, {dict(STEPS)[step]}: {msg}")
        progress(f"  {tool.label:22} {dict(STEPS)[step]:28} FAILED: {msg}")

    def step(name: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> bool:
        try:
            sample, _ = runner.timed(args, cwd, {**tool.env(cwd), **(env or {})})
        except StepFailed as e:
            fail(name, e)
            return False
        results.add(key(name), sample)
        progress(f"  {tool.label:22} {dict(STEPS)[name]:28} {sample.seconds:8.2f} s "
                 f"{sample.rss_kib / 1024:6.0f} MiB")
        return True

    def skip(name: str, why: str) -> None:
        results.errors.setdefault(key(name), f"not run: {why}")

    try:
        # -- the source repository, both versions committed (untimed)
        src = rd / "src"
        src.mkdir()
        origin = rd / "origin.git"
        try:
            tool.setup(runner, src, remote, path)
            if which == "small":
                runner.run(["cp", "-a", str(data.root / "small"), str(src / "small")], rd)
            else:
                shutil.copyfile(data.root / "big.bin", src / "big.bin")
            tool.add_and_commit(runner, src, path, "data v1")
            runner.run(["git", "tag", "v1"], src)
            if which == "small":
                for index in changed_indices(data.count):
                    rel = gen_data.small_path(index)
                    (src / "small" / rel).unlink()
                    shutil.copyfile(data.changed / rel, src / "small" / rel)
            else:
                (src / "big.bin").unlink()
                shutil.copyfile(data.root / "big-v2.bin", src / "big.bin")
            tool.add_and_commit(runner, src, path, "data v2")
            runner.run(["git", "tag", "v2"], src)
            runner.run(["git", "init", "-q", "--bare", str(origin)], rd)
            runner.run(["git", "remote", "add", "origin", str(origin)], src)
            runner.run(["git", "push", "-q", "--no-verify", "origin", "main", "--tags"], src,
                       {"DATAVC_SKIP_PUSH": "1"})
        except (StepFailed, OSError) as e:
            fail("push", StepFailed(f"setting up the source repository: {e}"))
            for name in TIMED[1:]:
                skip(name, "setup failed")
            return

        # -- push, no-op push
        for name in ("push", "noop_push"):
            if step(name, tool.push(), src):
                try:
                    results.check(key(name), f"{remote_objects(remote, ctx.moto):,} objects on the remote")
                except (StepFailed, OSError) as e:
                    results.check(key(name), f"could not count the remote's objects: {e}")

        # -- clone + pull, all commits; then clone + pull, HEAD only
        clones = {}
        for scope in ("all", "head"):
            clone = rd / f"clone-{scope}"
            if not step(f"clone_{scope}", ["git", "clone", "-q", str(origin), clone.name], rd,
                        tool.clone_env()):
                skip(f"pull_{scope}", "clone failed")
                continue
            try:
                tool.after_clone(runner, clone)
            except StepFailed as e:
                fail(f"pull_{scope}", StepFailed(f"after the clone: {e}"))
                continue
            if step(f"pull_{scope}", tool.pull(scope == "all"), clone):
                try:
                    results.check(key(f"pull_{scope}"), verify(clone, data, which, "v2"))
                    clones[scope] = clone
                    results.check(key(f"pull_{scope}"), git_status_note(runner, tool, clone, ctx))
                except StepFailed as e:
                    results.check(key(f"pull_{scope}"), f"WRONG: {ctx.sanitize(str(e))}")
                    results.failures.append(f"{where}, {dict(STEPS)['pull_' + scope]}: wrong "
                                            f"result: {ctx.sanitize(str(e))}")
                    progress(f"  {tool.label:22} {dict(STEPS)['pull_' + scope]:28} WRONG RESULT: {e}")

        # -- v1 from the all-commits clone's own cache, with the remote gone (untimed)
        if "all" in clones:
            clone = clones["all"]
            if remote.path is not None:
                remote.path.rename(remote.path.with_name(remote.path.name + ".off"))
            else:
                ctx.moto.admin("empty", remote.bucket)  # type: ignore[union-attr, arg-type]
            try:
                runner.run(tool.switch("v1"), clone, tool.env(clone))
                note = verify(clone, data, which, "v1") + " (remote gone)"
            except StepFailed as e:
                note = f"WRONG: v1 with the remote gone: {ctx.sanitize(str(e))}"
                results.failures.append(f"{where}, {dict(STEPS)['pull_all']}: {note}")
                progress(f"  {tool.label:22} {dict(STEPS)['pull_all']:28} {note}")
            results.check(key("pull_all"), note)
    finally:
        if remote.bucket and ctx.moto is not None:
            try:
                ctx.moto.admin("delete", remote.bucket)
            except StepFailed as e:
                progress(f"  (could not delete bucket: {e})")
        if not ctx.keep:
            shutil.rmtree(rd, ignore_errors=True)


# --------------------------------------------------------------------------- report

def fmt_secs(samples: list[Sample]) -> str:
    lo, hi = min(s.seconds for s in samples), max(s.seconds for s in samples)
    digits = 3 if hi < 1 else 2
    return f"{lo:.{digits}f}" if round(lo, digits) == round(hi, digits) \
        else f"{lo:.{digits}f}–{hi:.{digits}f}"


def collect(results: Results, key: tuple[str, str, str, str], with_clone: bool = False
            ) -> list[Sample] | str:
    """Samples of a step, or its error text. with_clone: the pull plus its clone, run by run."""
    if key in results.errors and not results.samples.get(key):
        err = results.errors[key]
        if err.startswith("not run"):
            return err
        m = re.fullmatch(r"`.*` exited (-?\d+): (.*)", err, re.S)  # the command: see Commands
        short = f" (exit {m.group(1)}): {m.group(2)}" if m else f": {err}"
        return "failed" + (short if len(short) <= 160 else short[:157] + "...")
    got = results.samples.get(key, [])
    if with_clone:
        clone = results.samples.get(key[:3] + (CLONE_OF[key[3]],), [])
        # runs pair up in order (a run whose clone failed has no pull either)
        return [Sample(c.seconds + p.seconds, max(c.rss_kib, p.rss_kib)) for c, p in zip(clone, got)]
    return got


def ratio(results: Results, tools: list[str], key: tuple[str, str, str, str],
          mine: list[Sample], with_clone: bool = False) -> str:
    """Reference tool's fastest run ÷ this tool's fastest run."""
    target, which, tool, step = key
    ref = REFERENCE.get(tool)
    if not ref or ref not in tools or (target == "s3" and ref == "lfs") or not mine:
        return ""
    if tool == "datavc" and step in ("clone_all", "clone_head"):
        return ""  # a plain git clone for both metafile tools
    other = collect(results, (target, which, ref, step), with_clone)
    if not isinstance(other, list) or not other:
        return ""
    return f"{min(s.seconds for s in other) / max(min(s.seconds for s in mine), 1e-9):.2f}×"


def render(results: Results, args: argparse.Namespace, tools: list[str], info: list[tuple[str, str]],
           command: str, data: Data, skipped: list[str]) -> str:
    data_label = {"small": f"{data.count:,} small files", "big": f"{data.big_mib:,} MiB file"}
    target_label = {"local": "local dir", "s3": "moto S3"}
    lines = [f"`{command}`", ""]
    lines += [f"- {k}: {v}" for k, v in info]
    lines += [
        "",
        "Each timed step is one command line, run end to end (process start-up included) under "
        "`/usr/bin/time`: wall time (min–max over the runs) and peak RSS of the largest single "
        "process in the command's tree (max over the runs). `sync` before every timed step; "
        "warm page cache. Data: "
        f"{data_label['small']} (1–8 KiB; v2 changes every {CHANGE_EVERY}th file) and a "
        f"{data_label['big']} (v2 differs in 1 MiB), each committed as v1 then v2 and both "
        "pushed. Pulls go into fresh `git clone`s; `clone + pull` adds the clone's time to the "
        "pull's (git-datavc's filter mode fetches HEAD's data inside `git clone`, through the "
        "smudge filter). `ref ÷ this`: the reference tool's time divided by this one's (above 1: "
        "this one is faster), fastest runs; reference DVC for git-datavc's metafile mode, Git "
        "LFS for its filter mode. Check: objects on the remote after the push; after each pull, "
        f"{SAMPLE} small files (half of them changed ones) or the big file, and the count of "
        "files, compared with the source bytes (`v2 ok`), and `git status`; `v1 ok (remote "
        "gone)`: then the all-commits clone switched to v1 with the remote taken away. "
        "`baseline`: `cp -r` of the same data (the small tree, or one version of the big file) "
        "timed before each tool's turn, min–max: how fast the machine wrote files just then "
        "(when that varies, so do the tools' figures).",
        "",
        "| remote | data | tool | step | wall s | peak RSS MiB | ref ÷ this | clone + pull s "
        "| ref ÷ this | check |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    glance: dict[tuple[str, str, str], dict[str, str]] = {}
    for target in args.targets:
        for which in args.data:
            base = results.baseline.get((target, which))
            if base:
                lines.append(f"| {target_label[target]} | {data_label[which]} | baseline | "
                             f"`cp -r` of the data, before each tool | {fmt_secs(base)} | "
                             f"{max(s.rss_kib for s in base) / 1024:.0f} |  |  |  | "
                             f"{len(base)} copies |")
            for tool in tools:
                if target == "s3" and tool == "lfs":
                    continue
                for step, label in STEPS:
                    key = (target, which, tool, step)
                    got = collect(results, key)
                    total, total_ratio = "", ""
                    if isinstance(got, str) or not got:
                        wall = got.replace("|", "\\|") if isinstance(got, str) and got else "–"
                        rss, rat = "–", ""
                    else:
                        wall, rss = fmt_secs(got), f"{max(s.rss_kib for s in got) / 1024:.0f}"
                        rat = ratio(results, tools, key, got)
                        if step in CLONE_OF:
                            both = collect(results, key, with_clone=True)
                            if isinstance(both, list) and both:
                                total = fmt_secs(both)
                                total_ratio = ratio(results, tools, key, both, with_clone=True)
                    check = "; ".join(results.checks.get(key, [])).replace("|", "\\|")
                    lines.append(f"| {target_label[target]} | {data_label[which]} | {LABELS[tool]} | "
                                 f"{label} | {wall} | {rss} | {rat} | {total} | {total_ratio} | {check} |")
                    short = wall if not wall.startswith(("failed", "not run")) else "failed"
                    glance.setdefault((target, which, label), {})[tool] = short
                    if step in CLONE_OF:
                        glance.setdefault((target, which, f"clone + {label}"), {})[tool] = total or "–"
    lines += ["", "### At a glance: wall seconds", "",
              "| remote | data | step | " + " | ".join(LABELS[t] for t in tools) + " |",
              "|---|---|---|" + "---:|" * len(tools)]
    for (target, which, label), cells in glance.items():
        if label in (dict(STEPS)["clone_all"], dict(STEPS)["clone_head"]):
            continue  # the clone alone: in the full table
        lines.append(f"| {target_label[target]} | {data_label[which]} | {label} | "
                     + " | ".join(cells.get(t, "n/a") for t in tools) + " |")
    lines += ["", "### Commands", "",
              "| tool | push and no-op push | clone | pull, all commits | pull, HEAD only |",
              "|---|---|---|---|---|"]
    for name in tools:
        shown = Tool(name, "dvc")
        clone = ("GIT_LFS_SKIP_SMUDGE=1 " if name == "lfs" else "") + "git clone"
        lines.append(f"| {shown.label} | `{shlex.join(shown.push())}` | `{clone}` | "
                     f"`{shlex.join(shown.pull(True))}` | `{shlex.join(shown.pull(False))}` |")
    lines += ["", "Untimed between clone and pull: `git datavc install` in git-datavc's clones. "
              "S3 credentials for every tool from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` "
              "(dummy) and `AWS_DEFAULT_REGION`; the endpoint URL in each tool's committed "
              "remote config. Cache type: each tool's default (`reflink,copy` for both "
              "git-datavc and DVC: copies on this file system). Transfers: each tool's default "
              "parallelism." + (f" DVC's remote `jobs`: {args.dvc_jobs}." if args.dvc_jobs else "")
              + (f" git-datavc's remote: layout {args.datavc_layout} (`git datavc remote modify "
                 f"store layout {args.datavc_layout}`)." if args.datavc_layout != 1 else "")]
    if skipped:
        lines += ["", "### Not run", ""] + [f"- {s}" for s in skipped]
    if results.failures:
        lines += ["", "### Failures", ""] + [f"- {f}" for f in results.failures]
    return "\n".join(lines) + "\n"


def machine_info(runner: Runner, args: argparse.Namespace, versions: dict[str, str],
                 minutes: float) -> list[tuple[str, str]]:
    m = describe_machine(runner, args.workdir, Path(runner.env["HOME"]))
    return [
        ("date (UTC)", m.date),
        ("machine", f"{m.cpu}, {m.nproc} CPUs, {m.memory} RAM" if m.memory != "?" else "?"),
        ("OS", f"{m.system}; work dir on {m.fstype}"),
        ("load", f"`uptime` at start: {versions['uptime_start']}; at end: "
                 f"{first_line(runner, ['uptime']) or '?'}"),
        ("python", f"{platform.python_version()} (benchmark); git-datavc and moto: "
                   f"{versions['venv_python']}; DVC: {versions['dvc_python']}"),
        ("git", versions["git"]),
        ("git-lfs", versions["lfs"]),
        ("DVC", versions["dvc"]),
        ("git-datavc", versions["datavc"]),
        ("S3 server", versions["moto"]),
        ("benchmark wall time", f"{minutes:.1f} min"),
    ]


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small-count", type=int, default=50_000, help="small files (default 50000)")
    p.add_argument("--big-mib", type=int, default=1024, help="size of the big file (default 1024)")
    p.add_argument("--runs", type=int, default=1, help="fresh repositories per combination (default 1)")
    p.add_argument("--targets", nargs="+", choices=["local", "s3"], default=["local", "s3"])
    p.add_argument("--tools", nargs="+", choices=list(TOOLS), default=list(TOOLS),
                   help="datavc: git-datavc metafile mode; filter: git-datavc filter mode; "
                        "dvc; lfs (local remote only)")
    p.add_argument("--data", nargs="+", choices=["small", "big"], default=["small", "big"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--latency-ms", type=float, default=0,
                   help="S3: reach moto through bench/lagproxy.py, which delays every byte this "
                        "many ms each way (a store across a network)")
    p.add_argument("--dvc-jobs", type=int, default=0,
                   help="DVC's remote `jobs` setting (default: DVC's own default)")
    p.add_argument("--datavc-layout", type=int, choices=[1, 2], default=1,
                   help="git-datavc's remote layout (2: chunks in packs; default 1)")
    p.add_argument("--dvc", default=str(DEFAULT_DVC), help="the dvc executable")
    p.add_argument("--workdir", type=Path, default=HERE / "scratch" / "sync",
                   help="scratch directory (default bench/scratch/sync)")
    p.add_argument("--timeout", type=float, default=1200, help="per-command timeout, s (default 1200)")
    p.add_argument("--keep", action="store_true", help="keep the repositories, remotes and clones")
    p.add_argument("--snapshot-worktree", action="store_true",
                   help="run git-datavc from a copy of the working tree's git_datavc/ (uncommitted "
                        "edits included) instead of the committed HEAD's")
    p.add_argument("--no-snapshot", action="store_true",
                   help="run git-datavc as installed (PATH, then this checkout's .venv)")
    p.add_argument("--write-results", nargs="?", const=RESULTS_FILE.name, metavar="NAME",
                   help=f"write bench/NAME (default {RESULTS_FILE.name})")
    args = p.parse_args(argv)
    if args.small_count < CHANGE_EVERY or args.big_mib < 2 or args.runs < 1:
        p.error(f"--small-count >= {CHANGE_EVERY}, --big-mib >= 2, --runs >= 1")
    args.workdir = args.workdir.resolve()
    args.tools = [t for t in TOOLS if t in args.tools]
    args.targets = [t for t in ("local", "s3") if t in args.targets]
    args.data = [d for d in ("small", "big") if d in args.data]
    return args


def reproduce(argv: list[str]) -> str:
    return shlex.join(["python3", "bench/sync_bench.py", *argv])


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    benchlib.require_gnu_time()
    if not VENV_PYTHON.exists():
        sys.exit("this checkout's .venv is missing: ./install.sh --dev")
    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)

    def sanitize(text: str) -> str:
        for path, name in ((args.workdir, "$WORK"), (REPO_ROOT, ".")):
            text = text.replace(str(path) + "/", "" if name == "." else name + "/")
            text = text.replace(str(path), name)
        return text

    home = args.workdir / "home"
    runner = Runner(isolated_env(args.workdir, home, drop_also=("AWS_", "DATAVC_"), extra=S3_ENV),
                    args.timeout)
    datavc_from = "as installed (from PATH)"
    if not args.no_snapshot:
        bindir, datavc_from = snapshot_datavc(args.workdir / "datavc-snapshot",
                                              args.snapshot_worktree)
        runner.env["PATH"] = f"{bindir}{os.pathsep}{runner.env['PATH']}"
    venv_py = [str(VENV_PYTHON), "-c"]
    dvc_py = [str(Path(args.dvc).parent / "python"), "-c"]
    versions = {
        "uptime_start": first_line(runner, ["uptime"]) or "?",
        "git": first_line(runner, ["git", "--version"]) or "?",
        "lfs": first_line(runner, ["git", "lfs", "version"]) or "not installed",
        "dvc": "not run", "dvc_python": "not run",
        "datavc": f"{first_line(runner, ['git', 'datavc', '--version']) or '?'}, {datavc_from}",
        "venv_python": first_line(runner, venv_py + ["import platform; print(platform.python_version())"]) or "?",
        "moto": "not used" if "s3" not in args.targets else "moto " + (first_line(runner, venv_py + ["import moto; print(moto.__version__)"]) or "?") + (f"; the tools reach it through bench/lagproxy.py: {args.latency_ms:g} ms added each way" if args.latency_ms else "")
                + " (`python -m moto.server` on 127.0.0.1, its own process); git-datavc's boto3 "
                + (first_line(runner, venv_py + ["import boto3; print(boto3.__version__)"]) or "?"),
    }
    tools = list(args.tools)
    if "dvc" in tools:
        dv = first_line(runner, [args.dvc, "--version"])
        if dv is None:
            sys.exit(f"DVC does not run ({sanitize(args.dvc)} --version failed); see the docstring")
        s3v = first_line(runner, dvc_py + ["import importlib.metadata as m; print(m.version('dvc-s3'))"])
        versions["dvc"] = f"{dv}, dvc-s3 {s3v or 'not installed'}"
        versions["dvc_python"] = first_line(runner, dvc_py + ["import platform; print(platform.python_version())"]) or "?"
        runner.run([args.dvc, "config", "--global", "core.analytics", "false"], home)
        runner.run([args.dvc, "config", "--global", "core.check_update", "false"], home)
        if "s3" in args.targets and s3v is None:
            sys.exit("dvc-s3 is missing: bench/scratch/dvc-venv/bin/pip install dvc-s3")
    # from the throw-away HOME, never from inside a repository: `git lfs install` run in
    # one installs its hooks there too
    runner.run(["git", "datavc", "install", "--global", "--no-hooks"], home)
    if "lfs" in tools:
        runner.run(["git", "lfs", "install", "--skip-repo"], home)
    for key in list(versions):
        versions[key] = sanitize(versions[key])

    data = prepare_data(args)
    results = Results()
    skipped = []
    if "lfs" in tools and "s3" in args.targets:
        skipped.append("Git LFS on S3: Git LFS needs an LFS server (HTTP batch API) or a custom "
                       "transfer agent; it cannot use an S3 bucket itself.")
    runs_dir = args.workdir / "runs"
    moto = Moto(args.workdir, args.latency_ms) if "s3" in args.targets else None
    ctx = Context(runner, results, data, runs_dir, moto, args.keep, sanitize)
    try:
        for run in range(1, args.runs + 1):
            for target in args.targets:
                for which in args.data:
                    progress(f"run {run}/{args.runs}: {target}, {which}")
                    for key in tools:
                        if target == "s3" and key == "lfs":
                            continue
                        copy_baseline(ctx, target, which)
                        try:
                            tool = Tool(key, args.dvc, args.dvc_jobs, args.datavc_layout)
                            bench_combo(ctx, tool, target, which, run)
                        except (StepFailed, OSError) as e:  # the benchmark's own bookkeeping
                            msg = sanitize(f"{type(e).__name__}: {e}")
                            results.failures.append(f"{target} {which} {LABELS[key]} run {run}: "
                                                    f"stopped: {msg}")
                            progress(f"  {LABELS[key]}: STOPPED: {msg}")
    finally:
        if moto is not None:
            moto.stop()
    minutes = (time.perf_counter() - started) / 60
    progress(f"total benchmark time {minutes:.1f} min")
    info = machine_info(runner, args, versions, minutes)
    report = render(results, args, tools, info, reproduce(raw_argv), data, skipped)
    report = sanitize(report)
    print(report)
    if args.write_results:
        results_file = HERE / Path(args.write_results).name
        results_file.write_text("# Push, then pull into a fresh clone: git-datavc vs DVC vs Git LFS\n\n"
                                + report)
        progress(f"wrote {results_file.relative_to(REPO_ROOT)}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
