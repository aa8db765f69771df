"""`git datavc migrate import` vs `git lfs migrate import` on the same generated history.

The history (built with `git fast-import`, seeded, so every run gets the same commits):
COMMITS commits on main, FILES binary files `bin/fNNN.bin` of random (incompressible)
bytes; each commit adds or rewrites one binary file and edits a small text file, so about
COMMITS binary versions exist in all. A few lightweight and annotated tags. The repository
is packed (`git gc`), then copied once per tool, so both start from the same bytes.

Each tool: its setup (`git lfs install --local` / `git datavc init`), then, timed under
/usr/bin/time, `git lfs migrate import --everything --include='*.bin' --yes` /
`git datavc migrate import --everything --include='*.bin'`. After: the result is checked
(HEAD's *.bin are pointers of the tool, the worktree clean), then the old history is let
go (`git reflog expire --expire=now --all && git gc --prune=now`; for git-datavc the
backup refs are deleted first, which Git LFS does not keep) and `.git` is measured: git's
own objects (what a clone transfers) and the tool's object store inside `.git`.

    python3 bench/migrate_bench.py [--commits 2000] [--files 500] [--size-kib 128]
                                   [--write-results]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (HERE, MIB, Runner, Timed, describe_machine, first_line,  # noqa: E402
                      isolated_env, progress, require_gnu_time, table)

RESULTS = HERE / "results_migrate.md"
SCRATCH = HERE / "scratch" / "migrate"


def generate(runner: Runner, repo: Path, commits: int, files: int, size_kib: int) -> int:
    """The history, through one `git fast-import` stream; returns the binary bytes in it."""
    runner.run(["git", "init", "-q", "-b", "main", str(repo)], repo.parent)
    rng = random.Random(1)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, env=runner.env,
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    total = 0
    with proc.stdin as out:
        for i in range(commits):
            # The first FILES commits add a file each; the rest rewrite one at random.
            n = i if i < files else rng.randrange(files)
            size = rng.randint(size_kib * 1024 // 4, size_kib * 1024 * 7 // 4)
            data = rng.randbytes(size)
            total += size
            text = f"commit {i}\n".encode() * 3
            message = f"change {i}\n".encode()
            when = 1_700_000_000 + i * 60
            out.write(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
            out.write(b"committer Bench <bench@example.invalid> %d +0000\n" % when)
            out.write(b"data %d\n%s" % (len(message), message))
            if i:
                out.write(b"from :%d\n" % i)
            out.write(b"M 100644 inline bin/f%03d.bin\ndata %d\n" % (n, size) + data + b"\n")
            out.write(b"M 100644 inline notes.txt\ndata %d\n%s\n" % (len(text), text))
            if i and i % (commits // 4) == 0:
                out.write(b"reset refs/tags/light%d\nfrom :%d\n\n" % (i, i + 1))
        out.write(b"tag v1\nfrom :%d\n" % commits + b""
                  b"tagger Bench <bench@example.invalid> 1800000000 +0000\ndata 4\nv1!\n")
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed to build the history")
    runner.run(["git", "gc", "-q", "--prune=now"], repo)
    runner.run(["git", "checkout", "-q", "-f", "main"], repo)
    return total


def tree_size(path: Path) -> int:
    """Apparent bytes of every file below `path` (0 when it does not exist)."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


@dataclass
class Outcome:
    tool: str
    run: Timed
    git_objects: int     # .git/objects after gc
    store: int           # the tool's object store inside .git
    total: int           # all of .git
    pointers: int        # pointers of this tool among HEAD's *.bin


TOOLS = {
    "git-lfs": (["git", "lfs", "install", "--local"],
                ["git", "lfs", "migrate", "import", "--everything", "--include=*.bin", "--yes"],
                "lfs/objects", b"version https://git-lfs.github.com/spec/v1"),
    "git-datavc": (["git", "datavc", "init"],
                   ["git", "datavc", "migrate", "import", "--everything", "--include=*.bin"],
                   "datavc/cache", b"version: datavc/1"),
}


def measure(runner: Runner, base: Path, tool: str) -> Outcome:
    setup, command, store, marker = TOOLS[tool]
    repo = SCRATCH / tool
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(base, repo, symlinks=True)
    runner.run(setup, repo)
    progress(f"{tool}: {' '.join(command)}")
    timed = runner.timed_run(command, repo)
    if runner.run(["git", "status", "--porcelain", "--untracked-files=no"], repo).strip():
        raise SystemExit(f"{tool}: the worktree is not clean after the migration")
    listing = runner.run(["git", "ls-tree", "-r", "HEAD", "bin/"], repo).split()
    shas = [listing[i + 2] for i in range(0, len(listing), 4)]
    pointers = sum(1 for sha in shas
                   if runner.run(["git", "cat-file", "-p", sha], repo).encode().startswith(marker))
    if tool == "git-datavc":
        backups = runner.run(["git", "for-each-ref", "--format=delete %(refname)",
                              "refs/datavc/migrate-backup/"], repo)
        subprocess.run(["git", "update-ref", "--stdin"], cwd=repo, input=backups.encode(),
                       check=True, env=runner.env)
    runner.run(["git", "reflog", "expire", "--expire=now", "--all"], repo)
    runner.run(["git", "gc", "-q", "--prune=now"], repo)
    git_dir = repo / ".git"
    return Outcome(tool, timed, tree_size(git_dir / "objects"), tree_size(git_dir / store),
                   tree_size(git_dir), pointers)


def report(args: argparse.Namespace, runner: Runner, binary: int, before: int,
           outcomes: list[Outcome]) -> str:
    m = describe_machine(runner, SCRATCH)
    lfs_version = first_line(runner, ["git", "lfs", "version"]) or "?"
    git_version = first_line(runner, ["git", "--version"]) or "?"
    load = first_line(runner, ["uptime"]) or "?"
    mib = lambda n: f"{n / MIB:.1f}"  # noqa: E731
    rows = [[o.tool, f"{o.run.seconds:.1f}", f"{o.run.time.rss_kib / 1024:.0f}",
             mib(o.git_objects), mib(o.store), mib(o.total), f"{o.pointers}/{args.files}"]
            for o in outcomes]
    lines = [
        "# History migration: `git datavc migrate import` vs `git lfs migrate import`",
        "",
        f"History: {args.commits} commits on main, {args.files} binary files `bin/fNNN.bin` "
        f"of random bytes ({args.size_kib // 4}–{args.size_kib * 7 // 4} KiB, "
        f"{binary / MIB:.0f} MiB of binary versions in all: each commit adds or rewrites "
        "one), a text file edited in every commit, 4 tags (one annotated). Packed "
        f"`.git` before: {before / MIB:.1f} MiB. Generated and measured by "
        "`bench/migrate_bench.py`, both tools in one run on copies of the same repository.",
        "",
        f"Machine: {m.nproc} cores, {m.memory}, {m.fstype}, {m.system}; {git_version}, "
        f"{lfs_version}; {m.date} UTC; load while running: `{load.split('load average:')[-1].strip()}`.",
        "",
        "Command (each after its setup: `git lfs install --local` / `git datavc init`):",
        "",
        "    git lfs migrate import --everything --include='*.bin' --yes",
        "    git datavc migrate import --everything --include='*.bin'",
        "",
        "`.git` after `git reflog expire --expire=now --all && git gc --prune=now` (and, for "
        "git-datavc, deleting its backup refs first). \"git objects\" is `.git/objects`, what a "
        "clone transfers; \"store\" is the tool's own object store inside `.git` "
        "(`.git/lfs/objects`, `.git/datavc/cache`), which a remote would hold.",
        "",
        *table(["tool", "wall s", "peak RSS MiB (largest process)", "git objects MiB",
                "store MiB", ".git MiB", "HEAD's *.bin as pointers"], rows),
        "",
    ]
    if len(outcomes) == 2:
        lfs, ours = outcomes
        lines += [f"git-datavc took {ours.run.seconds / lfs.run.seconds:.2f}× Git LFS's "
                  "wall time. One run of each, side by side: the machine is shared, read the "
                  "ratio, not the seconds.", ""]
    lines += [
        "What the times include: Git LFS ends with `git checkout -f`, which writes every "
        "converted file of HEAD again through its smudge filter; git-datavc leaves worktree "
        "files whose bytes already match and only refreshes the index (git runs its clean "
        "filter over HEAD's converted files, which hashes them again). Both hash every "
        "binary version once into their store (SHA-256 for Git LFS, BLAKE3 here).",
        "",
        "Peak RSS is the largest single process (`/usr/bin/time -f %M`). For git-datavc that "
        "is `git fast-export` walking the commits; the blob reader (`git cat-file "
        "--batch-command`) and `git fast-import` map packs in 16 MiB windows, so reading "
        "every binary version does not keep the pack resident (with git's default 1 GiB "
        "windows the reader's RSS grew to the pack's size, 252 MiB here, all of it "
        "file-backed pages).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--size-kib", type=int, default=128, help="mean binary file size")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    require_gnu_time()
    if shutil.which("git-lfs") is None:
        sys.exit("git-lfs is not installed")
    if SCRATCH.exists():
        shutil.rmtree(SCRATCH)
    SCRATCH.mkdir(parents=True)
    env = isolated_env(SCRATCH, SCRATCH / "home")
    runner = Runner(env, args.timeout)
    base = SCRATCH / "base"
    base.mkdir()
    progress(f"generating {args.commits} commits, {args.files} binary files")
    binary = generate(runner, base, args.commits, args.files, args.size_kib)
    before = tree_size(base / ".git")
    outcomes = [measure(runner, base, tool) for tool in ("git-lfs", "git-datavc")]
    text = report(args, runner, binary, before, outcomes)
    print(text)
    if args.write_results:
        RESULTS.write_text(text)
        progress(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
