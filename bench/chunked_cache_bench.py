"""cache.chunked: cache bytes on disk for many versions of one big file, without and with
chunk lists, and what converting and rebuilding cost.

    python3 bench/chunked_cache_bench.py [--size-mib 256] [--versions 10] [--change 0.01]
                                         [--write-results]

One metafile-mode repository (cache.type copy): version 1 is pseudo-random bytes, each later
version rewrites `--change` of the file in 32 blocks at seeded random places (in place, the
size stays). After every version is committed it measures, with real `git` and `git datavc`:
the cache's bytes on disk (du: blocks), `git checkout` of the oldest version while it is a
whole file, `git datavc gc` with cache.chunked=true (the conversion), the bytes on disk then,
`git checkout` of the oldest version again (rebuilt from its chunks), back to the newest,
and `git datavc verify` over the chunked cache.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import HERE, MIB, isolated_env, proc_field  # noqa: E402

RESULTS = HERE / "results_chunked_cache.md"


def du(path: Path) -> int:
    seen, total = set(), 0
    for folder, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-500:]}")
    return seconds


def write_v1(path: Path, size: int) -> None:
    import blake3

    step = 8 * MIB
    with open(path, "wb") as f:
        for at in range(0, size, step):
            f.write(blake3.blake3(b"chunked cache bench").digest(length=min(step, size - at),
                                                                 seek=at))


def edit(path: Path, size: int, change: float, version: int) -> None:
    rng = random.Random(version)
    blocks = 32
    length = max(1, int(size * change) // blocks)
    with open(path, "r+b") as f:
        for _ in range(blocks):
            f.seek(rng.randrange(0, size - length))
            f.write(rng.randbytes(length))


def gib(n: int) -> str:
    return f"{n / (1 << 30):.2f} GiB" if n >= 1 << 30 else f"{n / MIB:.1f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--change", type=float, default=0.01)
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="chunked-cache-bench-"))
    try:
        env = isolated_env(work, work / "home")
        repo = work / "repo"
        repo.mkdir()
        run(["git", "init", "-q"], repo, env)
        run(["git-datavc", "install", "--global", "--no-hooks"], repo, env)
        run(["git", "datavc", "init"], repo, env)
        (repo / ".datavc" / "config.local").write_text("[cache]\n\ttype = copy\n")
        data = repo / "big.bin"
        t_add = []
        for v in range(1, args.versions + 1):
            if v == 1:
                write_v1(data, size)
            else:
                os.chmod(data, 0o644)
                edit(data, size, args.change, v)
            t_add.append(run(["git", "datavc", "add", "big.bin"], repo, env))
            run(["git", "add", "-A"], repo, env)
            run(["git", "commit", "-q", "-m", f"v{v}"], repo, env)
        cache = repo / ".git" / "datavc" / "cache"
        whole_bytes = du(cache)
        oldest = f"HEAD~{args.versions - 1}"
        t_co_whole = run(["git", "checkout", "-q", oldest], repo, env)
        run(["git", "checkout", "-q", "main"], repo, env)
        (repo / ".datavc" / "config.local").write_text(
            "[cache]\n\ttype = copy\n\tchunked = true\n")
        t_gc = run(["git", "datavc", "gc"], repo, env)
        chunked_bytes = du(cache)
        t_co_rebuild = run(["git", "checkout", "-q", oldest], repo, env)
        t_back = run(["git", "checkout", "-q", "main"], repo, env)
        t_verify = run(["git", "datavc", "verify", "-j", "2"], repo, env)
        t_gc2 = run(["git", "datavc", "gc"], repo, env)
        after_again = du(cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = open("/proc/loadavg").read().split()[:3]
    lines = [
        "# cache.chunked: cache bytes and conversion/rebuild times",
        "",
        f"`python3 bench/chunked_cache_bench.py --size-mib {args.size_mib} --versions "
        f"{args.versions} --change {args.change}`, "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; "
        f"{proc_field('/proc/cpuinfo', 'model name')}, {len(os.sched_getaffinity(0))} CPUs, "
        f"load average before the report {' '.join(load)}. **The machine is shared with "
        "other benchmark runs: times are indicative only (±30% or worse); the byte counts "
        "are exact.**",
        "",
        f"{args.versions} versions of a {gib(size)} file, each rewriting {args.change:.0%} "
        "of it in 32 blocks at random places; metafile mode, cache.type=copy. Bytes are "
        "du of the whole cache directory (files/, chunks/, chunked/).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| cache on disk, every version whole | {gib(whole_bytes)} "
        f"({whole_bytes / size:.2f}x the file) |",
        f"| cache on disk after `gc` with cache.chunked=true | {gib(chunked_bytes)} "
        f"({chunked_bytes / size:.2f}x the file) |",
        f"| saved | {1 - chunked_bytes / whole_bytes:.0%} |",
        f"| `git datavc add` of one version (median) | {sorted(t_add)[len(t_add) // 2]:.2f} s |",
        f"| `gc` converting {args.versions - 1} versions ({gib((args.versions - 1) * size)}) "
        f"| {t_gc:.2f} s |",
        f"| `git checkout` of the oldest version, whole in the cache | {t_co_whole:.2f} s |",
        f"| `git checkout` of the oldest version, rebuilt from chunks | {t_co_rebuild:.2f} s |",
        f"| `git checkout main` (whole) | {t_back:.2f} s |",
        f"| `verify -j 2` of the chunked cache | {t_verify:.2f} s |",
        f"| `gc` again (re-chunks the rebuilt version) | {t_gc2:.2f} s, cache "
        f"{gib(after_again)} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
