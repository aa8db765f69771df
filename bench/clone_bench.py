"""Clone first, install later (issue 11, "Measure"): `git clone && git datavc install &&
git datavc pull` against `git clone && git lfs install && git lfs pull`, on the same data.

Two data sets, each a fresh source repository per tool:
  big    one file of --big-mib MiB (default 1024), pseudo-random (incompressible)
  small  --small-files files (default 20,000) of --small-kib KiB (default 4) in small/

Per tool the source repository filter-tracks the data (`git datavc track` / `git lfs
track`), commits it, pushes the data (git-datavc: `git datavc push` to a local directory;
Git LFS: `lfs.url` file://BARE.git in a committed .lfsconfig, served by git-lfs's
standalone file transfer agent, which keeps objects in BARE.git/lfs/objects) and the git
history to a local bare repository. All of that is untimed.

Timed, each step one command under /usr/bin/time after os.sync(), in a fresh HOME where no
drivers are configured (as a new user's): `git clone BARE clone` (pointers only), then
`install` in the clone, then `pull`. Afterwards the clone is checked: `git status
--porcelain` empty, every file's bytes equal to the source's (the big file in full, the
small set by a sample of 200). Bytes into the clone: git's objects (du .git/objects), the
data store (du of .git/datavc/cache or .git/lfs/objects) and the whole clone (du counts a
hard link once).

    python3 bench/clone_bench.py                          # 1 GiB and 20,000 files
    python3 bench/clone_bench.py --big-mib 64 --small-files 2000   # a quick run
    python3 bench/clone_bench.py --write-results          # into bench/results_clone.md
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import benchlib
from benchlib import MIB, Runner, StepFailed, progress

TOOLS = {"datavc": "git-datavc", "lfs": "Git LFS"}
STEPS = ("clone", "install", "pull")


@dataclass
class Outcome:
    seconds: dict[str, float] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)
    git_bytes: int = 0
    store_bytes: int = 0
    clone_bytes: int = 0
    check: str = ""


def generate(root: Path, which: str, args: argparse.Namespace) -> list[str]:
    """Write the data set under ROOT; returns its paths. Bytes from BLAKE2b in counter
    mode: the same for both tools, and no compression helps either."""
    if which == "big":
        path = root / "big.bin"
        with open(path, "wb") as f:
            block = 1 << 20
            for i in range(args.big_mib):
                seed = hashlib.blake2b(f"big{i}".encode()).digest()
                f.write((seed * (block // len(seed)))[:block - 8] + i.to_bytes(8, "big"))
        return ["big.bin"]
    (root / "small").mkdir()
    paths = []
    size = args.small_kib * 1024
    for i in range(args.small_files):
        rel = f"small/{i // 1000:03}/f{i:05}.bin"
        (root / rel).parent.mkdir(exist_ok=True)
        seed = hashlib.blake2b(f"small{i}".encode()).digest()
        (root / rel).write_bytes((seed * (size // len(seed) + 1))[:size])
        paths.append(rel)
    return paths


def du(path: Path) -> int:
    if not path.exists():
        return 0
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) * 1024


def make_source(runner: Runner, tool: str, which: str, rd: Path,
                args: argparse.Namespace) -> tuple[Path, list[str]]:
    src, bare = rd / "src", rd / "bare.git"
    src.mkdir()
    runner.run(["git", "init", "-q", "--bare", str(bare)], rd)
    runner.run(["git", "init", "-q"], src)
    pattern = "big.bin" if which == "big" else "small/**"
    if tool == "datavc":
        runner.run(["git", "datavc", "init"], src)
        runner.run(["git", "datavc", "track", pattern], src)
        runner.run(["git", "datavc", "remote", "add", "-d", "store", str(rd / "store")], src)
    else:
        runner.run(["git", "lfs", "install", "--local"], src)
        runner.run(["git", "lfs", "track", pattern], src)
        runner.run(["git", "config", "-f", ".lfsconfig", "lfs.url", f"file://{bare}"], src)
    paths = generate(src, which, args)
    runner.run(["git", "add", "-A"], src)
    runner.run(["git", "commit", "-q", "-m", "data"], src)
    runner.run(["git", "remote", "add", "origin", str(bare)], src)
    if tool == "datavc":
        runner.run(["git", "datavc", "push"], src)
        runner.run(["git", "push", "-q", "origin", "main"], src, env={"DATAVC_SKIP_PUSH": "1"})
    else:
        runner.run(["git", "push", "-q", "origin", "main"], src)   # pre-push sends the objects
        runner.run(["git", "lfs", "push", "--all", "origin"], src)
    return src, paths


def same(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def check_clone(runner: Runner, clone: Path, src: Path, paths: list[str]) -> str:
    status = runner.run(["git", "status", "--porcelain"], clone)
    sample = paths if len(paths) <= 200 else paths[::len(paths) // 200]
    wrong = [p for p in sample if not same(clone / p, src / p)]
    if status.strip() or wrong:
        return (f"NOT clean: {len(status.splitlines())} status lines, "
                f"{len(wrong)} of {len(sample)} files differ ({', '.join(wrong[:3])})")
    return f"git status clean, {len(sample)} of {len(paths)} files byte-identical"


def bench(tool: str, which: str, args: argparse.Namespace) -> Outcome:
    rd = args.workdir / f"{tool}-{which}"
    if rd.exists():
        shutil.rmtree(rd)
    rd.mkdir(parents=True)
    runner = Runner(benchlib.isolated_env(args.workdir, rd / "home-src"), args.timeout)
    progress(f"{TOOLS[tool]}, {which}: source repository")
    src, paths = make_source(runner, tool, which, rd, args)
    # the user who clones: a HOME of their own, no drivers for either tool
    clone_runner = Runner(benchlib.isolated_env(args.workdir, rd / "home"), args.timeout)
    clone = rd / "clone"
    name = "datavc" if tool == "datavc" else "lfs"
    commands = {"clone": (["git", "clone", "-q", str(rd / "bare.git"), str(clone)], rd),
                "install": (["git", name, "install"], clone),
                "pull": (["git", name, "pull"], clone)}
    outcome = Outcome()
    for step in STEPS:
        progress(f"{TOOLS[tool]}, {which}: {step}")
        argv, cwd = commands[step]
        timed = clone_runner.timed_run(argv, cwd)
        outcome.seconds[step] = timed.seconds
        outcome.rss_mib[step] = timed.time.rss_kib / 1024
    outcome.check = check_clone(clone_runner, clone, src, paths)
    outcome.git_bytes = du(clone / ".git" / "objects")
    outcome.store_bytes = du(clone / ".git" / ("datavc" if tool == "datavc" else "lfs"))
    outcome.clone_bytes = du(clone)
    if not args.keep:
        shutil.rmtree(rd)
    return outcome


def mib(n: int) -> str:
    return f"{n / MIB:,.1f}"


def render(results: dict[tuple[str, str], Outcome], args: argparse.Namespace,
           machine: benchlib.Machine, versions: dict[str, str]) -> str:
    lines = ["# Clone, then install, then pull: git-datavc vs Git LFS", "",
             f"{machine.date} UTC; {machine.nproc} CPUs ({machine.cpu}), {machine.memory}, "
             f"{machine.system}, {machine.fstype}; {versions['git']}; {versions['lfs']}; "
             f"git-datavc {versions['datavc']}. One run of each, shared machine: read "
             "ratios, not absolute seconds.", "",
             f"Command: `python3 bench/clone_bench.py {' '.join(args.argv)}`", "",
             "Sets: `big` one file of "
             f"{args.big_mib:,} MiB; `small` {args.small_files:,} files of {args.small_kib} KiB. "
             "Each step is one command in a fresh HOME with no drivers (`git clone` leaves "
             "pointers); remotes are a local bare git repository plus the tool's local data "
             "store (git-datavc: a directory remote; Git LFS: lfs.url file://, its "
             "standalone file agent).", ""]
    for which in args.sets:
        size = args.big_mib * MIB if which == "big" else args.small_files * args.small_kib * 1024
        lines += [f"## {which}: {mib(size)} MiB of data", ""]
        header = ["", *(TOOLS[t] for t in args.tools)]
        rows = []
        for step in STEPS:
            rows.append([f"`{step}` (s)", *(f"{results[(t, which)].seconds[step]:.2f}"
                                            for t in args.tools)])
        rows.append(["total (s)", *(f"{sum(results[(t, which)].seconds.values()):.2f}"
                                    for t in args.tools)])
        rows.append(["peak RSS of a process, pull (MiB)",
                     *(f"{results[(t, which)].rss_mib['pull']:.0f}" for t in args.tools)])
        rows.append(["git objects in the clone (MiB)",
                     *(mib(results[(t, which)].git_bytes) for t in args.tools)])
        rows.append(["data store in the clone (MiB)",
                     *(mib(results[(t, which)].store_bytes) for t in args.tools)])
        rows.append(["whole clone on disk (MiB)",
                     *(mib(results[(t, which)].clone_bytes) for t in args.tools)])
        lines += benchlib.table(header, rows) + [""]
        for t in args.tools:
            lines.append(f"- {TOOLS[t]}: {results[(t, which)].check}")
        lines.append("")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--big-mib", type=int, default=1024)
    p.add_argument("--small-files", type=int, default=20000)
    p.add_argument("--small-kib", type=int, default=4)
    p.add_argument("--sets", nargs="+", default=["big", "small"], choices=["big", "small"])
    p.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    p.add_argument("--workdir", type=Path, default=benchlib.HERE / "scratch" / "clone")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--keep", action="store_true", help="keep the repositories")
    p.add_argument("--write-results", nargs="?", const=str(benchlib.HERE / "results_clone.md"),
                   metavar="FILE", help="write the report (default bench/results_clone.md)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.workdir = args.workdir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    benchlib.require_gnu_time()
    args.workdir.mkdir(parents=True, exist_ok=True)
    runner = Runner(benchlib.isolated_env(args.workdir, args.workdir / "home-probe"), 60)
    versions = {"git": benchlib.first_line(runner, ["git", "--version"]) or "git ?",
                "lfs": benchlib.first_line(runner, ["git", "lfs", "version"]) or "git-lfs ?",
                "datavc": (benchlib.first_line(runner, ["git-datavc", "--version"]) or "?")
                .replace("git-datavc ", "")}
    machine = benchlib.describe_machine(runner, args.workdir)
    results = {}
    try:
        for which in args.sets:
            for tool in args.tools:
                results[(tool, which)] = bench(tool, which, args)
    except StepFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    report = render(results, args, machine, versions)
    print(report)
    if args.write_results:
        Path(args.write_results).write_text(report)
        progress(f"written to {args.write_results}")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
