#!/usr/bin/env python3
"""Side-by-side benchmark of git-datavc's filter mode, Git LFS and plain git.

For each tool, in a fresh repository under the work dir (default bench/scratch/),
every run times:

  a. git add + git commit of big.bin (1 GiB by default)
  b. add + commit of big-v2.bin over it, then git checkout between the two commits
     both ways (v2 -> v1 and v1 -> v2), each followed by a git status; the
     checked-out file is compared with the source after each switch (untimed)
  c. git add + git commit of the small-file tree (50,000 files, copied in untimed)
  d. git status twice right after, with nothing changed

Plain git (no filter, files stored as ordinary blobs) goes through the same steps
and is the baseline for the git status ratio.

Every timed command runs under /usr/bin/time -f '%e %M'. %M is the peak RSS of the
largest single process in the tree (git, the filter, the hooks), because the
filter is a child of git and git waits for it. The filter's own peak is read
separately by wrapping the filter's `process` command from the repository config
in /usr/bin/time as well.

All git commands run with HOME set to a directory under the work dir (holding a
.gitconfig with a user name and gc.auto=0), GIT_CONFIG_NOSYSTEM=1 and
GIT_CEILING_DIRECTORIES at the work dir (bench/benchlib.py), so the user's own git
configuration is never read nor written. The page cache cannot
be dropped: all runs are warm. os.sync() runs before every timed step so that
one step does not pay for writing back the previous one's data.

Racy git: git compares file and index mtimes in whole seconds (Debian's build has
no USE_NSEC), so a file written in the same second as the index is "racily
clean" and the next git command re-runs the clean filter over it to be sure.
Every timed step starts in a new second, so files copied in by the untimed
preparation are never racy. A checkout, though, writes big.bin and the index
within the same second most of the time; the git status timed right after each
checkout then re-hashes big.bin through the filter (and rewrites the index, which
settles it). The report counts how often that happened and shows those
statuses in a row of their own.

Usage:
  python3 bench/gen_data.py bench/scratch/data      # optional: done on demand
  python3 bench/filter_bench.py [--big-mib 1024] [--small-count 50000] [--runs 2]
                                [--only datavc|lfs|plain] [--baseline-runs 1] [--workdir DIR]
                                [--write-results]
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import benchlib  # noqa: E402  (sibling modules)
import gen_data  # noqa: E402
from benchlib import (MIB, TIME_BIN, StepFailed, describe_machine, first_line,  # noqa: E402
                      fmt_seconds, isolated_env, parse_time_output, progress, table, tail)

RESULTS_FILE = HERE / "RESULTS.md"
SECTION_BEGIN = "<!-- filter-bench:begin (written by bench/filter_bench.py --write-results) -->"
SECTION_END = "<!-- filter-bench:end -->"
SECTION_TITLE = "Filter mode: git-datavc vs Git LFS vs plain git"
POINTER_MAX = 1024  # a pointer blob is far smaller than this


# --------------------------------------------------------------------------- data types

@dataclass
class Sample:
    """One timed command (or the sum of two)."""
    seconds: float
    rss_kib: int                    # /usr/bin/time %M: largest single process in the tree
    filter_rss_kib: int | None = None  # peak of the wrapped filter process, if one ran

    def __add__(self, other: "Sample") -> "Sample":
        filters = [x for x in (self.filter_rss_kib, other.filter_rss_kib) if x is not None]
        return Sample(self.seconds + other.seconds, max(self.rss_kib, other.rss_kib),
                      max(filters) if filters else None)


@dataclass
class Tool:
    key: str                       # datavc | lfs | plain
    label: str
    filter_name: str | None        # the NAME in filter.NAME.* / .gitattributes
    setup: list[list[str]] = field(default_factory=list)
    store: str | None = None       # where the tool keeps file contents, relative to .git


TOOLS = {
    "datavc": Tool("datavc", "git-datavc", "datavc",
                   [["git", "datavc", "init"], ["git", "datavc", "track", "*.bin"]],
                   store="datavc"),
    "lfs": Tool("lfs", "git-lfs", "lfs",
                [["git", "lfs", "install", "--local"], ["git", "lfs", "track", "*.bin"]],
                store="lfs"),
    "plain": Tool("plain", "plain git", None),
}


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    disk: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # tool -> (repo, .git, store)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, tool: str, step: str, sample: Sample) -> None:
        self.samples.setdefault((tool, step), []).append(sample)

    def get(self, tool: str, step: str) -> list[Sample]:
        return self.samples.get((tool, step), [])


# --------------------------------------------------------------------------- running commands

class Runner(benchlib.Runner):
    """Runs commands with the isolated environment; times them under /usr/bin/time."""

    def timed(self, args: list[str], cwd: Path, filter_log: Path | None = None) -> Sample:
        if filter_log is not None:
            filter_log.write_text("")
        t = self.timed_run(args, cwd, keep_stdout=False)
        return Sample(t.seconds, t.time.rss_kib, read_filter_log(filter_log))


def next_second() -> None:
    """Sleep past the next whole second of the clock.

    git (built without USE_NSEC, as Debian's is) compares file and index mtimes in
    whole seconds: a file written in the same second as the index is "racily clean"
    and the next command re-runs the clean filter over it. Starting each timed step
    in a new second keeps files written by the untimed preparation (or by the
    previous step) from being re-hashed inside the step being timed.
    """
    time.sleep(1.05 - time.time() % 1.0)


def read_filter_log(path: Path | None) -> int | None:
    """The highest peak RSS in the wrapped filter's /usr/bin/time log."""
    if path is None or not path.exists():
        return None
    peaks = [p.rss_kib for p in map(parse_time_output, path.read_text().splitlines()) if p]
    return max(peaks) if peaks else None


# --------------------------------------------------------------------------- one tool, one run

def wrap_filter_process(runner: Runner, repo: Path, name: str, log: Path) -> bool:
    """Run the filter's long-running process under /usr/bin/time to read its own peak RSS.

    Only `process` filters are wrapped: per-file clean/smudge commands would pay one
    extra exec per file, which would distort the timings.
    """
    try:
        command = runner.run(["git", "config", "--get", f"filter.{name}.process"], repo).strip()
    except StepFailed:
        return False
    if not command:
        return False
    wrapped = f"{TIME_BIN} -a -o {shlex.quote(str(log))} -f '%e %M' {command}"
    runner.run(["git", "config", "--local", f"filter.{name}.process", wrapped], repo)
    return True


def check_stored(runner: Runner, repo: Path, tool: Tool, path: str, size: int) -> None:
    """Make sure the filter really applied (pointer blob) or did not (plain git)."""
    stored = int(runner.run(["git", "cat-file", "-s", f"HEAD:{path}"], repo))
    if tool.filter_name and stored >= min(size, POINTER_MAX):
        raise StepFailed(f"{path} was stored as a {stored}-byte blob: the {tool.filter_name} filter did not apply")
    if not tool.filter_name and stored != size:
        raise StepFailed(f"{path}: plain git stored {stored} bytes, expected {size}")


def check_same(worktree_file: Path, source: Path, when: str) -> None:
    if not filecmp.cmp(worktree_file, source, shallow=False):
        raise StepFailed(f"after {when}, {worktree_file.name} differs from {source.name}")


def disk_usage(root: Path) -> int:
    """Bytes allocated under root, hard links counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


@dataclass
class Context:
    """What every tool run needs besides the tool itself."""
    data: Path
    repos: Path
    runner: Runner
    results: Results
    labels: dict[str, str]
    status_repeats: int
    keep: bool


def is_racy(repo: Path, path: str) -> bool:
    """Is `path` racily clean, written in the same second as the index (or later)?"""
    return int((repo / path).stat().st_mtime) >= int((repo / ".git" / "index").stat().st_mtime)


def bench_tool(tool: Tool, run: int, ctx: Context) -> None:
    data, runner, results = ctx.data, ctx.runner, ctx.results
    repo = ctx.repos / f"{tool.key}-run{run}"
    filter_log = ctx.repos / f"{tool.key}-run{run}.filter-rss.log"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    big_size = (data / "big.bin").stat().st_size
    wrapped = False  # set once the filter's process command is wrapped

    def step(key: str, args: list[str], new_second: bool = True) -> Sample:
        if new_second:
            next_second()
        sample = runner.timed(args, repo, filter_log if wrapped else None)
        results.add(tool.key, key, sample)
        filt = f", filter {sample.filter_rss_kib / 1024:.0f} MiB" if sample.filter_rss_kib else ""
        progress(f"  {tool.label:10} {ctx.labels[key]:42} {sample.seconds:7.2f} s   "
                 f"peak {sample.rss_kib / 1024:5.0f} MiB{filt}")
        return sample

    def checkout(key: str, rev: str, expected: Path) -> None:
        step(key, ["git", "checkout", "-q", rev])
        check_same(repo / "big.bin", expected, f"checkout {rev}")
        # The status right after is filed by whether the checkout left big.bin racily
        # clean (it then re-hashes it through the filter), see the module docstring.
        step("status_racy" if is_racy(repo, "big.bin") else "status_not_racy", ["git", "status"])

    try:
        runner.run(["git", "init", "-q", "-b", "main"], repo)
        for args in tool.setup:
            runner.run(args, repo)
        if tool.filter_name:
            wrapped = wrap_filter_process(runner, repo, tool.filter_name, filter_log)
        (repo / "README.txt").write_text("benchmark repository\n")
        runner.run(["git", "add", "-A"], repo)
        runner.run(["git", "commit", "-q", "-m", "setup"], repo)

        # a. one big file
        shutil.copyfile(data / "big.bin", repo / "big.bin")
        add = step("big_add", ["git", "add", "big.bin"])
        commit = step("big_commit", ["git", "commit", "-q", "-m", "big.bin v1"])
        results.add(tool.key, "big_add_commit", add + commit)
        check_stored(runner, repo, tool, "big.bin", big_size)
        runner.run(["git", "branch", "v1"], repo)

        # b. a second version, then switch between the two
        shutil.copyfile(data / "big-v2.bin", repo / "big.bin")
        add = step("v2_add", ["git", "add", "big.bin"])
        commit = step("v2_commit", ["git", "commit", "-q", "-m", "big.bin v2"])
        results.add(tool.key, "v2_add_commit", add + commit)
        checkout("checkout_v1", "v1", data / "big.bin")
        checkout("checkout_v2", "main", data / "big-v2.bin")

        # c. many small files
        shutil.copytree(data / "small", repo / "small")
        add = step("small_add", ["git", "add", "small"])
        commit = step("small_commit", ["git", "commit", "-q", "-m", "small files"])
        results.add(tool.key, "small_add_commit", add + commit)
        first = Path("small") / gen_data.small_path(0)
        check_stored(runner, repo, tool, first.as_posix(), (data / first).stat().st_size)

        # d. git status with nothing changed: the first one after the commit, then again
        step("status_first", ["git", "status"])
        for _ in range(ctx.status_repeats):
            step("status_again", ["git", "status"], new_second=False)
        dirty = runner.run(["git", "status", "--porcelain"], repo)
        if dirty.strip():
            raise StepFailed(f"git status is not clean: {tail(dirty.encode())}")

        store = repo / ".git" / tool.store if tool.store else None
        results.disk[tool.key] = (disk_usage(repo), disk_usage(repo / ".git"),
                                  disk_usage(store) if store and store.exists() else 0)
    finally:
        if not ctx.keep:
            shutil.rmtree(repo, ignore_errors=True)
            filter_log.unlink(missing_ok=True)


# --------------------------------------------------------------------------- machine context

@dataclass
class Limit:
    what: str
    seconds: float
    nbytes: int


def machine_limits(data: Path, scratch: Path, runner: Runner) -> list[Limit]:
    big = data / "big.bin"
    size = big.stat().st_size
    with open(big, "rb") as src:  # warm-up read, untimed
        while src.read(8 * MIB):
            pass
    limits = [Limit("read big.bin, warm (cat > /dev/null)", runner.timed(["cat", str(big)], HERE).seconds, size)]

    copy = scratch / "fsync-copy.bin"
    os.sync()
    start = time.perf_counter()
    with open(big, "rb") as src, open(copy, "wb") as dst:
        while chunk := src.read(8 * MIB):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    limits.append(Limit("write a copy + fsync (python)", time.perf_counter() - start, size))
    copy.unlink()

    start = time.perf_counter()
    digest = hashlib.sha256()
    with open(big, "rb") as src:
        while chunk := src.read(8 * MIB):
            digest.update(chunk)
    limits.append(Limit("sha256 of big.bin, warm (python hashlib)", time.perf_counter() - start, size))
    return limits


def machine_info(runner: Runner, workdir: Path, versions: dict[str, str | None],
                 load_start: float) -> list[tuple[str, str]]:
    m = describe_machine(runner, workdir)
    return [
        ("date (UTC)", m.date),
        ("CPU", f"{m.cpu}, nproc = {m.nproc}"),
        ("memory", m.memory),
        ("load average (1 min) at start / end",
         f"{load_start:.2f} / {os.getloadavg()[0]:.2f} (other work on the machine skews the figures)"),
        ("OS", f"{m.system}, work dir on {m.fstype}"),
        ("git", versions["git"] or "?"),
        ("git-lfs", versions["lfs"] or "not installed"),
        ("git-datavc", versions["datavc"] or "not installed"),
        ("python", platform.python_version()),
    ]


# --------------------------------------------------------------------------- report

def step_labels(big_mib: int, small_count: int) -> dict[str, str]:
    big = f"{big_mib / 1024:g} GiB" if big_mib >= 1024 else f"{big_mib} MiB"
    small = f"{small_count:,}"
    return {
        "big_add": f"add {big} file",
        "big_commit": f"commit {big} file",
        "big_add_commit": f"add + commit {big} file",
        "v2_add": "add v2 (1 MiB changed)",
        "v2_commit": "commit v2",
        "v2_add_commit": "add + commit v2 (1 MiB changed)",
        "checkout_v1": "checkout v2 → v1",
        "checkout_v2": "checkout v1 → v2",
        "status_racy": "status after a checkout, big.bin racy",
        "status_not_racy": "status after a checkout, not racy",
        "small_add": f"add {small} small files",
        "small_commit": f"commit {small} small files",
        "small_add_commit": f"add + commit {small} small files",
        "status_first": "status, clean (1st after commit)",
        "status_again": "status, clean (again)",
    }


REPORT_STEPS = ["big_add", "big_add_commit", "v2_add_commit", "checkout_v1", "checkout_v2",
                "status_racy", "status_not_racy",
                "small_add", "small_add_commit", "status_first", "status_again"]


def fmt_rss(samples: list[Sample]) -> str:
    if not samples:
        return "–"
    tree = max(s.rss_kib for s in samples) / 1024
    filters = [s.filter_rss_kib for s in samples if s.filter_rss_kib is not None]
    return f"{tree:.0f} ({max(filters) / 1024:.0f})" if filters else f"{tree:.0f}"


def ratio(a: list[Sample], b: list[Sample]) -> str:
    if not a or not b:
        return "–"
    base = min(s.seconds for s in b)
    return f"{min(s.seconds for s in a) / base:.2f}×" if base > 0 else "–"


def render(results: Results, tools: list[Tool], labels: dict[str, str], limits: list[Limit],
           info: list[tuple[str, str]], args: argparse.Namespace, command: str) -> str:
    ran = [t for t in tools if t.key not in results.skipped]
    small_mib = sum(f.stat().st_size for f in (args.data / "small").rglob("*.bin")) / MIB
    out = [
        f"Data: `big.bin` {args.big_mib} MiB of incompressible pseudo-random bytes, `big-v2.bin` = the same "
        f"with 1 MiB overwritten in the middle; {args.small_count:,} small files of 1–8 KiB "
        f"({small_mib:.0f} MiB) in {max(1, -(-args.small_count // gen_data.FILES_PER_LEAF))} folders "
        f"(seed {args.seed}). {args.runs} run(s) per tool ({min(args.runs, args.baseline_runs)} for plain git), "
        "each in a fresh repository; "
        "min–max over the runs. Warm page cache (it cannot be dropped here); `sync` before each timed step.",
        "",
        "### Wall time (seconds)",
        "",
    ]
    both = all(k in [t.key for t in ran] for k in ("datavc", "lfs"))
    header = ["step"] + [t.label for t in ran] + (["datavc / lfs"] if both else [])
    steps = [k for k in REPORT_STEPS if any(results.get(t.key, k) for t in ran)]
    rows = []
    for key in steps:
        row = [labels[key]] + [fmt_seconds(results.get(t.key, key)) for t in ran]
        if both:
            row.append(ratio(results.get("datavc", key), results.get("lfs", key)))
        rows.append(row)
    out += table(header, rows)

    racy = [f"{t.label} {len(results.get(t.key, 'status_racy'))} of "
            f"{len(results.get(t.key, 'checkout_v1')) + len(results.get(t.key, 'checkout_v2'))}"
            for t in ran]
    out += ["", "Racy git: git compares mtimes in whole seconds, so when a checkout writes big.bin in "
            "the same second as the index, the next `git status` re-hashes big.bin (through the "
            "filter, if any) and rewrites the index. Checkouts that left big.bin racy: "
            f"{', '.join(racy)}. Those statuses are in the row \"racy\", "
            "the others (if any) in \"not racy\"."]

    if "plain" in [t.key for t in ran]:
        out += ["", "`git status` (clean) against plain git, fastest run each: " + ", ".join(
            f"{t.label} {ratio(results.get(t.key, 'status_first'), results.get('plain', 'status_first'))} "
            f"(1st), {ratio(results.get(t.key, 'status_again'), results.get('plain', 'status_again'))} "
            "(again)"
            for t in ran if t.key != "plain") + "."]

    out += ["", "### Peak memory (MiB, max over runs)", "",
            "Largest single process in the command's tree, as `/usr/bin/time -f %M` reports it "
            "(git, the filter or a hook, whichever peaks highest); in parentheses the filter "
            "process alone (its `filter.<name>.process` command wrapped in `/usr/bin/time`). "
            "When the first figure is well above the second, the peak is git itself.", ""]
    out += table(["step"] + [t.label for t in ran],
                 [[labels[k]] + [fmt_rss(results.get(t.key, k)) for t in ran] for k in steps])

    if results.disk:
        out += ["", "### Disk use at the end (MiB, hard links counted once)", ""]
        keys = [t for t in ran if t.key in results.disk]
        out += table([""] + [t.label for t in keys], [
            ["whole repository (work tree + .git)"] + [f"{results.disk[t.key][0] / MIB:.0f}" for t in keys],
            [".git"] + [f"{results.disk[t.key][1] / MIB:.0f}" for t in keys],
            ["of which the tool's store (.git/lfs, .git/datavc)"]
            + [f"{results.disk[t.key][2] / MIB:.0f}" if t.store else "–" for t in keys],
        ])

    notes = [f"- {TOOLS[k].label}: skipped, {why}" for k, why in results.skipped.items()]
    notes += [f"- {TOOLS[k].label}: FAILED, {why}" for k, why in results.failures.items()]
    if notes:
        out += ["", "### Not measured", ""] + notes

    out += ["", "### Machine limits (warm, for context)", ""]
    out += table(["operation", "seconds", "MB/s"],
                 [[l.what, f"{l.seconds:.2f}", f"{l.nbytes / l.seconds / 1e6:.0f}"] for l in limits])
    out += ["", "### Machine", ""] + [f"- {k}: {v}" for k, v in info]
    out += ["", "Setup: `git lfs install --local` + `git lfs track '*.bin'`; "
            "`git datavc init` + `git datavc track '*.bin'`; plain git with no attributes. "
            "HOME is a throw-away directory with only user.name/email, `gc.auto=0` and "
            "`maintenance.auto=false`; `GIT_CONFIG_NOSYSTEM=1`.",
            "", "Reproduce (from the repository root):", "", "```sh", command, "```"]
    return "\n".join(out) + "\n"


def write_results(section: str) -> None:
    """Replace this benchmark's marked section of RESULTS.md, leaving the rest alone."""
    block = f"{SECTION_BEGIN}\n{section}{SECTION_END}\n"
    text = RESULTS_FILE.read_text() if RESULTS_FILE.exists() else "# Benchmark results\n"
    start, end = text.find(SECTION_BEGIN), text.find(SECTION_END)
    if start != -1 and end > start:
        rest = text[end + len(SECTION_END):].lstrip("\n")
        text = text[:start] + block + (f"\n{rest}" if rest else "")
    else:
        text = f"{text.rstrip()}\n\n## {SECTION_TITLE}\n\n{block}"
    RESULTS_FILE.write_text(text)


# --------------------------------------------------------------------------- main

def reproduce_command(args: argparse.Namespace) -> str:
    parts = ["python3 bench/filter_bench.py"]
    for opt, default in (("big_mib", 1024), ("small_count", 50_000), ("runs", 2), ("seed", 1),
                         ("status_repeats", 5)):
        if getattr(args, opt) != default:
            parts.append(f"--{opt.replace('_', '-')} {getattr(args, opt)}")
    if args.only:
        parts.append(f"--only {args.only}")
    if args.no_baseline:
        parts.append("--no-baseline")
    elif args.baseline_runs != 1:
        parts.append(f"--baseline-runs {args.baseline_runs}")
    return " ".join(parts + ["--write-results"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--big-mib", type=int, default=1024, help="size of big.bin in MiB (default 1024)")
    p.add_argument("--small-count", type=int, default=50_000, help="number of small files (default 50000)")
    p.add_argument("--seed", type=int, default=1, help="dataset seed (default 1)")
    p.add_argument("--runs", type=int, default=2, help="fresh repositories per tool (default 2)")
    p.add_argument("--only", choices=["datavc", "lfs", "plain"],
                   help="bench one tool (plus the plain git baseline unless --no-baseline)")
    p.add_argument("--no-baseline", action="store_true", help="skip the plain git baseline")
    p.add_argument("--baseline-runs", type=int, default=1,
                   help="runs of the plain git baseline (default 1: its 1 GiB steps are slow, zlib)")
    p.add_argument("--workdir", type=Path, default=HERE / "scratch",
                   help="scratch directory (default bench/scratch/, git-ignored)")
    p.add_argument("--data", type=Path, help="dataset directory (default WORKDIR/data; generated if needed)")
    p.add_argument("--status-repeats", type=int, default=5,
                   help="clean git status runs timed after the first one (default 5)")
    p.add_argument("--timeout", type=float, default=3600, help="per-command timeout in seconds")
    p.add_argument("--keep", action="store_true", help="keep the benchmark repositories")
    p.add_argument("--write-results", action="store_true", help=f"rewrite the section in {RESULTS_FILE.name}")
    args = p.parse_args(argv)
    if min(args.runs, args.baseline_runs, args.big_mib, args.small_count) < 1:
        p.error("--runs, --baseline-runs, --big-mib and --small-count must be >= 1")
    args.workdir = args.workdir.resolve()
    args.data = (args.data or args.workdir / "data").resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    benchlib.require_gnu_time()

    gen_data.generate(args.data, args.big_mib, args.small_count, args.seed)
    load_start = os.getloadavg()[0]
    # prefer_venv=False: a git-datavc on PATH is the one benchmarked (see benchlib)
    runner = Runner(isolated_env(args.workdir, args.workdir / "home", prefer_venv=False),
                    args.timeout)
    versions = {"git": first_line(runner, ["git", "--version"]),
                "lfs": first_line(runner, ["git", "lfs", "version"]),
                "datavc": first_line(runner, ["git", "datavc", "--version"])}

    keys = [args.only] if args.only else ["datavc", "lfs"]
    if not args.no_baseline and "plain" not in keys:
        keys.append("plain")
    tools = [TOOLS[k] for k in keys]
    results = Results()
    for tool in tools:
        if tool.key != "plain" and versions[tool.key] is None:
            results.skipped[tool.key] = f"`git {tool.key} --version` failed (not installed?)"
            progress(f"skipping {tool.label}: not installed")
    if all(t.key in results.skipped for t in tools):
        sys.exit("nothing to run")

    labels = step_labels(args.big_mib, args.small_count)
    repos = args.workdir / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    ctx = Context(args.data, repos, runner, results, labels, args.status_repeats, args.keep)
    progress("machine limits ...")
    limits = machine_limits(args.data, repos, runner)
    for l in limits:
        progress(f"  {l.what:44} {l.seconds:6.2f} s  {l.nbytes / l.seconds / 1e6:6.0f} MB/s")

    started = time.perf_counter()
    for run in range(1, args.runs + 1):
        progress(f"run {run}/{args.runs}")
        for tool in tools:  # tools interleaved within each run
            if tool.key in results.skipped or tool.key in results.failures:
                continue
            if tool.key == "plain" and run > args.baseline_runs:
                continue
            try:
                bench_tool(tool, run, ctx)
            except StepFailed as e:
                results.failures[tool.key] = str(e)
                progress(f"  {tool.label}: FAILED: {e}")
    progress(f"total benchmark time {time.perf_counter() - started:.0f} s")

    info = machine_info(runner, args.workdir, versions, load_start)
    section = render(results, tools, labels, limits, info, args, reproduce_command(args))
    print(section)
    if args.write_results:
        write_results(section)
        progress(f"wrote {RESULTS_FILE.relative_to(REPO_ROOT)}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
