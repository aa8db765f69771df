#!/usr/bin/env python3
"""Side-by-side benchmark of `git datavc exp run --run-all -j 2` and `dvc exp run --run-all
-j 2`: 8 queued experiments of the same one-stage pipeline.

The project: a 4 MiB data file tracked by `add` (datavc / dvc), params.yaml, and a stage
`python train.py` that reads the data, sleeps `train.sleep` seconds (the "training"),
writes a 1 MiB model (a cached out) and metrics.json. Each tool gets its own fresh git
repository with identical files and a HOME under the work dir. After a first `repro`
committed as the baseline, 8 experiments are queued (`exp run --queue -S train.lr=...`),
then `exp run --run-all -j 2` is timed. Each run checks that 8 experiment refs exist
afterwards, then removes them (`exp remove --all`, DVC: `exp remove -A` and
`queue remove --all`). Reported: the median wall time of the queueing and of the run, and
the overhead = run wall time - 4 rounds of the stage's sleep (the floor with 2 at a time).

DVC 3.x comes from PyPI in its own virtualenv (bench/scratch, git-ignored):

  python3 -m venv bench/scratch/dvc-venv && bench/scratch/dvc-venv/bin/pip install dvc==3.67.1

Usage: python3 bench/exp_bench.py [--runs 3] [--sleep 1.0] [--only datavc|dvc]
           [--dvc bench/scratch/dvc-venv/bin/dvc] [--write-results]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATAVC = str(Path(sys.executable).parent / "git-datavc")
EXPERIMENTS = 8
TRAIN = """\
import json, time, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
data = open("data/raw.bin", "rb").read()
time.sleep(p["sleep"])
open("model.bin", "wb").write(bytes([int(p["lr"] * 100) % 256]) * (1 << 20))
json.dump({"acc": round(1 - p["lr"], 4), "bytes": len(data)}, open("metrics.json", "w"))
"""
PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [data/raw.bin, train.py]
    params: [train]
    outs: [model.bin]
    metrics:
    - metrics.json:
        cache: false
"""


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def tool_cmd(tool: str, env: dict[str, str], *args: str) -> list[str]:
    return [DATAVC, *args] if tool == "datavc" else [env["DVC"], *args]


def make_repo(path: Path, tool: str, env: dict[str, str], sleep: float) -> None:
    if path.exists():
        shutil.rmtree(path)
    (path / "data").mkdir(parents=True)
    sh(["git", "init", "-q"], path, env)
    (path / "data" / "raw.bin").write_bytes(os.urandom(4 << 20))
    (path / "train.py").write_text(TRAIN)
    (path / "params.yaml").write_text(f"train:\n  lr: 0.1\n  sleep: {sleep}\n")
    if tool == "datavc":
        sh([DATAVC, "init"], path, env)
        (path / "datavc.yaml").write_text(PIPELINE)
    else:
        sh([env["DVC"], "init", "-q"], path, env)
        sh([env["DVC"], "config", "core.analytics", "false"], path, env)
        (path / "dvc.yaml").write_text(PIPELINE)
    sh(tool_cmd(tool, env, "add", "data/raw.bin"), path, env)
    sh(tool_cmd(tool, env, "repro"), path, env)
    sh(["git", "add", "-A"], path, env)
    sh(["git", "commit", "-q", "-m", "baseline"], path, env)


def exp_refs(path: Path, env: dict[str, str]) -> int:
    out = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"],
                         cwd=path, env=env, capture_output=True, text=True).stdout.split()
    return sum(1 for ref in out if len(ref.split("/")) == 5)


def one_round(tool: str, path: Path, env: dict[str, str]) -> tuple[float, float]:
    queue = 0.0
    for i in range(EXPERIMENTS):
        queue += sh(tool_cmd(tool, env, "exp", "run", "--queue", "-S",
                             f"train.lr=0.{i + 2}"), path, env)
    run = sh(tool_cmd(tool, env, "exp", "run", "--run-all", "-j", "2"), path, env)
    made = exp_refs(path, env)
    if made != EXPERIMENTS:
        sys.exit(f"{tool}: {made} experiment refs after --run-all, expected {EXPERIMENTS}")
    if tool == "datavc":
        sh([DATAVC, "exp", "remove", "--all"], path, env)
    else:
        sh([env["DVC"], "exp", "remove", "-A"], path, env)
        sh([env["DVC"], "queue", "remove", "--all"], path, env)
    return queue, run


def bench(tools: list[str], work: Path, envs: dict[str, dict[str, str]], runs: int,
          sleep: float) -> dict[str, dict[str, float]]:
    """Rounds alternate between the tools, so that a change in the machine's load (it is
    shared) weighs on both alike."""
    for tool in tools:
        make_repo(work / f"exp-{tool}", tool, envs[tool], sleep)
    rounds: dict[str, list[tuple[float, float]]] = {tool: [] for tool in tools}
    for i in range(runs):
        for tool in tools:
            print(f"round {i + 1}: {tool} ...", file=sys.stderr, flush=True)
            rounds[tool].append(one_round(tool, work / f"exp-{tool}", envs[tool]))
    return {tool: {"queue": statistics.median(r[0] for r in got),
                   "run": statistics.median(r[1] for r in got),
                   "run_min": min(r[1] for r in got)} for tool, got in rounds.items()}


def table(results: dict[str, dict[str, float]], sleep: float) -> str:
    d, v = results.get("datavc", {}), results.get("dvc", {})
    floor = sleep * EXPERIMENTS / 2

    def cell(r: dict[str, float], key: str, minus: float = 0.0, per: int = 1) -> str:
        return f"{(r[key] - minus) / per:.2f} s" if key in r else "-"

    def ratio(key: str, minus: float = 0.0) -> str:
        if key not in d or key not in v or d[key] - minus <= 0:
            return "-"
        return f"{(v[key] - minus) / (d[key] - minus):.1f}x"

    rows = [(f"queue {EXPERIMENTS} experiments (`exp run --queue -S ...`, total)", "queue", 0.0, 1),
            (f"`exp run --run-all -j 2` of {EXPERIMENTS} (wall)", "run", 0.0, 1),
            ("... less the training itself (4 rounds of the sleep)", "run", floor, 1),
            ("... that overhead / 8 (wall clock, 2 at a time)", "run", floor, EXPERIMENTS)]
    lines = ["| | git-datavc | DVC | DVC / git-datavc |", "|---|---:|---:|---:|"]
    for title, key, minus, per in rows:
        lines.append(f"| {title} | {cell(d, key, minus, per)} | {cell(v, key, minus, per)} "
                     f"| {ratio(key, minus)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each stage trains")
    parser.add_argument("--workdir", type=Path, default=HERE / "scratch" / "exp")
    parser.add_argument("--dvc", default=str(HERE / "scratch" / "dvc-venv" / "bin" / "dvc"))
    parser.add_argument("--only", choices=["datavc", "dvc"])
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    work = args.workdir.resolve()
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n"
                                     "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    dvc_bin = str(Path(args.dvc).parent)
    # the stage's `python` must have pyyaml: DVC's venv has it, and so does git-datavc's
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_", "DATAVC_"))}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1",
                "DVC": args.dvc, "PATH": path, "GIT_CEILING_DIRECTORIES": str(work.parent)})
    tools = [args.only] if args.only else ["datavc", "dvc"]
    if "dvc" in tools and not Path(args.dvc).exists():
        sys.exit(f"no DVC at {args.dvc}: python3 -m venv bench/scratch/dvc-venv && "
                 "bench/scratch/dvc-venv/bin/pip install dvc==3.67.1")
    envs = {"datavc": env, "dvc": {**env, "PATH": dvc_bin + os.pathsep + path}}
    results = bench(tools, work, envs, args.runs, args.sleep)
    dvc_version = ""
    if "dvc" in tools:
        dvc_version = subprocess.run([args.dvc, "--version"], capture_output=True, text=True,
                                     env=env).stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    report = (f"# Experiments benchmark: git datavc exp run --run-all vs dvc exp run --run-all\n\n"
              f"{table(results, args.sleep)}\n\n"
              f"Median of {args.runs} rounds (alternating between the tools); each stage sleeps {args.sleep} s, so 8 "
              f"experiments 2 at a time cannot take less than {args.sleep * 4:.1f} s. "
              f"DVC {dvc_version or '-'}, Python {platform.python_version()}, "
              f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load "
              f"{load:.1f} at the end (a shared machine: other work ran beside both tools). Command: `python3 bench/exp_bench.py --runs {args.runs} "
              f"--sleep {args.sleep}`.\n")
    print(report)
    if args.write_results:
        (HERE / "results_exp.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
