"""Taking over a DVC project: time to the first `git datavc repro` that says "up to date",
against re-running the pipeline from zero, beside what DVC itself takes.

The project: `data/` (10,000 files of 1-4 KiB) added with `dvc add`, and one stage that
reads every file of it and writes a summary (`dvc repro` run once, so `dvc.lock` holds its
md5s). Each measured step starts from a fresh copy of that project (`cp -a`: its git
repository and DVC cache too, nothing of git-datavc yet) and runs under a throw-away HOME:

- `dvc repro`, up to date: what the DVC user has today;
- git-datavc, taken over: `git datavc repro` reads dvc.lock, md5-checks every file once
  (BLAKE3 in the same read, objects into the cache), writes datavc.lock: nothing runs;
- git-datavc, the same repro again (the stat cache knows every file now);
- git-datavc from zero: the same copy without dvc.lock (`repro -f`: the out DVC made is in
  no git-datavc cache), so the stage runs and everything is hashed and cached (what a
  take-over without dvc.lock support costs);
- `git datavc import-dvc`: the conversion for good, for comparison;
- `dvc repro -f`: DVC re-running the stage from zero.

Usage: python3 bench/takeover_bench.py [--files 10000] [--runs 3] [--stage-seconds S]
                                       [--dvc PATH] [--write-results]
(--write-results appends a section to bench/results_takeover.md)
DVC comes from the package registry: python3 -m venv bench/scratch/dvc-venv &&
bench/scratch/dvc-venv/bin/pip install dvc==3.67.1
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import HERE, REPO_ROOT, isolated_env, progress

STAGE = """\
import json, os, sys, time
time.sleep(float(sys.argv[1]))  # --stage-seconds: what the stage's real work would take
total = count = 0
for folder, _, names in os.walk("data"):
    for name in sorted(names):
        with open(os.path.join(folder, name), "rb") as f:
            total += sum(f.read())
        count += 1
json.dump({"files": count, "byte_sum": total}, open("summary.json", "w"))
"""
DVC_YAML = """\
stages:
  summarize:
    cmd: python3 summarize.py {seconds}
    deps: [data, summarize.py]
    outs: [summary.json]
"""
STEPS = [("dvc", "dvc repro (up to date)"),
         ("takeover", "git datavc repro, first after taking over (up to date)"),
         ("again", "git datavc repro, second (up to date)"),
         ("zero", "git datavc repro -f from zero (no dvc.lock: the stage runs)"),
         ("import", "git datavc import-dvc (conversion for good)"),
         ("dvc_force", "dvc repro -f (DVC re-running from zero)")]


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-800:]}")
    return done.stdout + done.stderr


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = sh(args, cwd, env)
    return time.perf_counter() - start, out


def make_project(path: Path, files: int, seconds: float, dvc: str,
                 env: dict[str, str]) -> None:
    rng = random.Random(7)
    sh(["git", "init", "-q", str(path)], path.parent, env)
    sh([dvc, "init", "-q"], path, env)
    for i in range(files):
        folder = path / "data" / f"part{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(rng.randint(1024, 4096)))
    (path / "summarize.py").write_text(STAGE)
    (path / "dvc.yaml").write_text(DVC_YAML.format(seconds=seconds))
    sh([dvc, "add", "-q", "data"], path, env)
    sh([dvc, "repro", "-q"], path, env)
    sh(["git", "add", "-A"], path, env)
    sh(["git", "commit", "-q", "-m", "a DVC project"], path, env)


def fresh_copy(base: Path, work: Path, name: str, env: dict[str, str]) -> Path:
    dst = work / name
    if dst.exists():
        subprocess.run(["chmod", "-R", "u+w", str(dst)], check=False)
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", str(base), str(dst)], check=True)
    return dst


def one_round(base: Path, work: Path, dvc: str, env: dict[str, str]) -> dict[str, float]:
    t: dict[str, float] = {}
    copy = fresh_copy(base, work, "dvc", env)
    t["dvc"], out = timed([dvc, "repro"], copy, env)
    assert "up to date" in out, out
    copy = fresh_copy(base, work, "takeover", env)
    sh(["git", "datavc", "init"], copy, env)
    t["takeover"], out = timed(["git", "datavc", "repro"], copy, env)
    assert "taken over from dvc.lock" in out and "up to date" in out, out
    t["again"], out = timed(["git", "datavc", "repro"], copy, env)
    assert "up to date" in out, out
    copy = fresh_copy(base, work, "zero", env)
    os.unlink(copy / "dvc.lock")
    sh(["git", "datavc", "init"], copy, env)
    # -f: summary.json is there but in no cache, and plain repro refuses to overwrite it
    t["zero"], out = timed(["git", "datavc", "repro", "-f"], copy, env)
    assert "Running stage 'summarize'" in out, out
    copy = fresh_copy(base, work, "import", env)
    sh(["git", "datavc", "init"], copy, env)
    t["import"], out = timed(["git", "datavc", "import-dvc"], copy, env)
    assert "converted 1 .dvc files and 1 dvc.lock stages" in out, out
    copy = fresh_copy(base, work, "dvc_force", env)
    t["dvc_force"], out = timed([dvc, "repro", "-f"], copy, env)
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stage-seconds", type=float, default=0,
                        help="the stage also sleeps this long (a stand-in for training)")
    parser.add_argument("--dvc", default=str(HERE / "scratch" / "dvc-venv" / "bin" / "dvc"))
    parser.add_argument("--work", default=str(HERE / "scratch" / "takeover"))
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    if not Path(args.dvc).exists():
        sys.exit(f"no DVC at {args.dvc}: python3 -m venv bench/scratch/dvc-venv && "
                 "bench/scratch/dvc-venv/bin/pip install dvc==3.67.1")
    work = Path(args.work).resolve()
    if work.exists():
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = isolated_env(work, work / "home")
    base = work / "project"
    base.mkdir()
    progress(f"making a DVC project of {args.files} files ...")
    make_project(base, args.files, args.stage_seconds, args.dvc, env)
    rounds = []
    for i in range(args.runs):
        progress(f"round {i + 1}/{args.runs} ...")
        rounds.append(one_round(base, work, args.dvc, env))
    version = sh([args.dvc, "--version"], work, env).strip()
    lines = [f"## {args.files:,} files, one stage reading them all"
             + (f" and working {args.stage_seconds:g} s more" if args.stage_seconds else ""),
             "", f"`python3 bench/takeover_bench.py --files {args.files} --runs {args.runs} "
             f"--stage-seconds {args.stage_seconds:g}`; "
             f"DVC {version}; median of {args.runs} rounds, each step on a fresh `cp -a` "
             "copy of the DVC project (git repository and DVC cache, nothing of git-datavc).",
             "", "| step | seconds (median) | all runs |", "|---|---:|---|"]
    for key, label in STEPS:
        values = [r[key] for r in rounds]
        lines.append(f"| {label} | {statistics.median(values):.2f} | "
                     + ", ".join(f"{v:.2f}" for v in values) + " |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write_results:  # appended: one section per configuration
        with open(REPO_ROOT / "bench" / "results_takeover.md", "a") as f:
            f.write("\n" + report)


if __name__ == "__main__":
    main()
