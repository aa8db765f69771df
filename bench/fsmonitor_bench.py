#!/usr/bin/env python3
"""No-op `git datavc status` of a directory out of N small files (metafile mode): the stat
walk (treedigest) vs `core.fsmonitor = watchman`, beside `find -printf` of the same tree
(the machine's stat floor, issue 12's yardstick) and plain `git status`.

The tree is bench/gen_data.py's small-file set (seed 1), copied into a fresh repository,
`git datavc add`ed, committed, and aged past the racy window (mtimes set one hour back),
so that status keeps its digest. Each status is run once untimed (it keeps the digest and,
with Watchman, the clock; the first Watchman call also starts the daemon and crawls the
tree), then timed --repeats times as a whole process (`/usr/bin/time`-like wall time).

    python3 bench/fsmonitor_bench.py [--counts 50000,200000] [--repeats 5] [--write-results]

Needs this checkout's dev install (.venv) and `watchman` on PATH (Debian: apt watchman).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_data  # noqa: E402
from benchlib import write_or_print  # noqa: E402

RESULTS = HERE / "results_fsmonitor.md"


def run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def setup(work: Path, count: int) -> Path:
    data = HERE / "scratch" / f"data-{count}-0"
    if not (data / "small").is_dir():
        gen_data.generate(data, 0, count, 1)
    repo = work / f"repo-{count}"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run(["git", "datavc", "init"], repo)
    shutil.copytree(data / "small", repo / "small")
    run(["git", "datavc", "add", "small"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "data"], repo)
    old = time.time() - 3600
    for folder, _, names in os.walk(repo / "small"):
        for name in names:
            os.utime(os.path.join(folder, name), (old, old))
    return repo


def timed(cmd: list[str], repo: Path, repeats: int) -> list[float]:
    run(cmd, repo)                          # untimed: keeps the digest / the clock
    return [run(cmd, repo) for _ in range(repeats)]


def fmt(samples: list[float]) -> str:
    return f"{min(samples):.3f}–{max(samples):.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", default="50000,200000")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workdir", type=Path, default=HERE / "scratch" / "fsmonitor")
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    if shutil.which("watchman") is None:
        print("error: watchman is not installed", file=sys.stderr)
        return 1
    rows = []
    load = [os.getloadavg()[0]]
    for count in (int(c) for c in args.counts.split(",")):
        repo = setup(args.workdir, count)
        config = ["git", "config", "-f", ".datavc/config.local", "core.fsmonitor"]
        subprocess.run(config + ["false"], cwd=repo, check=True)
        walk = timed(["git", "datavc", "status"], repo, args.repeats)
        subprocess.run(config + ["watchman"], cwd=repo, check=True)
        watch = timed(["git", "datavc", "status"], repo, args.repeats)
        find = timed(["find", "small", "-printf", "%s %T@\\n"], repo, args.repeats)
        git_status = timed(["git", "status", "--porcelain"], repo, args.repeats)
        subprocess.run(["watchman", "watch-del", str(repo)], stdout=subprocess.DEVNULL)
        rows.append((count, walk, watch, find, git_status))
        print(f"{count:,} files: walk {fmt(walk)} s, watchman {fmt(watch)} s, "
              f"find {fmt(find)} s, git status {fmt(git_status)} s "
              f"(watchman ÷ find {min(watch) / min(find):.2f}×)", flush=True)
        shutil.rmtree(repo, ignore_errors=True)
    load.append(os.getloadavg()[0])
    version = subprocess.run(["watchman", "--version"], capture_output=True, text=True).stdout
    lines = [
        "# No-op metafile `status`: stat walk vs `core.fsmonitor = watchman`", "",
        f"`python3 bench/fsmonitor_bench.py --counts {args.counts} --repeats {args.repeats}`",
        "", f"- date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}",
        f"- machine: {os.cpu_count()} CPUs; load average {load[0]:.2f} at start, "
        f"{load[1]:.2f} at end",
        f"- watchman {version.strip()}", "",
        "Wall seconds of whole processes, min–max over the timed runs, after one untimed "
        "run of each. The tree is aged past the racy window first.", "",
        "| files | status, stat walk | status, watchman | `find -printf` | `git status` | "
        "watchman ÷ find |",
        "|---:|---:|---:|---:|---:|---:|"]
    for count, walk, watch, find, git_status in rows:
        lines.append(f"| {count:,} | {fmt(walk)} | {fmt(watch)} | {fmt(find)} | "
                     f"{fmt(git_status)} | {min(watch) / min(find):.2f}× |")
    write_or_print("\n".join(lines) + "\n", RESULTS, args.write_results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
