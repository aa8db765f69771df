#!/usr/bin/env python3
"""Remote layout 2 (chunks in packs, issue 13) measured against layout 1 (whole objects).

Part 1, big file, local directory remote, through `git datavc` processes: v1 a random file
(--big-mib, default 1024), v2 with 1 MiB rewritten in the middle, v3 = v2 with 1 MB
(10**6 bytes) inserted at the front (which shifts every fixed-size block). For each push:
bytes sent (the push's own summary line) and bytes the remote stores after it (du of the
remote's packs and indexes); then a clone checked out at v1 fetches v2, and one at v2
fetches v3: bytes received (counted by the fetch: range reads plus indexes). Whole-file
tools (DVC, Git LFS, git-annex) store and move every version whole, so their figures are
the version sizes themselves (v1+v2 = 2 GiB at 1 GiB); they are written beside ours, not
run here: bench/pack_compare.py runs real DVC and Git LFS on the same versions.

Part 2, many small files on moto's S3 server, in this process through the Python API
(`transfer.push` / `transfer.fetch` on a fresh cache), so that a botocore event hook
counts every HTTP request: --small-count files (default 50,000) of 1-4 KiB, pushed to a
layout-1 bucket and to a layout-2 bucket, then fetched into empty caches.

    python3 bench/pack_bench.py [--big-mib 1024] [--small-count 50000] [--write-results]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from git_datavc import transfer  # noqa: E402
from git_datavc.cache import Cache  # noqa: E402
from git_datavc.config import Settings  # noqa: E402
from git_datavc.hashing import hash_file  # noqa: E402
from git_datavc.remotes import open_remote  # noqa: E402

MIB = 1 << 20
INSERT = 1_000_000
VENV_BIN = HERE.parent / ".venv" / "bin"


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} B"


def env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DATAVC_", "AWS_"))}
    return {**keep, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": f"{VENV_BIN}{os.pathsep}{keep.get('PATH', '')}",
            "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid",
            "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}


def run(cmd: list[str], cwd: Path, e: dict[str, str]) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"{cmd} exited {p.returncode}: {p.stderr[-2000:]}")
    return p.stderr


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sent_of(summary: str) -> int:
    m = re.search(r"push: ([\d.]+) (B|KiB|MiB|GiB) of", summary)
    if not m:
        raise SystemExit(f"no savings line in: {summary}")
    return int(float(m[1]) * {"B": 1, "KiB": 1 << 10, "MiB": MIB, "GiB": 1 << 30}[m[2]])


# --- part 1 ------------------------------------------------------------------------------

def make_versions(out: Path, mib: int) -> list[Path]:
    rng = random.Random(13)
    v1, v2, v3 = out / "v1", out / "v2", out / "v3"
    with open(v1, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(MIB))
    shutil.copyfile(v1, v2)
    with open(v2, "r+b") as f:
        f.seek((mib // 2) * MIB)
        f.write(rng.randbytes(MIB))
    with open(v3, "wb") as f, open(v2, "rb") as src:
        f.write(rng.randbytes(INSERT))
        shutil.copyfileobj(src, f, 8 * MIB)
    return [v1, v2, v3]


def received(clone: Path, oid: str) -> tuple[int, float]:
    """Bytes a fetch of object `oid` receives into `clone`'s cache (which holds the
    previous version), and the seconds it takes."""
    from git_datavc import config, git

    repo = git.find_repo(clone)
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    remote = open_remote("origin", settings, cache.root / "remote-index")
    try:
        start = time.perf_counter()
        result = transfer.fetch(cache, remote, [oid])
        took = time.perf_counter() - start
    finally:
        remote.close()
    result.raise_for_failures("fetch")
    return result.sent, took


def part_big(work: Path, mib: int) -> list[dict[str, object]]:
    home = work / "home"
    home.mkdir()
    e = env(home)
    run(["git", "config", "--global", "init.defaultBranch", "main"], work, e)
    run(["git-datavc", "install", "--global", "--no-hooks"], work, e)
    versions = make_versions(work, mib)
    repo, remote = work / "repo", work / "remote"
    repo.mkdir()
    run(["git", "init", "-q"], repo, e)
    run(["git", "datavc", "init"], repo, e)
    run(["git", "datavc", "track", "*.bin"], repo, e)
    run(["git", "datavc", "remote", "add", "-d", "origin", str(remote), "--layout", "2"], repo, e)
    rows: list[dict[str, object]] = []
    oids = []
    start = time.perf_counter()
    run(["sh", "-c", f"cp {versions[0]} {work}/plain-copy && sync {work}/plain-copy"], work, e)
    copy_s = time.perf_counter() - start
    os.unlink(work / "plain-copy")
    progress(f"plain copy of v1 (cp + sync): {copy_s:.1f} s")
    for n, src in enumerate(versions, 1):
        shutil.copyfile(src, repo / "model.bin")
        run(["git", "add", "-A"], repo, e)
        run(["git", "commit", "-q", "-m", f"v{n}"], repo, e)
        run(["git", "tag", f"v{n}"], repo, e)
        start = time.perf_counter()
        out = run(["git", "datavc", "push"], repo, e)
        took = time.perf_counter() - start
        oids.append(hash_file(src)[0])
        rows.append({"version": f"v{n}", "size": src.stat().st_size, "sent": sent_of(out),
                     "copy_s": copy_s,
                     "push_s": took, "stored": du(remote / "packs") + du(remote / "index"),
                     "whole": sum(v.stat().st_size for v in versions[:n])})
        progress(f"big v{n}: sent {human(rows[-1]['sent'])} in {took:.1f} s, "  # type: ignore
                 f"stored {human(rows[-1]['stored'])}")  # type: ignore[arg-type]
    fresh = work / "fresh"                                          # an empty cache
    run(["git", "clone", "-q", "--no-checkout", str(repo), str(fresh)], work, e)
    run(["git", "checkout", "-q", "HEAD", "--", ".datavc"], fresh, e)   # its remote settings
    rows[0]["received"], rows[0]["pull_s"] = received(fresh, oids[0])
    progress(f"fetch v1 into an empty cache: received {human(rows[0]['received'])} "  # type: ignore
             f"in {rows[0]['pull_s']:.1f} s")
    shutil.rmtree(fresh)
    for n in (1, 2):
        clone = work / f"at_v{n}"
        run(["git", "clone", "-q", "--no-checkout", str(repo), str(clone)], work, e)
        run(["git", "checkout", "-q", f"v{n}"], clone, e)
        got, took = received(clone, oids[n])
        rows[n]["received"], rows[n]["pull_s"] = got, took
        progress(f"fetch v{n + 1} after v{n}: received {human(got)} in {took:.1f} s")
        shutil.rmtree(clone)
    return rows


# --- part 2 ------------------------------------------------------------------------------

class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_op: dict[str, int] = {}

    def __call__(self, event_name: str, **_: object) -> None:
        op = event_name.rsplit(".", 1)[-1]
        with self.lock:
            self.by_op[op] = self.by_op.get(op, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_op.values())


def counted(remote: object) -> Counter:
    counter = Counter()
    backend = getattr(remote, "backend", remote)
    backend.client.meta.events.register("before-send.s3", counter)  # type: ignore[attr-defined]
    return counter


def part_small(work: Path, count: int, layouts: list[str]) -> list[dict[str, object]]:
    sys.path.insert(0, str(HERE.parent))
    from tests.servers import MotoServer

    server = MotoServer(work)
    server.start()
    try:
        rng = random.Random(50)
        cache = Cache(work / "cache")
        with cache.writer() as w:
            oids = [w.add_chunks([rng.randbytes(rng.randint(1024, 4096))])[0]
                    for _ in range(count)]
        total = sum(cache.size(o) for o in oids)
        rows = []
        for layout in layouts:
            bucket = f"bench-layout{layout}"
            server.make_bucket(bucket)
            values = {**server.remote_values("origin", f"s3://{bucket}/data"),
                      "remote.origin.layout": layout}
            settings = Settings(work, values)
            remote = open_remote("origin", settings)
            counter = counted(remote)
            start = time.perf_counter()
            pushed = transfer.push(cache, remote, oids)
            push_s = time.perf_counter() - start
            remote.close()
            pushed.raise_for_failures("push")
            push_requests = dict(counter.by_op)
            fresh = Cache(work / f"fresh{layout}")
            remote = open_remote("origin", settings)
            counter = counted(remote)
            start = time.perf_counter()
            fetched = transfer.fetch(fresh, remote, oids)
            fetch_s = time.perf_counter() - start
            remote.close()
            fetched.raise_for_failures("fetch")
            rows.append({"layout": layout, "files": count, "bytes": total, "push_s": push_s,
                         "push_requests": sum(push_requests.values()),
                         "push_ops": push_requests, "fetch_s": fetch_s,
                         "fetch_requests": counter.total, "fetch_ops": dict(counter.by_op)})
            progress(f"small layout {layout}: push {push_s:.1f} s "
                     f"{rows[-1]['push_requests']} requests, fetch {fetch_s:.1f} s "
                     f"{counter.total} requests")
        return rows
    finally:
        server.stop()


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def report(big: list[dict[str, object]], small: list[dict[str, object]], mib: int) -> str:
    lines = ["# Remote layout 2: chunks in packs vs whole objects", "",
             f"`python3 bench/pack_bench.py --big-mib {mib} --small-count "
             f"{small[0]['files'] if small else 0} "
             f"--layouts {','.join(str(r['layout']) for r in small) or '-'} --write-results` "
             f"({os.cpu_count()} cores, shared with other jobs).", ""]
    if big:
        lines += [f"## One {human(mib * MIB)} file, local directory remote", "",
                  "v2: 1 MiB rewritten in the middle; v3: 1 MB inserted at the front of v2. "
                  "\"received\" is what a clone holding the previous version receives to get "
                  "this one (v1: into an empty cache), counted by the fetch (range reads "
                  "plus indexes). Whole-file tools (DVC, Git "
                  "LFS) store and move every version whole: their columns are the version "
                  "sizes, not a run. A plain copy of v1 to the same disk (cp + sync) took "
                  f"{big[0]['copy_s']:.1f} s.", "",
                  "| version | sent (ours) | sent (DVC/LFS) | remote stores after (ours) | "
                  "remote stores after (DVC/LFS) | received (ours) | received (DVC/LFS) | "
                  "push s | fetch s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in big:
            lines.append(
                f"| {r['version']} | {human(r['sent'])} | {human(r['size'])} | "  # type: ignore
                f"{r['stored'] / MIB:.1f} MiB | {human(r['whole'])} | "  # type: ignore
                f"{human(r['received'])} | {human(r['size'])} | "  # type: ignore[arg-type]
                f"{r['push_s']:.1f} | {r['pull_s']:.1f} |")
        lines.append("")
    if small:
        lines += [f"## {small[0]['files']:,} small files (1-4 KiB, "
                  f"{human(small[0]['bytes'])}) to moto's S3 server",  # type: ignore[arg-type]
                  "",
                  "HTTP requests counted with a botocore `before-send` hook; in-process "
                  "`transfer.push`/`transfer.fetch`, fetch into an empty cache.", "",
                  "| layout | push s | push requests | fetch s | fetch requests | "
                  "push requests by operation |", "|---|---:|---:|---:|---:|---|"]
        for r in small:
            ops = ", ".join(f"{k} {v}" for k, v in sorted(r["push_ops"].items()))  # type: ignore
            lines.append(f"| {r['layout']} | {r['push_s']:.1f} | {r['push_requests']} | "
                         f"{r['fetch_s']:.1f} | {r['fetch_requests']} | {ops} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--small-count", type=int, default=50_000)
    ap.add_argument("--write-results", action="store_true")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--layouts", default="1,2", help="part 2: which layouts (1, 2 or 1,2)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="pack-bench-"))
    try:
        big_dir, small_dir = work / "big", work / "small"
        big_dir.mkdir(parents=True, exist_ok=True)
        small_dir.mkdir(parents=True, exist_ok=True)
        big = part_big(big_dir, args.big_mib) if args.big_mib else []
        shutil.rmtree(big_dir, ignore_errors=True)
        small = part_small(small_dir, args.small_count, args.layouts.split(",")) \
            if args.small_count else []
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    text = report(big, small, args.big_mib)
    print(text)
    if args.write_results:
        (HERE / "results_packs.md").write_text(text)


if __name__ == "__main__":
    main()
