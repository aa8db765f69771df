#!/usr/bin/env python3
"""Remote transfer benchmark: git_datavc.transfer.push/fetch of the 50,000 small files and of
the 1 GiB file, to a local directory and to moto's S3 server on 127.0.0.1, with a plain boto3
`upload_file`/`download_file` of the same big file to the same server as the reference.

Every timed step runs in a child process of its own (imports included, as a command would),
so its wall time and peak RSS (VmHWM) are its own. Fetches go into a fresh, empty cache.
Rows: push (remote empty), no-op push (everything there), fetch.

    .venv/bin/python bench/remote_bench.py --write-results          # full size
    .venv/bin/python bench/remote_bench.py --small-count 2000 --big-mib 64   # a quick try

Needs the dev install (boto3, moto[server]); the dataset comes from bench/gen_data.py
(bench/scratch/data at full size, else bench/scratch/data-<count>-<mib>).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib import free_port, start_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "scratch" / "remote"
MIB = 1 << 20


# -- child side: one timed step -------------------------------------------------------------

def child(step: str, target: str, cache_dir: str, oids_file: str, endpoint: str,
          bucket: str, jobs: int, big: str) -> None:
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    if step in ("boto3-upload", "boto3-download"):
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        if step == "boto3-upload":
            client.upload_file(big, bucket, "reference/big.bin")
        else:
            client.download_file(bucket, "reference/big.bin", str(Path(cache_dir) / "big.bin"))
        print(json.dumps({"seconds": time.perf_counter() - t0, "objects": 1,
                          "peak_mib": peak_mib()}))
        return
    from git_datavc import transfer
    from git_datavc.cache import Cache
    from git_datavc.config import Settings
    from git_datavc.remotes import open_remote

    values = {"remote.bench.url": str(WORK / "store") if target == "local" else f"s3://{bucket}/store",
              "remote.bench.endpointurl": endpoint, "remote.bench.accesskeyid": "bench",
              "remote.bench.secretaccesskey": "bench", "remote.bench.region": "us-east-1"}
    if jobs:
        values["remote.bench.jobs"] = str(jobs)
    oids = Path(oids_file).read_text().split()
    remote = open_remote("bench", Settings(ROOT, values))
    run = transfer.push if step.endswith("push") else transfer.fetch
    result = run(Cache(Path(cache_dir)), remote, oids)
    remote.close()
    assert not result.failures, result.failures[:3]
    print(json.dumps({"seconds": time.perf_counter() - t0, "objects": result.transferred,
                      "present": result.present, "peak_mib": peak_mib()}))


def peak_mib() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would count the parent's image at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- parent side -----------------------------------------------------------------------------

def timed(args: list[str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"step {args[0]} failed")
    return dict(json.loads(proc.stdout))


def build_cache(data: Path, cache_dir: Path, which: str) -> list[str]:
    """Add the dataset's small files or big file to a cache (not timed); returns the oids."""
    sys.path.insert(0, str(ROOT))
    from git_datavc.cache import Cache

    oids_file = cache_dir.parent / f"{which}.oids"
    if oids_file.exists() and cache_dir.exists():
        return oids_file.read_text().split()
    cache = Cache(cache_dir)
    paths = sorted((data / "small").rglob("*.bin")) if which == "small" else [data / "big.bin"]
    oids = []
    with cache.writer() as w:
        for path in paths:
            with open(path, "rb") as f:
                oids.append(w.add_chunks(iter(lambda: f.read(MIB), b""), path.stat().st_size)[0])
    oids_file.write_text("\n".join(oids) + "\n")
    return oids


def start_moto(port: int) -> subprocess.Popen[bytes]:
    return start_server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                         str(port)], port, "moto server")


def bench(args: argparse.Namespace) -> list[tuple[str, str, str, dict[str, float]]]:
    sys.path.insert(0, str(HERE))
    import gen_data

    full = args.small_count == 50_000 and args.big_mib == 1024
    data = HERE / "scratch" / ("data" if full else f"data-{args.small_count}-{args.big_mib}")
    gen_data.generate(data, args.big_mib, args.small_count)
    caches = WORK / data.name          # one set of caches per dataset
    caches.mkdir(parents=True, exist_ok=True)
    sets = {"small": build_cache(data, caches / "cache-small", "small"),
            "big": build_cache(data, caches / "cache-big", "big")}
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = start_moto(port)
    rows = []
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
        for target in args.targets:
            for which, oids in sets.items():
                label = f"{len(oids):,} small files" if which == "small" \
                    else f"{args.big_mib} MiB file"
                bucket = f"bench-{which}-{int(time.time())}"
                if target == "s3":
                    s3.create_bucket(Bucket=bucket)
                shutil.rmtree(WORK / "store", ignore_errors=True)
                common = [target, str(caches / f"cache-{which}"), str(caches / f"{which}.oids"),
                          endpoint, bucket, str(args.jobs), str(data / "big.bin")]
                for step in ("push", "noop-push"):
                    rows.append((target, label, step, timed([step, *common])))
                    print(f"{target:5} {label:20} {step:10} {rows[-1][3]['seconds']:7.2f} s",
                          file=sys.stderr)
                fresh = WORK / "fresh"
                shutil.rmtree(fresh, ignore_errors=True)
                common[1] = str(fresh)
                rows.append((target, label, "fetch", timed(["fetch", *common])))
                print(f"{target:5} {label:20} fetch      {rows[-1][3]['seconds']:7.2f} s",
                      file=sys.stderr)
                if target == "s3" and which == "big":
                    for step in ("boto3-upload", "boto3-download"):
                        shutil.rmtree(fresh, ignore_errors=True)
                        fresh.mkdir()
                        rows.append((target, label, step, timed([step, *common])))
                shutil.rmtree(fresh, ignore_errors=True)
                if target == "s3":
                    _empty_bucket(s3, bucket)
    finally:
        moto.kill()
        moto.wait()
    return rows


def _empty_bucket(s3: object, bucket: str) -> None:
    """Free moto's memory before the next step."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)  # type: ignore[attr-defined]
    for page in pages:
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})  # type: ignore[attr-defined]


def table(rows: list[tuple[str, str, str, dict[str, float]]]) -> str:
    lines = ["| remote | data | step | wall time | objects | peak RSS |",
             "|---|---|---|---|---|---|"]
    for target, label, step, stats in rows:
        target_name = "local dir" if target == "local" else "moto S3"
        lines.append(f"| {target_name} | {label} | {step} | {stats['seconds']:.2f} s | "
                     f"{int(stats['objects']):,} | {stats['peak_mib']:.0f} MiB |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        step, target, cache_dir, oids_file, endpoint, bucket, jobs, big = sys.argv[2:10]
        child(step, target, cache_dir, oids_file, endpoint, bucket, int(jobs), big)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-count", type=int, default=50_000)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=0, help="default: the remote's default")
    parser.add_argument("--targets", nargs="+", default=["local", "s3"], choices=["local", "s3"])
    parser.add_argument("--write-results", action="store_true",
                        help="write bench/results_remote.md")
    args = parser.parse_args()
    rows = bench(args)
    text = table(rows)
    print(text)
    if args.write_results:
        command = "python bench/remote_bench.py --write-results" + (
            "" if (args.small_count, args.big_mib) == (50_000, 1024)
            else f" --small-count {args.small_count} --big-mib {args.big_mib}")
        (HERE / "results_remote.md").write_text(
            "# Remote transfer benchmark\n\n"
            f"`{command}` on {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; moto server on "
            "127.0.0.1 in its own process. Each step is its own process (wall time and peak "
            "RSS include Python start-up and imports). `fetch` goes into an empty cache; "
            "`noop-push` is a push with everything already on the remote.\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
