#!/usr/bin/env python3
"""Remote layout 2 (chunks in packs, issue 13) side by side with real DVC and real Git LFS,
in one run, on the same data and the same steps, local directory remotes.

Every tool gets a fresh source repository and an empty remote per data set, in a
throw-away HOME (bench/benchlib.py's isolated_env):

  git-datavc  metafile mode, `git datavc remote add -d origin DIR --layout 2`;
              per version `git datavc add F`, commit, `git datavc push`
  DVC         `dvc remote add -d origin DIR`; per version `dvc add F`, commit, `dvc push`
  Git LFS     `git lfs track F`, `.lfsconfig` lfs.url = file://DIR where DIR is a bare
              repository (Git LFS's built-in standalone file transfer agent keeps the
              objects in DIR/lfs/objects); per version `git add F`, commit,
              `git lfs push origin main`

Part 1, big file: v1 random (--big-mib, default 1024), v2 = v1 with 1 MiB rewritten in
the middle, v3 = v2 with 1 MB (10**6 bytes) inserted at the front. After each push: the
remote's bytes (du of the remote: git-datavc's packs and indexes, DVC's directory, Git
LFS's lfs/objects), bytes sent (the remote's growth; git-datavc also prints its own count)
and the push's wall time (the command, then sync). Then a clone of the source repository
checks out v1 and pulls it into an empty cache, checks out v2 and pulls again: bytes
received = growth of the clone's cache (.git/datavc/cache, .dvc/cache, .git/lfs/objects)
and wall time. A plain `cp` + `sync` of v1 to the same disk is the reference time.

Part 2, "realistic" data, generated here (seeded, deterministic, no numpy):
  csv     --csv-versions (20) versions of a CSV that starts at --csv-mb (20) MB, each
          version appends 2% rows and edits a few existing ones
  model   --model-versions (10) fine-tune checkpoints: a small JSON header, then
          --model-tensors (40) raw float32 tensors totalling --model-mb (200) MB; each
          version rewrites 5-30% of the tensors (random bytes: fine-tuned weights are
          high-entropy)
  sqlite  --sqlite-versions (10) versions of a SQLite database (stdlib sqlite3) of about
          --sqlite-mb (50) MB at the end: inserts, updates and deletes between versions
For each: the bytes of all versions, and the remote's bytes after every version was
committed and pushed, under each tool.

DVC comes from its own venv (--dvc, default bench/scratch/dvc-venv/bin/dvc):
    python3 -m venv bench/scratch/dvc-venv && bench/scratch/dvc-venv/bin/pip install dvc dvc-s3

    .venv/bin/python bench/pack_compare.py [--big-mib 1024] [--parts big,real]
        [--tools datavc,dvc,lfs] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib import Runner, StepFailed, first_line, isolated_env, progress, table  # noqa: E402
from pack_bench import human, make_versions  # noqa: E402  (the same three versions, same seed)

MIB = 1 << 20
INSERT = 1_000_000
TOOLS = ("datavc", "dvc", "lfs")
LABELS = {"datavc": "git-datavc (layout 2)", "dvc": "DVC", "lfs": "Git LFS"}
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": MIB, "GiB": 1 << 30, "TiB": 1 << 40}


def du(path: Path) -> int:
    """Bytes of the regular files under PATH (apparent sizes), 0 when it is missing."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def own_count(output: str, verb: str) -> int | None:
    """git-datavc's "datavc: push: 1.9 MiB of 1.0 GiB sent" line, in bytes (0.1 unit)."""
    m = re.search(rf"{verb}: ([\d.]+) (B|KiB|MiB|GiB|TiB) of", output)
    return int(float(m[1]) * UNITS[m[2]]) if m else None


# --- data --------------------------------------------------------------------------------

def csv_row(rng: random.Random, i: int, tag: str) -> str:
    return (f"{i},{rng.randint(0, 10**6)},{rng.random():.6f},{rng.gauss(0, 1):.5f},"
            f"{tag}{rng.randint(0, 99)}")


def make_csv(out: Path, versions: int, mb: int) -> list[Path]:
    rng = random.Random(20)
    rows = [csv_row(rng, i, "label") for i in range(mb * 10**6 // 45)]
    paths = []
    for v in range(versions):
        if v:
            for _ in range(rng.randint(5, 30)):             # a few edits anywhere
                i = rng.randrange(len(rows))
                rows[i] = csv_row(rng, i, f"fixed{v}_")
            start = len(rows)
            rows += [csv_row(rng, i, "label") for i in range(start, start + start // 50)]
        path = out / f"table.v{v:02d}.csv"
        with open(path, "w") as f:
            f.write("id,count,score,z,label\n")
            for k in range(0, len(rows), 100_000):
                f.write("\n".join(rows[k:k + 100_000]) + "\n")
        paths.append(path)
    return paths


def make_model(out: Path, versions: int, tensors: int, mb: int) -> list[Path]:
    """Checkpoints of a safetensors-like file: an 8-byte header length, a JSON header of
    names, shapes and offsets, then raw float32 tensor bytes."""
    rng = random.Random(40)
    sizes = [max(1024, int(mb * 10**6 / tensors * rng.uniform(0.3, 1.7))) // 4 for _ in
             range(tensors)]                                 # float32 counts
    seeds = [rng.getrandbits(64) for _ in range(tensors)]
    header, offset = {}, 0
    for i, n in enumerate(sizes):
        header[f"layer{i}.weight"] = {"dtype": "F32", "shape": [n],
                                      "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    blob = json.dumps(header).encode()
    paths = []
    for v in range(versions):
        if v:
            share = rng.uniform(0.05, 0.30)
            for i in rng.sample(range(tensors), max(1, round(tensors * share))):
                seeds[i] = rng.getrandbits(64)
        path = out / f"model.v{v:02d}.safetensors"
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(blob)) + blob)
            for n, seed in zip(sizes, seeds):
                t = random.Random(seed)
                left = 4 * n
                while left:
                    step = min(left, 8 * MIB)
                    f.write(t.randbytes(step))
                    left -= step
        paths.append(path)
    return paths


def make_sqlite(out: Path, versions: int, mb: int) -> list[Path]:
    """A table of ~300-byte rows: 60% of the final size at v0, then each version inserts,
    updates ~2% of the rows and deletes ~0.5%."""
    rng = random.Random(50)
    per_row = 330
    start_rows = int(mb * 10**6 * 0.6 / per_row)
    grow = int(mb * 10**6 * 0.4 / per_row / max(1, versions - 1) * 1.1)
    db = out / "work.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, value REAL, "
                "updated INTEGER, payload BLOB)")
    con.execute("CREATE INDEX t_name ON t (name)")
    next_id = 0
    paths = []

    def insert(n: int, v: int) -> None:
        nonlocal next_id
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                        [(next_id + i, f"name{rng.randint(0, 10**7)}", rng.random(), v,
                          rng.randbytes(rng.randint(150, 350))) for i in range(n)])
        next_id += n

    for v in range(versions):
        if v == 0:
            insert(start_rows, 0)
        else:
            insert(grow, v)
            ids = [rng.randrange(next_id) for _ in range(next_id // 50)]
            con.executemany("UPDATE t SET value = ?, updated = ? WHERE id = ?",
                            [(rng.random(), v, i) for i in ids])
            gone = [(rng.randrange(next_id),) for _ in range(next_id // 200)]
            con.executemany("DELETE FROM t WHERE id = ?", gone)
        con.commit()
        path = out / f"work.v{v:02d}.sqlite"
        shutil.copyfile(db, path)
        paths.append(path)
    con.close()
    db.unlink()
    return paths


# --- tools -------------------------------------------------------------------------------

@dataclass
class Tool:
    key: str
    dvc: str
    runner: BenchRunner

    @property
    def label(self) -> str:
        return LABELS[self.key]

    def env(self, repo: Path) -> dict[str, str]:
        if self.key == "dvc":
            return {"DVC_SITE_CACHE_DIR": str(repo / ".dvc" / "tmp" / "site-cache")}
        if self.key == "lfs":
            return {"GIT_LFS_SKIP_SMUDGE": "1"}
        return {}

    def run(self, repo: Path, *args: str) -> str:
        return self.runner.run(list(args), repo, self.env(repo))

    def make_remote(self, where: Path) -> Path:
        remote = where / ("store.git" if self.key == "lfs" else "store")
        if self.key == "lfs":      # the standalone file agent wants a git repository there
            self.runner.run(["git", "init", "-q", "--bare", str(remote)], where)
        else:
            remote.mkdir()
        return remote

    def remote_bytes(self, remote: Path) -> int:
        return du(remote / "lfs" / "objects") if self.key == "lfs" else du(remote)

    def setup(self, repo: Path, remote: Path, name: str) -> None:
        repo.mkdir()
        self.run(repo, "git", "init", "-q", "-b", "main")
        if self.key == "datavc":
            self.run(repo, "git", "datavc", "init")
            self.run(repo, "git", "datavc", "remote", "add", "-d", "origin", str(remote),
                     "--layout", "2")
        elif self.key == "dvc":
            self.run(repo, self.dvc, "init", "-q")
            self.run(repo, self.dvc, "remote", "add", "-d", "origin", str(remote))
        else:
            self.run(repo, "git", "lfs", "install", "--local")
            self.run(repo, "git", "lfs", "track", name)
            self.run(repo, "git", "config", "-f", ".lfsconfig", "lfs.url", f"file://{remote}")
            self.run(repo, "git", "remote", "add", "origin", str(remote))
        self.run(repo, "git", "add", "-A")
        self.run(repo, "git", "commit", "-q", "-m", "setup")

    def commit(self, repo: Path, name: str, tag: str) -> None:
        if self.key == "datavc":
            self.run(repo, "git", "datavc", "add", name)
            self.run(repo, "git", "add", f"{name}.datavc", ".gitignore")
        elif self.key == "dvc":
            self.run(repo, self.dvc, "add", "-q", name)
            self.run(repo, "git", "add", f"{name}.dvc", ".gitignore")
        else:
            self.run(repo, "git", "add", name)
        self.run(repo, "git", "commit", "-q", "-m", tag)
        self.run(repo, "git", "tag", tag)

    def push(self, repo: Path) -> tuple[str, float]:
        args = {"datavc": ["git", "datavc", "push"], "dvc": [self.dvc, "push"],
                "lfs": ["git", "lfs", "push", "origin", "main"]}[self.key]
        start = time.perf_counter()
        out = self.runner.run_all(args, repo, self.env(repo))
        os.sync()
        return out, time.perf_counter() - start

    def cache(self, clone: Path) -> Path:
        return clone / {"datavc": ".git/datavc/cache", "dvc": ".dvc/cache",
                        "lfs": ".git/lfs/objects"}[self.key]

    def pull(self, clone: Path, tag: str) -> tuple[str, float]:
        """Check out TAG's commit (no data), then the tool's pull, timed with a sync."""
        self.run(clone, "git", "checkout", "-q", tag)
        args = {"datavc": ["git", "datavc", "pull"], "dvc": [self.dvc, "pull"],
                "lfs": ["git", "lfs", "pull"]}[self.key]
        start = time.perf_counter()
        out = self.runner.run_all(args, clone, self.env(clone))
        os.sync()
        return out, time.perf_counter() - start


class BenchRunner(Runner):
    def run_all(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
        """Like run, but stdout and stderr together (the tools' summaries go to stderr)."""
        proc = self.popen(args, cwd, env)
        out, err = self.wait(proc, " ".join(args))
        if proc.returncode != 0:
            raise StepFailed(f"{self.shown(args)} exited {proc.returncode}: "
                             f"{self.error_text(out, err)}")
        return (out + err).decode(errors="replace")


# --- steps -------------------------------------------------------------------------------

@dataclass
class Push:
    version: str
    size: int            # bytes of this version
    whole: int           # bytes of all versions so far
    stored: int          # the remote's bytes after this push
    sent: int            # growth of the remote
    own: int | None      # the tool's own count of bytes sent, when it prints one
    seconds: float


@dataclass
class Pull:
    version: str
    received: int        # growth of the clone's cache
    own: int | None
    seconds: float


@dataclass
class Series:
    tool: str
    pushes: list[Push] = field(default_factory=list)
    pulls: list[Pull] = field(default_factory=list)
    error: str = ""


def push_versions(tool: Tool, work: Path, versions: list[Path], name: str) -> tuple[Series, Path]:
    series = Series(tool.key)
    where = work / tool.key
    where.mkdir()
    remote = tool.make_remote(where)
    repo = where / "repo"
    tool.setup(repo, remote, name)
    stored = whole = 0
    for n, src in enumerate(versions, 1):
        shutil.copyfile(src, repo / name)
        tool.commit(repo, name, f"v{n}")
        out, took = tool.push(repo)
        before, stored = stored, tool.remote_bytes(remote)
        whole += src.stat().st_size
        series.pushes.append(Push(f"v{n}", src.stat().st_size, whole, stored, stored - before,
                                  own_count(out, "push"), took))
        p = series.pushes[-1]
        progress(f"  {tool.label:22} push v{n}: remote +{human(p.sent)} = {human(stored)} "
                 f"in {took:.1f} s")
    return series, repo


def pull_two(tool: Tool, work: Path, repo: Path, series: Series) -> None:
    clone = work / tool.key / "clone"
    tool.runner.run(["git", "clone", "-q", "--no-checkout", str(repo), str(clone)], work,
                    tool.env(clone))
    size = 0
    for tag in ("v1", "v2"):
        out, took = tool.pull(clone, tag)
        before, size = size, du(tool.cache(clone))
        series.pulls.append(Pull(tag, size - before, own_count(out, "fetch"), took))
        progress(f"  {tool.label:22} pull {tag}: cache +{human(size - before)} in {took:.1f} s")
    shutil.rmtree(clone)


def part_big(tools: list[Tool], work: Path, data: Path, mib: int) -> tuple[float, list[Series]]:
    versions = make_versions(data, mib)
    progress(f"big: {mib} MiB x 3 written")
    os.sync()
    start = time.perf_counter()
    shutil.copyfile(versions[0], work / "plain-copy")
    os.sync()
    copy_s = time.perf_counter() - start
    (work / "plain-copy").unlink()
    progress(f"  cp + sync of v1: {copy_s:.1f} s")
    out = []
    for tool in tools:
        tw = work / "big"
        tw.mkdir(exist_ok=True)
        try:
            series, repo = push_versions(tool, tw, versions, "big.bin")
            pull_two(tool, tw, repo, series)
        except StepFailed as e:
            series = Series(tool.key, error=str(e))
            progress(f"  {tool.label}: FAILED {e}")
        out.append(series)
        shutil.rmtree(tw / tool.key, ignore_errors=True)
    for v in versions:
        v.unlink()
    return copy_s, out


@dataclass
class Dataset:
    key: str
    what: str
    name: str            # the file's name in the repositories
    sizes: list[int]
    series: list[Series]


def part_real(tools: list[Tool], work: Path, data: Path, args: argparse.Namespace
              ) -> list[Dataset]:
    makers = {
        "csv": (f"{args.csv_versions} versions of a growing CSV ({args.csv_mb} MB at first, "
                "+2% rows and a few edited rows per version)", "table.csv",
                lambda: make_csv(data, args.csv_versions, args.csv_mb)),
        "model": (f"{args.model_versions} fine-tune checkpoints ({args.model_tensors} float32 "
                  f"tensors, {args.model_mb} MB; 5-30% of the tensors change per version)",
                  "model.safetensors",
                  lambda: make_model(data, args.model_versions, args.model_tensors,
                                     args.model_mb)),
        "sqlite": (f"{args.sqlite_versions} versions of a SQLite database (~{args.sqlite_mb} "
                   "MB at the end; inserts, updates, deletes)", "work.sqlite",
                   lambda: make_sqlite(data, args.sqlite_versions, args.sqlite_mb)),
    }
    out = []
    for key in args.real.split(","):
        what, name, make = makers[key]
        versions = make()
        sizes = [v.stat().st_size for v in versions]
        progress(f"{key}: {len(versions)} versions, {human(sum(sizes))} in all")
        results = []
        for tool in tools:
            tw = work / key
            tw.mkdir(exist_ok=True)
            try:
                results.append(push_versions(tool, tw, versions, name)[0])
            except StepFailed as e:
                results.append(Series(tool.key, error=str(e)))
                progress(f"  {tool.label}: FAILED {e}")
            shutil.rmtree(tw / tool.key, ignore_errors=True)
        out.append(Dataset(key, what, name, sizes, results))
        for v in versions:
            v.unlink()
    return out


# --- report ------------------------------------------------------------------------------

def mib(n: int | None) -> str:
    return "–" if n is None else f"{n / MIB:,.2f} MiB"


def report(args: argparse.Namespace, command: str, versions: dict[str, str], copy_s: float,
           big: list[Series], real: list[Dataset], started: str, load: str) -> str:
    lines = ["# Layout 2 (chunks in packs) vs DVC vs Git LFS, one run, real tools", "",
             "    " + command, "",
             f"Run {started} UTC on {os.cpu_count()} cores shared with other work "
             f"({load}): times are rough; byte counts are exact. Tools: "
             + "; ".join(versions.values()) + ". Local directory "
             "remotes, a throw-away HOME; each tool a fresh repository and an empty remote "
             "per data set. \"remote\" = du (apparent bytes) of what the remote holds "
             "(git-datavc: packs and indexes; DVC: its directory; Git LFS: the bare "
             "repository's lfs/objects). Push time = the command, then sync.", ""]
    if big:
        lines += [f"## One {human(args.big_mib * MIB)} file, three versions", "",
                  "v2 = v1 with 1 MiB rewritten in the middle; v3 = v2 with 1 MB (10^6 "
                  "bytes) inserted at the front. \"sent\" = the remote's growth (in "
                  "brackets git-datavc's own count, printed with one decimal). "
                  f"Reference: `cp` + `sync` of v1 to the same disk took {copy_s:.1f} s.", ""]
        rows = []
        for s in big:
            if s.error:
                rows.append([LABELS[s.tool], f"failed: {s.error[:200]}"] + [""] * 4)
                continue
            for p in s.pushes:
                sent = mib(p.sent) + (f" ({mib(p.own)})" if p.own is not None else "")
                rows.append([LABELS[s.tool], p.version, mib(p.whole), mib(p.stored), sent,
                             f"{p.seconds:.1f}"])
        lines += table(["tool", "after push of", "all versions so far", "remote stores",
                        "sent", "push s"], rows) + [""]
        lines += ["A clone of the source repository checks out v1 and pulls it into an "
                  "empty cache, then checks out v2 and pulls: \"received\" = growth of the "
                  "clone's cache (`.git/datavc/cache`, `.dvc/cache`, `.git/lfs/objects`); "
                  "in brackets git-datavc's own count of bytes read from the remote.", ""]
        rows = []
        for s in big:
            for q in s.pulls:
                got = mib(q.received) + (f" ({mib(q.own)})" if q.own is not None else "")
                rows.append([LABELS[s.tool], q.version + (" (after v1)" if q.version == "v2"
                                                          else " (empty cache)"),
                             got, f"{q.seconds:.1f}"])
        lines += table(["tool", "pull of", "received", "pull s"], rows) + [""]
    if real:
        lines += ["## Realistic data: every version committed and pushed", "",
                  "Generated by the bench, seeded. \"ratio\" = the remote's bytes after the "
                  "last push ÷ the bytes of all versions (what a whole-file store keeps). "
                  "Push s = the sum over all pushes.", ""]
        rows = []
        for d in real:
            total = sum(d.sizes)
            for s in d.series:
                if s.error:
                    rows.append([d.key, LABELS[s.tool], "", "", f"failed: {s.error[:200]}", ""])
                    continue
                stored = s.pushes[-1].stored
                rows.append([d.key, LABELS[s.tool], mib(total), mib(stored),
                             f"{stored / total:.3f}",
                             f"{sum(p.seconds for p in s.pushes):.1f}"])
        lines += table(["data", "tool", "all versions", "remote stores", "ratio", "push s"],
                       rows) + [""]
        for d in real:
            lines.append(f"- {d.key}: {d.what}; `{d.name}` {human(d.sizes[0])} at first, "
                         f"{human(d.sizes[-1])} at the end.")
        lines += ["", "Xet's published figures for comparison (their chunk store, not run "
                  "here): gpt2, 2 versions, 1.2 GB → 645 MB (ratio ≈ 0.54); CORD-19, "
                  "50 versions, 8.9 GB → 3.52 GB (ratio ≈ 0.40).", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="big,real", help="big, real or big,real")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--dvc", default=str(HERE / "scratch" / "dvc-venv" / "bin" / "dvc"))
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--real", default="csv,model,sqlite")
    ap.add_argument("--csv-versions", type=int, default=20)
    ap.add_argument("--csv-mb", type=int, default=20)
    ap.add_argument("--model-versions", type=int, default=10)
    ap.add_argument("--model-tensors", type=int, default=40)
    ap.add_argument("--model-mb", type=int, default=200)
    ap.add_argument("--sqlite-versions", type=int, default=10)
    ap.add_argument("--sqlite-mb", type=int, default=50)
    ap.add_argument("--workdir", default="", help="kept afterwards (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per command")
    ap.add_argument("--write-results", action="store_true",
                    help="write bench/results_packs_compare.md")
    args = ap.parse_args()
    keys = args.tools.split(",")
    if "dvc" in keys and not os.access(args.dvc, os.X_OK):
        sys.exit(f"error: no dvc at {args.dvc} (see --help: make its venv, or --tools "
                 "datavc,lfs)")
    parts = args.parts.split(",")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="pack-compare-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    runner = BenchRunner(isolated_env(work, work / "home"), args.timeout)
    home = work / "home"
    runner.run(["git", "datavc", "install", "--global", "--no-hooks"], home)
    if "lfs" in keys:
        runner.run(["git", "lfs", "install", "--skip-repo"], home)
    versions = {"git": first_line(runner, ["git", "--version"], home) or "?",
                "git-datavc": first_line(runner, ["git", "datavc", "--version"], home) or "?",
                "DVC": "DVC " + (first_line(runner, [args.dvc, "--version"], home) or "?"),
                "Git LFS": first_line(runner, ["git", "lfs", "version"], home) or "?"}
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    loads = [os.getloadavg()[0]]
    tools = [Tool(k, args.dvc, runner) for k in keys]
    data = work / "data"
    data.mkdir(exist_ok=True)
    try:
        copy_s, big = part_big(tools, work, data, args.big_mib) if "big" in parts else (0.0, [])
        loads.append(os.getloadavg()[0])
        real = part_real(tools, work, data, args) if "real" in parts else []
        loads.append(os.getloadavg()[0])
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    argv = [a for i, a in enumerate(sys.argv[1:]) if not a.startswith("--workdir")
            and not (i and sys.argv[i] == "--workdir")]
    command = "python3 bench/pack_compare.py " + " ".join(argv)
    load = "load average " + " / ".join(f"{x:.1f}" for x in loads) + " at start / after " \
           "part 1 / at the end"
    text = report(args, command, versions, copy_s, big, real, started, load)
    print(text)
    if args.write_results:
        (HERE / "results_packs_compare.md").write_text(text)


if __name__ == "__main__":
    main()
