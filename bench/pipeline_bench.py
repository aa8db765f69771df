#!/usr/bin/env python3
"""Side-by-side benchmark of `git datavc repro` and `dvc repro` on the same pipelines.

1. no-op: a 50-stage pipeline whose deps total 20,000 files (50 directories of 400 small
   files, one per stage; each stage writes one small out). After a first full run, time
   `repro` with nothing to do.
2. full run: a 10-stage chain whose commands are trivial (`cp`), forced with `repro -f`
   (both tools then skip their run-caches), so the time is almost all per-stage overhead.
   Overhead per stage = (wall time - the same commands run by a plain shell) / 10.

Each tool works in its own fresh git repository holding identical files, with HOME set
under the work dir so no user configuration is read or written. DVC comes from PyPI in
its own virtualenv:

  python3 -m venv bench/scratch/dvc-venv && bench/scratch/dvc-venv/bin/pip install dvc

Usage: python3 bench/pipeline_bench.py [--runs 5] [--workdir bench/scratch/pipeline]
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


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def noop_pipeline(root: Path, stages: int = 50, files: int = 400) -> str:
    lines = ["stages:"]
    for i in range(stages):
        part = root / "data" / f"part{i:02d}"
        part.mkdir(parents=True)
        for j in range(files):
            (part / f"f{j:03d}.txt").write_text(f"stage {i} file {j}\n")
        lines += [f"  s{i:02d}:", f"    cmd: ls data/part{i:02d} | wc -l > out/s{i:02d}.txt",
                  f"    deps: [data/part{i:02d}]", f"    outs: [out/s{i:02d}.txt]"]
    (root / "out").mkdir()
    (root / "out" / ".keep").write_text("")
    return "\n".join(lines) + "\n"


def chain_pipeline(root: Path, stages: int = 10) -> tuple[str, list[str]]:
    (root / "input.txt").write_text("x" * 1000 + "\n")
    lines, cmds, prev = ["stages:"], [], "input.txt"
    for i in range(stages):
        cmd = f"cp {prev} step{i}.txt"
        lines += [f"  step{i}:", f"    cmd: {cmd}", f"    deps: [{prev}]",
                  f"    outs: [step{i}.txt]"]
        cmds.append(cmd)
        prev = f"step{i}.txt"
    return "\n".join(lines) + "\n", cmds


def make_repo(path: Path, tool: str, build: object, env: dict[str, str]) -> object:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    sh(["git", "init", "-q"], path, env)
    result = build(path)  # type: ignore[operator]
    text = result[0] if isinstance(result, tuple) else result
    if tool == "datavc":
        sh([DATAVC, "init"], path, env)
        (path / "datavc.yaml").write_text(text)
    else:
        sh([env["DVC"], "init", "-q"], path, env)
        sh([env["DVC"], "config", "core.analytics", "false"], path, env)
        (path / "dvc.yaml").write_text(text)
    sh(["git", "add", "-A"], path, env)
    sh(["git", "commit", "-q", "-m", "setup"], path, env)
    return result


def repro_cmd(tool: str, env: dict[str, str], *args: str) -> list[str]:
    return [DATAVC, "repro", *args] if tool == "datavc" else [env["DVC"], "repro", *args]


def median_time(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    return statistics.median(sh(args, cwd, env) for _ in range(runs))


def bench_tool(tool: str, work: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    res: dict[str, float] = {}
    repo = work / f"noop-{tool}"
    make_repo(repo, tool, noop_pipeline, env)
    res["noop_first"] = sh(repro_cmd(tool, env), repo, env)
    res["noop"] = median_time(repro_cmd(tool, env), repo, env, runs)
    repo = work / f"chain-{tool}"
    _, cmds = make_repo(repo, tool, chain_pipeline, env)  # type: ignore[misc]
    res["chain_first"] = sh(repro_cmd(tool, env), repo, env)
    res["chain_forced"] = median_time(repro_cmd(tool, env, "-f"), repo, env, runs)
    res["chain_cmds"] = median_time(["sh", "-c", " && ".join(cmds)], repo, env, runs)
    return res


def table(results: dict[str, dict[str, float]]) -> str:
    d, v = results.get("datavc", {}), results.get("dvc", {})

    def cell(r: dict[str, float], key: str, per: int = 1, minus: str = "") -> str:
        if key not in r:
            return "-"
        value = (r[key] - (r[minus] if minus else 0)) / per
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"

    def ratio(key: str, minus: str = "") -> str:
        if key not in d or key not in v:
            return "-"
        a = d[key] - (d[minus] if minus else 0)
        b = v[key] - (v[minus] if minus else 0)
        return f"{b / a:.1f}x" if a > 0 else "-"

    rows = [
        ("repro, nothing to do (50 stages, 20,000 dep files)", "noop", 1, ""),
        ("first repro of that pipeline (runs all 50)", "noop_first", 1, ""),
        ("repro -f, 10-stage chain (wall)", "chain_forced", 1, ""),
        ("overhead per stage run (10-stage chain)", "chain_forced", 10, "chain_cmds"),
    ]
    lines = ["| | git-datavc | DVC | DVC / git-datavc |", "|---|---:|---:|---:|"]
    for title, key, per, minus in rows:
        lines.append(f"| {title} | {cell(d, key, per, minus)} | {cell(v, key, per, minus)} "
                     f"| {ratio(key, minus)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=HERE / "scratch" / "pipeline")
    parser.add_argument("--dvc", default=str(HERE / "scratch" / "dvc-venv" / "bin" / "dvc"))
    parser.add_argument("--only", choices=["datavc", "dvc"])
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    work = args.workdir.resolve()
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n"
                                     "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
           "DVC_NO_ANALYTICS": "1", "DVC": args.dvc,
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    tools = [args.only] if args.only else ["datavc", "dvc"]
    if "dvc" in tools and not Path(args.dvc).exists():
        sys.exit(f"no DVC at {args.dvc}: python3 -m venv bench/scratch/dvc-venv && "
                 "bench/scratch/dvc-venv/bin/pip install dvc")
    results = {}
    for tool in tools:
        print(f"benchmarking {tool} ...", file=sys.stderr, flush=True)
        results[tool] = bench_tool(tool, work, env, args.runs)
    dvc_version = ""
    if "dvc" in tools:
        dvc_version = subprocess.run([args.dvc, "--version"], capture_output=True, text=True,
                                     env=env).stdout.strip()
    report = (f"# Pipeline benchmark: git datavc repro vs dvc repro\n\n"
              f"{table(results)}\n\n"
              f"Median of {args.runs} runs (first runs: one each). DVC {dvc_version or '-'}, "
              f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
              f"{os.cpu_count()} CPUs. Command: `python3 bench/pipeline_bench.py "
              f"--runs {args.runs}`.\nOverhead per stage = (wall time of `repro -f` - the same "
              "`cp` commands run by one `sh -c`) / 10.\n")
    print(report)
    if args.write_results:
        (HERE / "results_pipeline.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
