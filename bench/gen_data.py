#!/usr/bin/env python3
"""Deterministic benchmark dataset generator (stdlib only).

Writes into OUTDIR:

  big.bin       one large file (--big-mib MiB, default 1024) of pseudo-random bytes
  big-v2.bin    the same file with 1 MiB overwritten in the middle
  small/        --small-count files (default 50,000) of 1-8 KiB each, about 100
                files per leaf folder: small/d00/d07/f000712.bin
  .gen-stamp.json  the parameters used; a second run with the same parameters
                   does nothing

Every 16 MiB block of big.bin comes from its own seeded generator
(seed, block index), so no two blocks are equal and block-level or chunk-level
deduplication finds nothing to share between them. Generation runs at about
0.4 GB/s: 1 GiB takes a few seconds.

Usage: python3 bench/gen_data.py OUTDIR [--big-mib 1024] [--small-count 50000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

MIB = 1 << 20
BLOCK = 16 * MIB
FILES_PER_LEAF = 100
LEAVES_PER_DIR = 50
SMALL_MIN, SMALL_MAX = 1024, 8192
STAMP = ".gen-stamp.json"
FORMAT_VERSION = 1  # bump when the generated content changes


def block_rng(seed: int, index: int) -> random.Random:
    """A generator of its own for each block, so blocks never repeat."""
    return random.Random((seed << 32) | index)


def write_big_pair(outdir: Path, big_mib: int, seed: int) -> None:
    """Write big.bin and big-v2.bin in one pass; they differ only in the middle MiB."""
    size = big_mib * MIB
    patch_at = max(0, size // 2 - MIB // 2)
    patch = random.Random(f"v2-patch:{seed}").randbytes(min(MIB, size))
    with open(outdir / "big.bin.tmp", "wb") as v1, open(outdir / "big-v2.bin.tmp", "wb") as v2:
        for index, start in enumerate(range(0, size, BLOCK)):
            block = block_rng(seed, index).randbytes(min(BLOCK, size - start))
            v1.write(block)
            lo = max(patch_at, start)
            hi = min(patch_at + len(patch), start + len(block))
            if lo < hi:  # the v2 patch falls (partly) inside this block
                patched = bytearray(block)
                patched[lo - start:hi - start] = patch[lo - patch_at:hi - patch_at]
                v2.write(patched)
            else:
                v2.write(block)
    (outdir / "big.bin.tmp").replace(outdir / "big.bin")
    (outdir / "big-v2.bin.tmp").replace(outdir / "big-v2.bin")


def small_path(index: int) -> Path:
    leaf = index // FILES_PER_LEAF
    return Path(f"d{leaf // LEAVES_PER_DIR:02d}", f"d{leaf % LEAVES_PER_DIR:02d}", f"f{index:06d}.bin")


def write_small_tree(outdir: Path, count: int, seed: int) -> int:
    """Write the small-file tree; returns the total number of bytes."""
    root = outdir / "small"
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(f"small:{seed}")
    total = 0
    made: set[Path] = set()
    for index in range(count):
        rel = small_path(index)
        if rel.parent not in made:
            (root / rel.parent).mkdir(parents=True, exist_ok=True)
            made.add(rel.parent)
        data = rng.randbytes(rng.randint(SMALL_MIN, SMALL_MAX))
        (root / rel).write_bytes(data)
        total += len(data)
    return total


def generate(outdir: Path, big_mib: int = 1024, small_count: int = 50_000,
             seed: int = 1, quiet: bool = False) -> bool:
    """Make sure OUTDIR holds the dataset for these parameters.

    Returns True if it (re)generated, False if the stamp showed it was already there.
    """
    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    params = {"format": FORMAT_VERSION, "big_mib": big_mib,
              "small_count": small_count, "seed": seed}
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = outdir / STAMP
    present = all((outdir / name).exists() for name in ("big.bin", "big-v2.bin", "small"))
    if present and stamp.exists():
        try:
            if json.loads(stamp.read_text()) == params:
                say(f"gen_data: {outdir} is up to date ({big_mib} MiB, {small_count} small files, seed {seed})")
                return False
        except ValueError:
            pass
    stamp.unlink(missing_ok=True)  # a half-written dataset must never look complete

    t0 = time.perf_counter()
    write_big_pair(outdir, big_mib, seed)
    t1 = time.perf_counter()
    say(f"gen_data: big.bin + big-v2.bin ({big_mib} MiB each) in {t1 - t0:.1f} s")
    total = write_small_tree(outdir, small_count, seed)
    t2 = time.perf_counter()
    say(f"gen_data: {small_count} small files ({total / MIB:.0f} MiB) in {t2 - t1:.1f} s")
    stamp.write_text(json.dumps(params, indent=1) + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--big-mib", type=int, default=1024, help="size of big.bin in MiB (default 1024)")
    parser.add_argument("--small-count", type=int, default=50_000, help="number of small files (default 50000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.big_mib < 1 or args.small_count < 0:
        parser.error("--big-mib must be >= 1 and --small-count >= 0")
    generate(args.outdir, args.big_mib, args.small_count, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
