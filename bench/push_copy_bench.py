#!/usr/bin/env python3
"""Push of one big file to an empty local remote, against a plain copy of it (`cp` + `sync`),
side by side with DVC and Git LFS: issue 13's "push of 1 GiB to a local remote within 1.5×
of a plain copy".

One random file (--mib, default 1024) is tracked once per tool, in a fresh repository each:

  datavc-2   metafile mode, `git datavc push -r r2` to a layout-2 remote (chunks in packs)
  datavc-1   the same to a layout-1 remote (whole objects)
  dvc        `dvc push` to a local directory remote (DVC from --dvc, if it is there)
  lfs        `git lfs push origin main` to a bare repository with lfs.url = file://DIR
             (Git LFS's standalone file transfer hard-links the object into DIR when both
             are on one file system, as here: it copies nothing, so it is no reference)
  copy       `cp FILE DIR/copy`

--baseline REF adds "datavc-2@REF": the same layout-2 push by the code of commit REF (its
tree exported with `git archive` and put first on PYTHONPATH), to see what a change did in
one run, beside the same noise.

Every step is "the command, then sync" (each tool's bytes on the disk, not in the page
cache), after a `sync`, into an empty remote; afterwards the remote is emptied again and
the bench waits --settle seconds (3), so that the file system's discards of the deleted
GiB (mounted with `discard` here) do not fall into the next tool's step. Rounds alternate the tools (--rounds,
default 5), so drift in the machine's load falls on all of them; the file stays in the page
cache throughout, for all of them alike. Reported: wall seconds min–median–max per tool,
each tool's median over the copy's median, and the CPU seconds (user + system) of the
command's processes, median (the kernel's writeback is not in it: it runs in its own
threads).

    python3 bench/push_copy_bench.py [--mib 1024] [--rounds 5] [--tools ...] [--write-results]

DVC: python3 -m venv bench/scratch/dvc-venv && bench/scratch/dvc-venv/bin/pip install dvc
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import isolated_env, write_or_print  # noqa: E402

RESULTS = HERE / "results_push_copy.md"
TOOLS = ("datavc-2", "datavc-1", "dvc", "lfs", "copy")


def export(ref: str, into: Path) -> Path:
    """The tree of commit `ref` of this checkout, exported to `into`."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "git_datavc"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def sh(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace').strip()[-500:]}")


def make_file(path: Path, mib: int) -> None:
    if path.exists() and path.stat().st_size == mib << 20:
        return
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


def setup(tool: str, work: Path, data: Path, env: dict[str, str], dvc: str) -> tuple[Path, Path]:
    """(repository, remote directory) for `tool`, the file tracked and committed."""
    repo, remote = work / tool / "repo", work / tool / "remote"
    shutil.rmtree(work / tool, ignore_errors=True)
    repo.mkdir(parents=True)
    remote.mkdir()
    if tool == "copy":
        return repo, remote
    sh(["git", "init", "-q"], repo, env)
    os.link(data, repo / "big.bin")
    if tool.startswith("datavc"):
        sh(["git", "datavc", "init"], repo, env)
        layout = tool.split("@")[0][-1]
        sh(["git", "datavc", "remote", "add", "r", str(remote), "--layout", layout], repo, env)
        sh(["git", "datavc", "add", "big.bin"], repo, env)
    elif tool == "dvc":
        sh([dvc, "init", "-q"], repo, env)
        sh([dvc, "remote", "add", "-d", "r", str(remote)], repo, env)
        sh([dvc, "add", "-q", "big.bin"], repo, env)
    else:
        sh(["git", "lfs", "install", "--local"], repo, env)
        sh(["git", "lfs", "track", "big.bin"], repo, env)
        sh(["git", "init", "-q", "--bare", str(remote)], repo, env)
        sh(["git", "config", "-f", ".lfsconfig", "lfs.url", f"file://{remote}"], repo, env)
        sh(["git", "remote", "add", "origin", str(remote)], repo, env)
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-q", "-m", "data"], repo, env)
    return repo, remote


def empty(remote: Path, tool: str, env: dict[str, str]) -> None:
    if tool == "lfs":
        shutil.rmtree(remote / "lfs", ignore_errors=True)
        return
    for child in remote.iterdir():
        if tool.startswith("datavc") and child.name == "datavc-layout":
            continue     # the layout marker is written once, by the first push
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def push_cmd(tool: str, data: Path, remote: Path, dvc: str) -> list[str]:
    if tool.startswith("datavc"):
        return ["git", "datavc", "push", "-r", "r"]
    return {"dvc": [dvc, "push", "-q"],
            "lfs": ["git", "lfs", "push", "origin", "main"],
            "copy": ["cp", str(data), str(remote / "copy")]}[tool]


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds of the command and a sync, CPU seconds of the command)."""
    os.sync()
    cpu, start = cpu_of_children(), time.perf_counter()
    sh(cmd, cwd, env)
    cpu = cpu_of_children() - cpu
    os.sync()
    return time.perf_counter() - start, cpu


def fmt(samples: list[float]) -> str:
    return f"{min(samples):.2f}–{statistics.median(samples):.2f}–{max(samples):.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds to wait after emptying a remote (the disk's discards)")
    p.add_argument("--baseline", default="", help="also push with the code of this commit")
    p.add_argument("--dvc", default=str(HERE / "scratch" / "dvc-venv" / "bin" / "dvc"))
    p.add_argument("--workdir", type=Path, default=HERE / "scratch" / "push-copy")
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if "dvc" in tools and not os.access(args.dvc, os.X_OK):
        print(f"note: no DVC at {args.dvc}; left out", file=sys.stderr)
        tools.remove("dvc")
    if "lfs" in tools and shutil.which("git-lfs") is None:
        print("note: git-lfs is not installed; left out", file=sys.stderr)
        tools.remove("lfs")
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    env = isolated_env(work, work / "home")
    envs = {t: env for t in tools}
    if args.baseline:
        tool = f"datavc-2@{args.baseline}"
        tools.insert(1, tool)
        tree = export(args.baseline, work / "baseline-tree")
        envs[tool] = {**env, "PYTHONPATH": str(tree)}
    data = work / "big.bin"
    make_file(data, args.mib)
    places = {t: setup(t, work, data, envs[t], args.dvc) for t in tools}
    samples: dict[str, list[float]] = {t: [] for t in tools}
    cpu: dict[str, list[float]] = {t: [] for t in tools}
    load = [os.getloadavg()[0]]
    for n in range(args.rounds):
        for tool in tools:
            repo, remote = places[tool]
            wall, used = timed(push_cmd(tool, data, remote, args.dvc), repo, envs[tool])
            samples[tool].append(wall)
            cpu[tool].append(used)
            empty(remote, tool, env)
            os.sync()
            time.sleep(args.settle)
        print(f"round {n + 1}: " + ", ".join(f"{t} {samples[t][-1]:.2f} s" for t in tools),
              file=sys.stderr, flush=True)
    load.append(os.getloadavg()[0])
    base = statistics.median(samples["copy"]) if "copy" in samples else None
    lines = [f"# Push of {args.mib} MiB to an empty local remote, against `cp` + `sync`", "",
             f"`python3 bench/push_copy_bench.py --mib {args.mib} --rounds {args.rounds} "
             f"--tools {args.tools}" + (f" --baseline {args.baseline}" if args.baseline
                                         else "") + "`", "",
             f"- date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}",
             f"- machine: {os.cpu_count()} CPUs; load average {load[0]:.2f} at start, "
             f"{load[1]:.2f} at end", "",
             "Wall seconds of the command and a `sync` after it, min–median–max over the "
             "rounds (tools alternated in every round); ratio = median ÷ the copy's median.",
             "", "| tool | seconds | ratio | CPU seconds |", "|---|---:|---:|---:|"]
    for tool in tools:
        ratio = f"{statistics.median(samples[tool]) / base:.2f}×" if base else "–"
        lines.append(f"| {tool} | {fmt(samples[tool])} | {ratio} | "
                     f"{statistics.median(cpu[tool]):.2f} |")
    write_or_print("\n".join(lines) + "\n", RESULTS, args.write_results)
    shutil.rmtree(work / "home", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
