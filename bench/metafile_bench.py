#!/usr/bin/env python3
"""Side-by-side benchmark of git-datavc's metafile mode and DVC on a directory of small files.

For each file count N (default 50,000 and 100,000 files of 1-8 KiB in nested folders,
the seeded tree of gen_data.py), each tool works in a fresh git repository of its own,
with the same data and cache type hardlink for both (`.datavc/config` `[cache] type =
hardlink`; `dvc config cache.type hardlink`). Every run times:

  1. add of the directory (`git datavc add data` / `dvc add data`); the data is copied
     in untimed with `cp -a` (sources' mtimes kept)
  2. no-op status right after: `git datavc status` / `dvc status` and `dvc data status`,
     once, then again (--status-repeats times)
  3. add again after changing 1% of the files (every 100th file deleted and recreated
     with other content, untimed, the same for both tools)
  4. with both versions committed in git (metafile + .gitignore), a switch v2 -> v1 and
     back v1 -> v2: `git checkout REV` for git-datavc (its post-checkout hook updates the
     workspace), `git checkout REV && dvc checkout` for DVC (one `sh -c`, timed as one).
     After each switch the whole workspace is compared with what it should be (the list
     of files and every byte), untimed.
  5. disk used by workspace + cache after the first add: `du -s` over the whole repository
     (hard links counted once), against `du -s` of one copy of the data

and, once per tool, the same disk figure for a 1 GiB dataset (64 files of 16 MiB).
Machine baselines for each N: reading all files (`find | xargs cat`), stat-ing all
files (`find -printf`), hardlinking the tree (`cp -al`).

Memory: every timed command runs under /usr/bin/time -f '%e %M %U %S'. %M is the peak RSS of
the largest single process in the command's tree (git-datavc's add forks worker
processes, git runs the hook as a child; DVC runs in one process). Besides that, a
sampler adds up the proportional set size (PSS, shared pages split between the
processes sharing them) of every process in the command's session every 0.1 s: the
peak of that sum is the memory the whole tree held at once.

Other work on the machine: for each timed step, the CPU time the whole machine spent
busy (/proc/stat) minus the CPU time of the timed command (%U + %S), divided by the
wall time, is how many cores other processes kept busy meanwhile; the report gives
its mean and maximum (the benchmark's own bookkeeping is in it too, a few percent).

Git and DVC run with HOME under the work dir (git user, gc.auto=0, git-datavc's drivers
installed there with `git datavc install --global --no-hooks`; DVC analytics and update
checks off), GIT_CONFIG_NOSYSTEM=1 and GIT_CEILING_DIRECTORIES at the work dir
(bench/benchlib.py); DVC's site cache goes into each repository's .dvc/tmp. Warm page
cache (it cannot be dropped here); os.sync() before each timed step.

git-datavc runs from a copy of this checkout's git_datavc/ taken at the start, with the
checkout's .venv python (its dependencies): the figures are those of one version of the
code even when it is edited meanwhile (--no-snapshot runs the installed git-datavc).

DVC comes from PyPI in its own virtualenv:

  python3 -m venv bench/scratch/dvc-venv && bench/scratch/dvc-venv/bin/pip install dvc

Usage:
  python3 bench/metafile_bench.py [--counts 50000,100000] [--runs 2] [--large-runs N]
                                  [--only datavc|dvc] [--dvc PATH] [--workdir DIR]
                                  [--big-files 64] [--big-file-mib 16] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import benchlib  # noqa: E402  (sibling modules)
import gen_data  # noqa: E402
from benchlib import (MIB, VENV_PYTHON, StepFailed, describe_machine, first_line,  # noqa: E402
                      fmt_seconds, isolated_env, progress, table, tail)

RESULTS_FILE = HERE / "results_metafile.md"
DEFAULT_DVC = HERE / "scratch" / "dvc-venv" / "bin" / "dvc"
CHANGE_EVERY = 100  # every 100th file changes: 1%
DATA_FORMAT = 1     # bump when the generated data changes

TOOL_LABELS = {"datavc": "git-datavc", "dvc": "DVC"}


# --------------------------------------------------------------------------- data types

@dataclass
class Sample:
    seconds: float
    rss_kib: int        # /usr/bin/time %M: the largest single process
    pss_kib: int        # peak of the sampled PSS sum over the whole process tree
    other_cores: float = 0.0  # cores kept busy by other processes during the step


@dataclass
class Results:
    # (tool, count, step) -> samples
    samples: dict[tuple[str, int, str], list[Sample]] = field(default_factory=dict)
    # (tool, label) -> (bytes of one copy of the data, bytes of the repository after add)
    disk: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    big_add: dict[str, Sample] = field(default_factory=dict)
    baselines: dict[tuple[int, str], float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    # (tool, count, run, cores kept busy by other processes) per timed step
    others: list[tuple[str, int, int, float]] = field(default_factory=list)

    def add(self, tool: str, count: int, step: str, sample: Sample) -> None:
        self.samples.setdefault((tool, count, step), []).append(sample)

    def get(self, tool: str, count: int, step: str) -> list[Sample]:
        return self.samples.get((tool, count, step), [])


# --------------------------------------------------------------------------- memory sampler

class TreeMemory(threading.Thread):
    """Peak of the summed PSS of every process in one session, sampled every `interval` s.

    The timed command is started in a session of its own (start_new_session), so its
    whole tree (git, hooks, forked workers) shares one session id, which /proc/PID/stat
    shows: no need for /proc/PID/task/*/children (not in every kernel).
    """

    def __init__(self, sid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.sid = sid
        self.interval = interval
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, self.sample())
            if self._done.wait(self.interval):
                return

    def sample(self) -> int:
        total = 0
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                if int(fields[3]) != self.sid:  # state ppid pgrp session ...
                    continue
                with open(f"/proc/{name}/smaps_rollup", "rb") as f:
                    for line in f:
                        if line.startswith(b"Pss:"):
                            total += int(line.split()[1])
                            break
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile, or a kernel thread
        return total

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kib


class StepWatch(benchlib.Watch):
    """The whole tree's PSS peak (TreeMemory) and the CPU seconds the whole machine spent
    busy while a timed command ran."""

    def __init__(self) -> None:
        self.pss_kib = 0
        self.busy = 0.0
        self._sampler: TreeMemory | None = None

    def before(self) -> None:
        self.busy = -cpu_busy_seconds()

    def started(self, pid: int) -> None:
        self._sampler = TreeMemory(pid)
        self._sampler.start()

    def ended(self) -> None:
        if self._sampler is not None:
            self.pss_kib = self._sampler.stop()
        self.busy += cpu_busy_seconds()


# --------------------------------------------------------------------------- running commands

class Runner(benchlib.Runner):
    def timed(self, args: list[str], cwd: Path, env: dict[str, str] | None = None
              ) -> tuple[Sample, str]:
        """Timed command: (sample, stdout + stderr)."""
        watch = StepWatch()
        t = self.timed_run(args, cwd, env, cpu=True, watch=watch)
        other = max(0.0, watch.busy - t.time.cpu_seconds) / t.seconds if t.seconds > 0 else 0.0
        return Sample(t.seconds, t.time.rss_kib, watch.pss_kib, other), t.output


def cpu_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal; guest is in user


def du_bytes(*paths: Path) -> int:
    """`du -s` over all paths together: allocated bytes, each hardlinked inode once."""
    out = subprocess.run(["du", "-s", "-c", "--block-size=1", *map(str, paths)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1].split()[0])


# --------------------------------------------------------------------------- data

def small_tree(workdir: Path, count: int, seed: int) -> Path:
    """WORKDIR/data-COUNT/: small/ (gen_data's seeded tree) and changed/ (the new content
    of every 100th file). Generated once; a stamp records the parameters."""
    root = workdir / f"data-{count}"
    stamp = root / ".stamp.json"
    params = {"format": DATA_FORMAT, "gen_format": gen_data.FORMAT_VERSION,
              "count": count, "seed": seed}
    if stamp.exists() and (root / "small").is_dir() and (root / "changed").is_dir():
        try:
            if json.loads(stamp.read_text()) == params:
                return root
        except ValueError:
            pass
    root.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    start = time.perf_counter()
    total = gen_data.write_small_tree(root, count, seed)
    changed = root / "changed"
    if changed.exists():
        shutil.rmtree(changed)
    rng = random.Random(f"changed:{seed}")
    for index in changed_indices(count):
        path = changed / gen_data.small_path(index)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(gen_data.SMALL_MIN, gen_data.SMALL_MAX)))
    stamp.write_text(json.dumps(params) + "\n")
    progress(f"data: {count:,} files ({total / MIB:.0f} MiB) in {time.perf_counter() - start:.1f} s")
    return root


def changed_indices(count: int) -> range:
    return range(0, count, CHANGE_EVERY)


def big_tree(workdir: Path, files: int, file_mib: int, seed: int) -> Path:
    """WORKDIR/data-big-FILESxMIB/: FILES incompressible files of FILE_MIB MiB each."""
    root = workdir / f"data-big-{files}x{file_mib}"
    stamp = root / ".stamp.json"
    params = {"format": DATA_FORMAT, "files": files, "file_mib": file_mib, "seed": seed}
    if stamp.exists() and stamp.read_text().strip() == json.dumps(params):
        return root
    if root.exists():
        shutil.rmtree(root)
    (root / "big").mkdir(parents=True)
    for index in range(files):
        rng = gen_data.block_rng(seed + 1000, index)
        (root / "big" / f"part{index:03d}.bin").write_bytes(rng.randbytes(file_mib * MIB))
    stamp.write_text(json.dumps(params) + "\n")
    return root


def verify_tree(workspace: Path, source: Path, overlay: Path | None, count: int,
                what: str) -> None:
    """The workspace holds exactly the `count` files of `source` (with `overlay`'s files
    instead, where it has them), byte for byte."""
    changed = {gen_data.small_path(i).as_posix() for i in changed_indices(count)} if overlay else set()
    found = 0
    for dirpath, dirs, files in os.walk(workspace):
        rel_dir = os.path.relpath(dirpath, workspace)
        for name in files:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            found += 1
            expected = (overlay if rel in changed else source) / rel
            try:
                want = expected.read_bytes()
            except FileNotFoundError:
                raise StepFailed(f"after {what}: unexpected file {rel}") from None
            if (workspace / rel).read_bytes() != want:
                raise StepFailed(f"after {what}: {rel} has the wrong content")
    if found != count:
        raise StepFailed(f"after {what}: {found} files in the workspace, expected {count}")


# --------------------------------------------------------------------------- tools

class Tool(benchlib.Tool):
    @property
    def label(self) -> str:
        return TOOL_LABELS[self.key]

    def setup(self, runner: Runner, repo: Path) -> None:
        runner.run(["git", "init", "-q", "-b", "main"], repo)
        env = self.env(repo)
        if self.key == "datavc":
            runner.run(["git", "datavc", "init"], repo)
            with open(repo / ".datavc" / "config", "a") as f:
                f.write("[cache]\n\ttype = hardlink\n")
            runner.run(["git", "add", ".datavc"], repo)
        else:
            runner.run([self.dvc, "init", "-q"], repo, env)
            runner.run([self.dvc, "config", "cache.type", "hardlink"], repo, env)
            runner.run(["git", "add", ".dvc", ".dvcignore"], repo)
        runner.run(["git", "commit", "-q", "-m", "setup"], repo)

    def add(self) -> list[str]:
        return ["git", "datavc", "add", "data"] if self.key == "datavc" else [self.dvc, "add", "-q", "data"]

    def metafile(self) -> str:
        return "data.datavc" if self.key == "datavc" else "data.dvc"

    def statuses(self) -> list[tuple[str, list[str]]]:
        if self.key == "datavc":
            return [("status", ["git", "datavc", "status"])]
        return [("status", [self.dvc, "status"]), ("data_status", [self.dvc, "data", "status"])]

    def check_clean(self, kind: str, output: str) -> None:
        if self.key == "datavc":
            ok = "everything is up to date" in output
        elif kind == "status":
            ok = "up to date" in output
        else:  # dvc data status lists "DVC uncommitted changes" when the workspace differs
            ok = "uncommitted" not in output.lower() and "not in cache" not in output.lower()
        if not ok:
            raise StepFailed(f"{self.label} {kind} is not clean after add: {tail(output)}")

    def switch(self, rev: str) -> list[str]:
        if self.key == "datavc":
            return ["git", "checkout", "-q", rev]  # the post-checkout hook does the rest
        return ["sh", "-c", f"git checkout -q {shlex.quote(rev)} && {shlex.quote(self.dvc)} checkout -q"]


def check_linked(repo: Path, count: int, tool: Tool) -> None:
    """The workspace files share their inodes with the cache (hardlinks), sampled."""
    for index in range(0, count, max(1, count // 50)):
        path = repo / "data" / gen_data.small_path(index)
        if path.stat().st_nlink < 2:
            raise StepFailed(f"{tool.label}: {path.relative_to(repo)} is not hardlinked to the cache after add")


# --------------------------------------------------------------------------- one tool, one run

@dataclass
class Context:
    runner: Runner
    results: Results
    repos: Path
    keep: bool
    status_repeats: int


def bench_run(tool: Tool, count: int, run: int, data: Path, ctx: Context) -> None:
    runner, results = ctx.runner, ctx.results
    repo = ctx.repos / f"{tool.key}-{count}-run{run}"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    env = tool.env(repo)

    def step(key: str, args: list[str], label: str) -> tuple[Sample, str]:
        sample, output = runner.timed(args, repo, env)
        results.add(tool.key, count, key, sample)
        results.loads.append(os.getloadavg()[0])
        results.others.append((tool.key, count, run, sample.other_cores))
        progress(f"  {tool.label:10} {count:>7,} {label:34} {sample.seconds:7.2f} s   "
                 f"largest process {sample.rss_kib / 1024:5.0f} MiB, tree PSS {sample.pss_kib / 1024:5.0f} MiB, "
                 f"other work {sample.other_cores:.2f} cores")
        return sample, output

    try:
        tool.setup(runner, repo)
        runner.run(["cp", "-a", str(data / "small"), str(repo / "data")], repo)

        # 1. add
        step("add", tool.add(), "add")
        check_linked(repo, count, tool)
        # 5. disk after the first add (the first run's figure; all runs give the same)
        if (tool.key, f"{count:,}") not in results.disk:
            results.disk[(tool.key, f"{count:,}")] = (du_bytes(data / "small"), du_bytes(repo))

        # 2. no-op status, right after the add, then again
        for kind, args in tool.statuses():
            _, out = step(f"{kind}_first", args, f"no-op {' '.join(args[1:])}")
            tool.check_clean(kind, out)
            for _ in range(ctx.status_repeats):
                _, out = step(f"{kind}_again", args, f"no-op {' '.join(args[1:])} (again)")
                tool.check_clean(kind, out)

        runner.run(["git", "add", tool.metafile(), ".gitignore"], repo)
        runner.run(["git", "commit", "-q", "-m", "data v1"], repo)
        v1 = runner.run(["git", "rev-parse", "HEAD"], repo).strip()

        # 3. change 1% of the files (delete, recreate with other content), add again
        for index in changed_indices(count):
            rel = gen_data.small_path(index)
            (repo / "data" / rel).unlink()
            shutil.copyfile(data / "changed" / rel, repo / "data" / rel)
        step("add_changed", tool.add(), "add after changing 1%")
        runner.run(["git", "add", tool.metafile(), ".gitignore"], repo)
        runner.run(["git", "commit", "-q", "-m", "data v2"], repo)
        v2 = runner.run(["git", "rev-parse", "HEAD"], repo).strip()

        # 4. switch between the two commits, both ways; verify the whole workspace after each
        step("switch_v1", tool.switch(v1), "switch v2 → v1")
        verify_tree(repo / "data", data / "small", None, count, f"{tool.label} switch to v1")
        step("switch_v2", tool.switch(v2), "switch v1 → v2")
        verify_tree(repo / "data", data / "small", data / "changed", count, f"{tool.label} switch to v2")
    finally:
        if not ctx.keep:
            shutil.rmtree(repo, ignore_errors=True)


def bench_big(tool: Tool, data: Path, label: str, ctx: Context) -> None:
    """Disk used by workspace + cache for the 1 GiB dataset (one run)."""
    repo = ctx.repos / f"{tool.key}-big"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    try:
        tool.setup(ctx.runner, repo)
        ctx.runner.run(["cp", "-a", str(data / "big"), str(repo / "data")], repo)
        sample, _ = ctx.runner.timed(tool.add(), repo, tool.env(repo))
        ctx.results.big_add[tool.key] = sample
        for part in (repo / "data").iterdir():
            if part.stat().st_nlink < 2:
                raise StepFailed(f"{tool.label}: {part.name} is not hardlinked to the cache after add")
        ctx.results.disk[(tool.key, label)] = (du_bytes(data / "big"), du_bytes(repo))
        progress(f"  {tool.label:10} {label:42} add {sample.seconds:6.2f} s, "
                 f"repository {ctx.results.disk[(tool.key, label)][1] / MIB:.0f} MiB")
    finally:
        if not ctx.keep:
            shutil.rmtree(repo, ignore_errors=True)


def baselines(data: Path, count: int, scratch: Path, results: Results) -> None:
    """Warm read, stat and hardlink of the whole tree (fastest of three, after a warm-up read)."""
    src = str(data / "small")
    subprocess.run(f"find {shlex.quote(src)} -type f -print0 | xargs -0 cat > /dev/null",
                   shell=True, check=True)  # warm-up

    def timed_shell(cmd: str) -> float:
        os.sync()
        start = time.perf_counter()
        subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    def python_read() -> float:
        start = time.perf_counter()
        for dirpath, _, files in os.walk(src):
            for name in files:
                with open(os.path.join(dirpath, name), "rb", buffering=0) as f:
                    f.readall()
        return time.perf_counter() - start

    def hardlink() -> float:
        target = scratch / f"cp-al-{count}"
        if target.exists():
            shutil.rmtree(target)
        seconds = timed_shell(f"cp -al {shlex.quote(src)} {shlex.quote(str(target))}")
        shutil.rmtree(target)
        return seconds

    measures = {
        "read": lambda: timed_shell(f"find {shlex.quote(src)} -type f -print0 | xargs -0 cat > /dev/null"),
        "pyread": python_read,
        "stat": lambda: timed_shell(f"find {shlex.quote(src)} -type f -printf '%s %T@ %i\\n' > /dev/null"),
        "link": hardlink,
    }
    for key, measure in measures.items():  # fastest of three: the least disturbed
        results.baselines[(count, key)] = min(measure() for _ in range(3))


# --------------------------------------------------------------------------- report

STEPS = [
    ("add", "add"),
    ("status_first", "no-op status, 1st after add"),
    ("status_again", "no-op status, again"),
    ("data_status_first", "no-op `dvc data status`, 1st"),
    ("data_status_again", "no-op `dvc data status`, again"),
    ("add_changed", "add after changing 1%"),
    ("switch_v1", "switch v2 → v1 (1% differ)"),
    ("switch_v2", "switch v1 → v2 (1% differ)"),
]


def fmt_mem(samples: list[Sample]) -> str:
    if not samples:
        return "–"
    return f"{max(s.rss_kib for s in samples) / 1024:.0f} ({max(s.pss_kib for s in samples) / 1024:.0f})"


def best(samples: list[Sample]) -> float:
    return min(s.seconds for s in samples)


def worst(samples: list[Sample]) -> float:
    return max(s.seconds for s in samples)


def speedup(slow: list[Sample], fast: list[Sample]) -> str:
    """DVC / git-datavc: fastest runs against each other, and (in brackets) the slowest
    git-datavc run against the fastest DVC run."""
    if not slow or not fast:
        return "–"
    a, b = best(slow) / best(fast), best(slow) / worst(fast)
    return f"{a:.1f}×" if len(fast) == 1 or f"{a:.1f}" == f"{b:.1f}" else f"{a:.1f}× ({b:.1f}×)"


def growth(samples_small: list[Sample], samples_large: list[Sample]) -> str:
    if not samples_small or not samples_large:
        return "–"
    return f"{best(samples_large) / best(samples_small):.2f}"


def pick_status(results: Results, count: int, which: str) -> tuple[str, list[Sample]]:
    """DVC's quicker no-op status (`dvc status` or `dvc data status`) by fastest run."""
    a = results.get("dvc", count, f"status_{which}")
    b = results.get("dvc", count, f"data_status_{which}")
    if a and b:
        return ("`dvc status`", a) if best(a) <= best(b) else ("`dvc data status`", b)
    return ("`dvc status`", a) if a else ("`dvc data status`", b)


def targets(results: Results, counts: list[int], big_label: str) -> list[list[str]]:
    rows = []
    g = results.get

    def verdict(ok: bool | None) -> str:
        return "–" if ok is None else ("**met**" if ok else "**not met**")

    def ratio_verdict(slow: list[Sample], fast: list[Sample], target: float) -> str:
        """Met when even the slowest git-datavc run beats the fastest DVC run by `target`;
        "fastest runs only" when only the fastest runs of both do."""
        if not slow or not fast:
            return "–"
        if best(slow) / worst(fast) >= target:
            return "**met**"
        if best(slow) / best(fast) >= target:
            return "**met by the fastest runs only**"
        return "**not met**"

    for n in counts:
        d, v = g("datavc", n, "add"), g("dvc", n, "add")
        rows.append([f"add ≥ 5× faster than `dvc add`, {n:,} files",
                     f"{speedup(v, d)}" if d and v else "–", ratio_verdict(v, d, 5)])
    n50 = 50_000 if 50_000 in counts else counts[0]
    st = g("datavc", n50, "status_first") + g("datavc", n50, "status_again")
    rows.append([f"no-op status < 0.3 s, {n50:,} files",
                 f"{best(st):.3f}–{worst(st):.3f} s (1st and again)" if st else "–",
                 verdict(worst(st) < 0.3 if st else None)])
    for n in counts:
        for key, label in (("switch_v1", "v2 → v1"), ("switch_v2", "v1 → v2")):
            d, v = g("datavc", n, key), g("dvc", n, key)
            rows.append([f"1% switch ≥ 10× faster than DVC's, {n:,} files, {label}",
                         speedup(v, d), ratio_verdict(v, d, 10)])
    nmax = max(counts)
    mem = [s for key, _ in STEPS for s in g("datavc", nmax, key)]
    if mem:
        def where(attr: str) -> str:
            key = max(((k, s) for k, _ in STEPS for s in g("datavc", nmax, k)),
                      key=lambda ks: getattr(ks[1], attr))[0]
            return dict(STEPS)[key]
        rss = max(s.rss_kib for s in mem) * 1024 / 1e6
        pss = max(s.pss_kib for s in mem) * 1024 / 1e6
        rows.append([f"peak memory < 300 MB, {nmax:,} files: largest single process (`/usr/bin/time` %M)",
                     f"{rss:.0f} MB ({where('rss_kib')})", verdict(rss < 300)])
        rows.append([f"peak memory < 300 MB, {nmax:,} files: whole process tree (PSS sum)",
                     f"{pss:.0f} MB ({where('pss_kib')})", verdict(pss < 300)])
    if len(counts) >= 2:
        lo, hi = min(counts), max(counts)
        factor = hi / lo
        worst_growth, worst_step = 0.0, ""
        for key, label in STEPS:
            a, b = g("datavc", lo, key), g("datavc", hi, key)
            if a and b and best(b) / best(a) > worst_growth:
                worst_growth, worst_step = best(b) / best(a), label
        worst_mem, worst_mem_step = 0.0, ""
        for key, label in STEPS:
            a, b = g("datavc", lo, key), g("datavc", hi, key)
            if a and b:
                ratio = max(s.rss_kib for s in b) / max(s.rss_kib for s in a)
                if ratio > worst_mem:
                    worst_mem, worst_mem_step = ratio, label
        if worst_step:
            rows.append([f"every figure grows linearly or better, {lo:,} → {hi:,} files (×{factor:g})",
                         f"largest growth: time ×{worst_growth:.2f} ({worst_step}, fastest runs), "
                         f"peak memory ×{worst_mem:.2f} ({worst_mem_step})",
                         verdict(max(worst_growth, worst_mem) <= factor * 1.1)])
    disk = results.disk.get(("datavc", big_label))
    if disk:
        rows.append([f"workspace + cache of {big_label} ≈ 1 copy, not 2",
                     f"{disk[1] / MIB:.0f} MiB for {disk[0] / MIB:.0f} MiB of data ({disk[1] / disk[0]:.2f} copies)",
                     verdict(disk[1] / disk[0] < 1.1)])
    return rows


BUSY = 0.3  # cores of other work during a step above which the report names that run


def load_note(results: Results) -> str:
    """Whether other work competed with the timed steps, and in which runs."""
    if not results.others:
        return ""
    runs: dict[tuple[str, int, int], list[float]] = {}
    for key, count, run, cores in results.others:
        runs.setdefault((key, count, run), []).append(cores)
    busy = [f"{TOOL_LABELS[k]}'s run {r} at {n:,} files ({min(v):.2f}–{max(v):.2f} cores, "
            f"{sum(c > BUSY for c in v)} of {len(v)} steps)"
            for (k, n, r), v in runs.items() if max(v) > BUSY]
    allc = [o[-1] for o in results.others]
    head = (f"Cores kept busy by other processes while steps were timed (of "
            f"{len(os.sched_getaffinity(0))}): {sum(allc) / len(allc):.2f} on average.")
    if not busy:
        return f"The machine was quiet: {head}"
    return (f"**The machine was shared: other work competed with some runs**, whose figures "
            f"are slower for it (they make the upper ends of the ranges): {'; '.join(busy)}. {head}")


def render(results: Results, tools: list[Tool], counts: list[int], args: argparse.Namespace,
           info: list[tuple[str, str]], command: str, big_label: str, runs_of: dict[int, int]) -> str:
    keys = [t.key for t in tools]
    both = keys == ["datavc", "dvc"]
    out = [
        f"Data: directories of {', '.join(f'{n:,}' for n in counts)} files of 1–8 KiB "
        f"(about {gen_data.FILES_PER_LEAF} files per folder, two levels of folders; "
        f"`bench/gen_data.py`'s seeded tree, seed {args.seed}); the change is every "
        f"{CHANGE_EVERY}th file deleted and recreated with other content (1%). "
        "Each tool in a fresh git repository per run, cache type hardlink for both; "
        f"runs: {', '.join(f'{runs_of[n]} at {n:,}' for n in counts)}; min–max over the runs. "
        "Warm page cache; `sync` before every timed step.",
        "",
        load_note(results),
        "",
        "### Wall time (seconds)",
        "",
    ]
    header = ["step"]
    for n in counts:
        header += [f"{TOOL_LABELS[k]} {n // 1000}k" for k in keys] + ([f"DVC ÷ git-datavc {n // 1000}k"] if both else [])
    header += [f"growth {min(counts) // 1000}k→{max(counts) // 1000}k ({TOOL_LABELS[k]})" for k in keys] \
        if len(counts) > 1 else []
    rows = []
    for key, label in STEPS:
        if not any(results.get(k, n, key) for k in keys for n in counts):
            continue
        row = [label]
        for n in counts:
            row += [fmt_seconds(results.get(k, n, key)) for k in keys]
            if both:
                if key.startswith("data_status"):
                    row.append("–")
                elif key.startswith("status"):
                    which = key.split("_", 1)[1]
                    name, dvc_samples = pick_status(results, n, which)
                    row.append(speedup(dvc_samples, results.get("datavc", n, key)) + f" vs {name}")
                else:
                    row.append(speedup(results.get("dvc", n, key), results.get("datavc", n, key)))
        if len(counts) > 1:
            row += [growth(results.get(k, min(counts), key), results.get(k, max(counts), key)) for k in keys]
        rows.append(row)
    out += table(header, rows)
    out += ["", "Ratios: fastest run against fastest run; in brackets, the slowest git-datavc run "
            "against the fastest DVC run, when that differs. Status: `git datavc status` against "
            "the quicker of `dvc status` and `dvc data status`."
            + (f" Growth: fastest run at {max(counts):,} files ÷ fastest run at {min(counts):,} "
               f"(×{max(counts) / min(counts):g} the files; below that is better than linear)."
               if len(counts) > 1 else "")]

    out += ["", "### Peak memory (MiB)", "",
            "Largest single process (`/usr/bin/time -f %M`, max over runs) and, in brackets, the "
            "peak sum of PSS over the whole process tree (sampled every 0.1 s). git-datavc's add "
            "forks worker processes (one per core) and the switch runs in git's post-checkout "
            "hook; %M is the largest of those processes alone, the PSS sum counts them all "
            "(shared pages once).", ""]
    header = ["step"] + [f"{TOOL_LABELS[k]} {n // 1000}k" for n in counts for k in keys]
    rows = []
    for key, label in STEPS:
        if any(results.get(k, n, key) for k in keys for n in counts):
            rows.append([label] + [fmt_mem(results.get(k, n, key)) for n in counts for k in keys])
    out += table(header, rows)

    if results.disk:
        out += ["", "### Disk: workspace + cache right after the first add (MiB)", "",
                "`du -s` over the whole repository (work tree, `.git`, the cache — `.git/datavc` "
                "or `.dvc/cache` — and DVC's site cache, put in `.dvc/tmp`), each hardlinked "
                "inode counted once; against `du -s` of one copy of the data.", ""]
        labels = list(dict.fromkeys(label for _, label in results.disk))
        rows = []
        for label in labels:
            one = next(v[0] for (k, l), v in results.disk.items() if l == label)
            row = [f"{label} files" if label.replace(",", "").isdigit() else label, f"{one / MIB:.0f}"]
            for k in keys:
                v = results.disk.get((k, label))
                row.append(f"{v[1] / MIB:.0f} ({v[1] / v[0]:.2f} copies)" if v else "–")
            rows.append(row)
        out += table(["dataset", "one copy of the data"] + [TOOL_LABELS[k] for k in keys], rows)
        if results.big_add:
            out += ["", f"Add of the {big_label} dataset (one run): " + ", ".join(
                f"{TOOL_LABELS[k]} {s.seconds:.2f} s, {s.rss_kib / 1024:.0f} MiB largest process"
                for k, s in results.big_add.items()) + "."]

    out += ["", "### Targets (issue 3)", ""]
    out += table(["target", "measured", ""], targets(results, counts, big_label))

    if results.baselines:
        out += ["", "### Machine baselines (warm, seconds)", ""]
        out += table(["files", "read all (`find \\| xargs cat`)", "read all (one Python process)",
                      "stat all (`find -printf`)", "hardlink all (`cp -al`)"],
                     [[f"{n:,}"] + [f"{results.baselines[(n, k)]:.2f}" if (n, k) in results.baselines else "–"
                                    for k in ("read", "pyread", "stat", "link")] for n in counts])

    if results.failures:
        out += ["", "### Failures", ""] + [f"- {f}" for f in results.failures]

    out += ["", "### Machine", ""] + [f"- {k}: {v}" for k, v in info]
    out += ["", "Reproduce (from the repository root; DVC in `bench/scratch/dvc-venv`, see the "
            "module docstring):", "", "```sh", command, "```"]
    return "\n".join(out) + "\n"


def machine_info(runner: Runner, workdir: Path, versions: dict[str, str | None],
                 uptime_start: str, loads: list[float], others: list[float],
                 minutes: float) -> list[tuple[str, str]]:
    m = describe_machine(runner, workdir)
    uptime_end = first_line(runner, ["uptime"]) or "?"
    load = (f"1-minute load average after each timed step {min(loads):.2f}–{max(loads):.2f} "
            "(it counts the benchmark's own processes too)" if loads else "")
    other = (f"other processes kept {sum(others) / len(others):.2f} cores busy on average during the "
             f"timed steps, {max(others):.2f} at most (of {len(os.sched_getaffinity(0))})" if others else "?")
    return [
        ("date (UTC)", m.date),
        ("CPU", f"{m.cpu}, nproc = {m.nproc}"),
        ("memory", m.memory),
        ("load", f"`uptime` at start: `{uptime_start.strip()}`; at end: `{uptime_end.strip()}`; {load}"),
        ("other work on the machine", other),
        ("OS", f"{m.system}, work dir on {m.fstype}"),
        ("git", versions["git"] or "?"),
        ("git-datavc", versions["datavc"] or "?"),
        ("DVC", versions["dvc"] or "not installed"),
        ("python", f"{platform.python_version()} (benchmark); git-datavc: {versions['datavc_python'] or '?'}; "
                   f"DVC: {versions['dvc_python'] or '?'}"),
        ("benchmark wall time", f"{minutes:.1f} min"),
    ]


def source_state() -> tuple[str, str] | None:
    """(commit, digest of git_datavc/ and hooks/ as they are on disk) of this checkout, or
    None outside a git checkout. The digest shows an edit made while the benchmark ran."""
    import hashlib
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--",
                                "git_datavc", "hooks"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    digest = hashlib.sha256()
    for top in ("git_datavc", "hooks"):
        for path in sorted((REPO_ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return (f"{commit}{' + uncommitted changes' if dirty.strip() else ''}", digest.hexdigest())


def snapshot_datavc(root: Path) -> Path:
    """Copy this checkout's git_datavc/ to ROOT and write ROOT/bin/git-datavc, a script that
    runs that copy with the checkout's .venv python (its dependencies); returns ROOT/bin.
    The hooks and filters call `git-datavc` through PATH, so they run the copy too."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(REPO_ROOT / "git_datavc", root / "git_datavc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    bindir = benchlib.write_launcher(root, VENV_PYTHON)
    where = subprocess.run([str(bindir / "git-datavc"), "--version"], capture_output=True,
                           text=True, cwd=root)
    probe = subprocess.run([str(VENV_PYTHON), "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                            "import git_datavc; print(git_datavc.__file__)"],
                           capture_output=True, text=True, cwd=bindir)
    if where.returncode != 0 or not probe.stdout.strip().startswith(str(root)):
        sys.exit(f"the copy of git_datavc/ does not run: {tail(where.stderr + probe.stderr + probe.stdout)}")
    return bindir


def reproduce_command(args: argparse.Namespace) -> str:
    parts = ["python3 bench/metafile_bench.py"]
    if args.counts != [50_000, 100_000]:
        parts.append("--counts " + ",".join(map(str, args.counts)))
    if args.runs != 2:
        parts.append(f"--runs {args.runs}")
    if args.large_runs is not None:
        parts.append(f"--large-runs {args.large_runs}")
    if args.status_repeats != 2:
        parts.append(f"--status-repeats {args.status_repeats}")
    if args.seed != 1:
        parts.append(f"--seed {args.seed}")
    if (args.big_files, args.big_file_mib) != (64, 16):
        parts.append(f"--big-files {args.big_files} --big-file-mib {args.big_file_mib}")
    if args.only:
        parts.append(f"--only {args.only}")
    if args.no_snapshot:
        parts.append("--no-snapshot")
    return " ".join(parts + ["--write-results"])


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", default="50000,100000",
                   help="file counts, comma-separated (default 50000,100000)")
    p.add_argument("--runs", type=int, default=2, help="fresh repositories per tool and count (default 2)")
    p.add_argument("--large-runs", type=int,
                   help="runs for counts above 50,000 (default: --runs), to keep a slow machine's total down")
    p.add_argument("--status-repeats", type=int, default=2,
                   help="no-op status runs timed after the first one (default 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--big-files", type=int, default=64, help="files in the disk-use dataset (default 64)")
    p.add_argument("--big-file-mib", type=int, default=16, help="MiB per file there (default 16)")
    p.add_argument("--only", choices=["datavc", "dvc"], help="bench one tool")
    p.add_argument("--dvc", default=str(DEFAULT_DVC), help="the dvc executable (default bench/scratch/dvc-venv/bin/dvc)")
    p.add_argument("--workdir", type=Path, default=HERE / "scratch" / "metafile",
                   help="scratch directory (default bench/scratch/metafile/, git-ignored)")
    p.add_argument("--timeout", type=float, default=1800, help="per-command timeout in seconds")
    p.add_argument("--keep", action="store_true", help="keep the benchmark repositories")
    p.add_argument("--no-snapshot", action="store_true",
                   help="run git-datavc as installed instead of a copy of this checkout's git_datavc/ "
                        "taken at the start (the copy keeps edits made meanwhile out of the figures)")
    p.add_argument("--write-results", action="store_true", help=f"write bench/{RESULTS_FILE.name}")
    args = p.parse_args(argv)
    try:
        args.counts = sorted({int(c.replace("_", "")) for c in args.counts.split(",") if c.strip()})
    except ValueError:
        p.error("--counts takes comma-separated integers")
    if not args.counts or min(args.counts) < CHANGE_EVERY:
        p.error(f"--counts: at least {CHANGE_EVERY} files each")
    if min(args.runs, args.large_runs or 1, args.big_files, args.big_file_mib) < 1 or args.status_repeats < 0:
        p.error("--runs, --large-runs, --big-files and --big-file-mib must be >= 1")
    args.workdir = args.workdir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    benchlib.require_gnu_time()
    started = time.perf_counter()
    uptime_start = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    progress(f"uptime: {uptime_start.strip()}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    runner = Runner(isolated_env(args.workdir, args.workdir / "home"), args.timeout)
    snapshot = None
    if not args.no_snapshot and VENV_PYTHON.exists():
        # Others may edit and commit git_datavc/ while this runs: measure a frozen copy.
        snapshot = source_state() or ("?", "")
        bindir = snapshot_datavc(args.workdir / "datavc-snapshot")
        runner.env["PATH"] = f"{bindir}{os.pathsep}{runner.env['PATH']}"

    keys = [args.only] if args.only else ["datavc", "dvc"]
    tools = [Tool(k, args.dvc) for k in keys]
    versions = {"git": first_line(runner, ["git", "--version"]),
                "datavc": first_line(runner, ["git", "datavc", "--version"]),
                "dvc": first_line(runner, [args.dvc, "--version"]) if "dvc" in keys else None,
                "dvc_python": None, "datavc_python": None}
    dvc_python = Path(args.dvc).parent / "python"
    if "dvc" in keys and dvc_python.exists():
        versions["dvc_python"] = first_line(runner, [str(dvc_python), "-c", "import platform; print(platform.python_version())"])
    datavc_bin = shutil.which("git-datavc", path=runner.env.get("PATH"))
    source_start = None
    if snapshot is not None:
        versions["datavc"] = (f"{versions['datavc']}, run from a copy of this checkout's git_datavc/ taken "
                              f"at the start (commit {snapshot[0]}) with its .venv's python")
        versions["datavc_python"] = first_line(runner, [str(VENV_PYTHON), "-c",
                                                        "import platform; print(platform.python_version())"])
    elif datavc_bin:
        # where it comes from, without writing this machine's paths into the report
        if Path(datavc_bin).parent.resolve() == VENV_PYTHON.parent.resolve():
            source_start = source_state()
            versions["datavc"] = f"{versions['datavc']}, this checkout's .venv" + (
                f", commit {source_start[0]}" if source_start else "")
        else:
            versions["datavc"] = f"{versions['datavc']} (from PATH)"
        shebang = Path(datavc_bin).read_bytes()[:200].split(b"\n", 1)[0].decode(errors="replace")
        if shebang.startswith("#!"):
            versions["datavc_python"] = first_line(runner, [*shebang[2:].split(), "-c",
                                                            "import platform; print(platform.python_version())"])
    for key in keys:
        if versions[key] is None:
            sys.exit(f"{TOOL_LABELS[key]} does not run (`--version` failed); see the module docstring")
    runner.run(["git", "datavc", "install", "--global", "--no-hooks"], args.workdir)
    if "dvc" in keys:
        runner.run([args.dvc, "config", "--global", "core.analytics", "false"], args.workdir)
        runner.run([args.dvc, "config", "--global", "core.check_update", "false"], args.workdir)

    repos = args.workdir / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    results = Results()
    ctx = Context(runner, results, repos, args.keep, args.status_repeats)
    runs_of = {n: (args.large_runs if args.large_runs and n > 50_000 else args.runs) for n in args.counts}

    for count in args.counts:
        data = small_tree(args.workdir, count, args.seed)
        progress(f"{count:,} files: machine baselines")
        baselines(data, count, repos, results)
        progress("  read (cat) {:.2f} s, read (python) {:.2f} s, stat {:.2f} s, cp -al {:.2f} s".format(
            *(results.baselines[(count, k)] for k in ("read", "pyread", "stat", "link"))))
        for run in range(1, runs_of[count] + 1):
            progress(f"{count:,} files: run {run}/{runs_of[count]}")
            for tool in tools:  # tools interleaved within each run
                try:
                    bench_run(tool, count, run, data, ctx)
                except StepFailed as e:
                    results.failures.append(f"{tool.label}, {count:,} files, run {run}: {e}")
                    progress(f"  {tool.label}: FAILED: {e}")

    big_mib = args.big_files * args.big_file_mib
    big_label = (f"{big_mib / 1024:g} GiB" if big_mib >= 1024 else f"{big_mib} MiB") + \
        f" ({args.big_files} files of {args.big_file_mib} MiB)"
    big = big_tree(args.workdir, args.big_files, args.big_file_mib, args.seed)
    progress(big_label)
    for tool in tools:
        try:
            bench_big(tool, big, big_label, ctx)
        except StepFailed as e:
            results.failures.append(f"{tool.label}, {big_label}: {e}")
            progress(f"  {tool.label}: FAILED: {e}")

    if source_start is not None:
        source_end = source_state()
        if source_end is None or source_end[1] != source_start[1]:  # another commit alone is fine
            results.failures.append(
                "git-datavc's source (git_datavc/, hooks/) changed while the benchmark ran "
                f"(commit {source_start[0]} at the start, {source_end[0] if source_end else '?'} at "
                "the end): the figures may mix versions; run it again")
    minutes = (time.perf_counter() - started) / 60
    progress(f"total benchmark time {minutes:.1f} min")
    info = machine_info(runner, args.workdir, versions, uptime_start, results.loads,
                        [o[-1] for o in results.others], minutes)
    report = render(results, tools, args.counts, args, info, reproduce_command(args), big_label, runs_of)
    print(report)
    if args.write_results:
        RESULTS_FILE.write_text("# Metafile mode: git datavc vs DVC on directories of small files\n\n" + report)
        progress(f"wrote {RESULTS_FILE.relative_to(REPO_ROOT)}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
