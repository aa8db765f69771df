#!/usr/bin/env python3
"""How much content-defined chunks save, and what they cost, on data shaped like users' data.

This measures the *chunking* choice behind remote layout v2 (issue 13) before any remote
stores a chunk: for each data set it writes every version to disk, then counts the bytes a
store would hold after all versions

- whole files, one object per distinct version (what DVC, Git LFS and git-annex store),
- fixed 64 KiB blocks, deduplicated by hash (what a naive block store would keep),
- FastCDC chunks at several average sizes, deduplicated by BLAKE3 (git_datavc.chunking),
  and the same with each chunk zstd-compressed where that saves 10% or more,

and the throughput of cutting + hashing. Data sets (seeded, generated here, no numpy):

- big: a random file (--big-mib, default 1024), v2 with 1 MiB rewritten in the middle,
  v3 = v2 with 1 MB (10**6 bytes) inserted at the front (shifts every fixed block);
- csv: 20 versions of a growing CSV (rows appended, a few edited);
- model: 10 fine-tune checkpoints of a safetensors-like file where 5-30% of tensors change;
- sqlite: a SQLite database across 10 versions (inserts, updates, deletes).

    python3 bench/chunk_bench.py [--big-mib 1024] [--avg 16,32,64,128] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from git_datavc import chunking  # noqa: E402
from git_datavc.hashing import hash_file  # noqa: E402

MIB = 1 << 20
INSERT = 1_000_000   # "1 MB" inserted at the front: not a multiple of any block size


# --- data sets ---------------------------------------------------------------------------

def rand_bytes(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


def make_big(out: Path, mib: int, rng: random.Random) -> list[Path]:
    v1, v2, v3 = out / "big.v1", out / "big.v2", out / "big.v3"
    with open(v1, "wb") as f:
        for _ in range(mib):
            f.write(rand_bytes(rng, MIB))
    shutil.copyfile(v1, v2)
    with open(v2, "r+b") as f:
        f.seek((mib // 2) * MIB)
        f.write(rand_bytes(rng, MIB))
    with open(v3, "wb") as f, open(v2, "rb") as src:
        f.write(rand_bytes(rng, INSERT))
        shutil.copyfileobj(src, f, 8 * MIB)
    return [v1, v2, v3]


def make_csv(out: Path, rng: random.Random, versions: int = 20, rows: int = 50_000) -> list[Path]:
    table = [f"{i},{rng.randint(0, 10**6)},{rng.random():.6f},label{rng.randint(0, 9)}"
             for i in range(rows)]
    paths = []
    for v in range(versions):
        for _ in range(20):                       # a few edits anywhere
            i = rng.randrange(len(table))
            table[i] = f"{i},{rng.randint(0, 10**6)},{rng.random():.6f},fixed{v}"
        start = len(table)
        table += [f"{i},{rng.randint(0, 10**6)},{rng.random():.6f},label{rng.randint(0, 9)}"
                  for i in range(start, start + rows // 10)]
        path = out / f"table.v{v:02d}.csv"
        path.write_text("id,count,score,label\n" + "\n".join(table) + "\n")
        paths.append(path)
    return paths


def make_model(out: Path, rng: random.Random, versions: int = 10, tensors: int = 120,
               mib: int = 256) -> list[Path]:
    """A JSON header with tensor names and offsets, then raw float32-like tensor bytes."""
    sizes = [max(4096, int(mib * MIB / tensors * rng.uniform(0.3, 1.7))) // 4 * 4
             for _ in range(tensors)]
    data = [rand_bytes(rng, s) for s in sizes]
    paths = []
    for v in range(versions):
        if v:
            for i in rng.sample(range(tensors), int(tensors * rng.uniform(0.05, 0.30))):
                data[i] = rand_bytes(rng, sizes[i])
        header, offset = {}, 0
        for i, s in enumerate(sizes):
            header[f"layer{i}.weight"] = {"dtype": "F32", "offsets": [offset, offset + s]}
            offset += s
        blob = json.dumps(header).encode()
        path = out / f"model.v{v:02d}.safetensors"
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(blob)) + blob)
            for d in data:
                f.write(d)
        paths.append(path)
    return paths


def make_sqlite(out: Path, rng: random.Random, versions: int = 10) -> list[Path]:
    db = out / "work.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, value REAL, blob BLOB)")
    paths = []
    next_id = 0
    for v in range(versions):
        rows = [(next_id + i, f"name{rng.randint(0, 10**6)}", rng.random(),
                 rand_bytes(rng, rng.randint(50, 400))) for i in range(40_000)]
        next_id += len(rows)
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
        for _ in range(500):
            con.execute("UPDATE t SET value = ? WHERE id = ?", (rng.random(), rng.randrange(next_id)))
        con.execute("DELETE FROM t WHERE id % 97 = ?", (v,))
        con.commit()
        path = out / f"work.v{v:02d}.sqlite"
        shutil.copyfile(db, path)
        paths.append(path)
    con.close()
    db.unlink()
    return paths


# --- stores ------------------------------------------------------------------------------

def whole(paths: list[Path]) -> int:
    seen: dict[str, int] = {}
    for p in paths:
        oid, size = hash_file(p)
        seen[oid] = size
    return sum(seen.values())


def fixed_blocks(paths: list[Path], block: int = 64 << 10) -> int:
    import blake3

    seen: dict[bytes, int] = {}
    for p in paths:
        with open(p, "rb") as f:
            while data := f.read(block):
                seen[blake3.blake3(data).digest()] = len(data)
    return sum(seen.values())


def cdc(paths: list[Path], avg: int, zstd: object | None) -> tuple[int, int, float, int]:
    """(stored bytes, stored bytes with zstd where it saves >= 10%, MiB/s cut+hash, chunks)."""
    seen: dict[str, int] = {}
    packed: dict[str, int] = {}
    total, start, cut_time = 0, 0.0, 0.0
    for p in paths:
        start = time.perf_counter()
        pieces = []
        for chunk, data in chunking.chunks_of_file(p, avg):
            if chunk.oid not in seen:
                seen[chunk.oid] = chunk.length
                pieces.append((chunk.oid, bytes(data)))
            total += chunk.length
        cut_time += time.perf_counter() - start
        for oid, data in pieces:
            if zstd is not None:
                small = len(zstd.compress(data))  # type: ignore[attr-defined]
                packed[oid] = small if small <= 0.9 * len(data) else len(data)
    stored = sum(seen.values())
    return stored, sum(packed.values()) if zstd is not None else stored, \
        total / MIB / max(cut_time, 1e-9), len(seen)


# --- report ------------------------------------------------------------------------------

def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3f} {unit}" if unit == "GiB" \
                else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--avg", default="16,32,64,128", help="FastCDC average sizes in KiB")
    ap.add_argument("--only", default="big,csv,model,sqlite")
    ap.add_argument("--workdir", default=str(HERE / "scratch" / "chunk_bench"))
    ap.add_argument("--write-results", action="store_true",
                    help="write bench/results_chunks.md")
    args = ap.parse_args()
    try:
        import zstandard
        zstd: object | None = zstandard.ZstdCompressor(level=3)
    except ImportError:
        zstd = None
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rng = random.Random(20261206)
    makers = {"big": lambda d: make_big(d, args.big_mib, rng), "csv": lambda d: make_csv(d, rng),
              "model": lambda d: make_model(d, rng), "sqlite": lambda d: make_sqlite(d, rng)}
    avgs = [int(a) << 10 for a in args.avg.split(",")]
    lines = ["| data | versions | all versions | whole files (DVC, LFS) | fixed 64 KiB |"
             + "".join(f" CDC {a >> 10} KiB |" for a in avgs) + " CDC 64 KiB + zstd | chunks at 64 KiB | cut+hash MiB/s |",
             "|---|---:|---:|---:|---:|" + "---:|" * len(avgs) + "---:|---:|---:|"]
    for name in args.only.split(","):
        folder = work / name
        folder.mkdir()
        paths = makers[name](folder)
        raw = sum(p.stat().st_size for p in paths)
        row = [name, str(len(paths)), human(raw), human(whole(paths)), human(fixed_blocks(paths))]
        z64 = speed = count = ""
        for avg in avgs:
            stored, zstored, mibs, n = cdc(paths, avg, zstd if avg == 64 << 10 else None)
            row.append(human(stored))
            if avg == 64 << 10:
                z64, speed, count = human(zstored) if zstd else "n/a", f"{mibs:.0f}", str(n)
        row += [z64, count, speed]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
        shutil.rmtree(folder)
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        cmd = "python3 bench/chunk_bench.py " + " ".join(sys.argv[1:])
        (HERE / "results_chunks.md").write_text(
            "# Content-defined chunks: stored bytes after all versions\n\n"
            f"`{cmd.strip()}` ({os.cpu_count()} cores). Bytes a store holds after every "
            "version of each data set, deduplicated by hash; \"whole files\" is what DVC, Git "
            "LFS and git-annex store (one object per distinct version).\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
