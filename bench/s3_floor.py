#!/usr/bin/env python3
"""How fast can moto's S3 server take small objects at all? The floor under any client.

Every S3 benchmark here runs against moto's server on 127.0.0.1. Moto is one Python process,
and every request costs it milliseconds of CPU under one GIL, so for many small objects the
server, not the client, sets the pace. This script measures that floor: N objects of 1-8 KiB
(the sync benchmark's sizes) PUT and then GET by three clients, each on J threads, each step
in a process of its own against a fresh moto:

  raw-http  http.client on keep-alive connections, unsigned requests, nothing else: the
            fewest bytes and least work a request can cost the server; no real client
            can go below it (real ones sign, and send checksums)
  boto3     client.put_object / get_object: what every boto3-based tool pays per request
            (git-datavc, and DVC through s3fs/aiobotocore, add their own work on top)
  datavc    git-datavc's transfer layer: transfer.push from a cache, transfer.fetch into
            an empty cache (verification and cache writes included)

For each: wall seconds, milliseconds per object, the client's CPU and moto's CPU (read from
/proc), and what N objects at that pace would take for the sync benchmark's 10,102 objects.

`--latency-ms D` puts bench/lagproxy.py between the clients and moto: every byte waits D ms
each way, a round trip 2*D, as with a store across a network. There the round trips a
request costs, and how many requests are in flight, set the pace instead of moto's CPU.

    .venv/bin/python bench/s3_floor.py                       # 5,000 objects, 8 threads
    .venv/bin/python bench/s3_floor.py --count 2000 --jobs 16
    .venv/bin/python bench/s3_floor.py --count 1000 --latency-ms 30
    .venv/bin/python bench/s3_floor.py --write-results       # bench/results_s3_floor.md

Needs the dev install (boto3, moto[server]).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import free_port, start_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "scratch" / "s3-floor"
BUCKET = "floor"
SYNC_OBJECTS = 10_102       # the sync benchmark's 10,000-file set: its v1 and v2 objects
CLIENTS = ("raw-http", "boto3", "datavc")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_DEFAULT_REGION": "us-east-1"}


def bodies(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1024, 8192)) for _ in range(count)]


# -- child side: one client, PUT then GET -----------------------------------------------------

def child(client: str, endpoint: str, count: int, jobs: int, seed: int) -> None:
    data = bodies(count, seed)
    steps: dict[str, dict[str, float]] = {}
    if client == "datavc":
        steps = _datavc(endpoint, data, jobs)
    else:
        put, get = _raw(endpoint, data) if client == "raw-http" else _boto3(endpoint, data, jobs)
        for step, work in (("PUT", put), ("GET", get)):
            t0, c0 = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(jobs) as pool:
                for _ in pool.map(work, range(count)):
                    pass
            steps[step] = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    print(json.dumps(steps))


def _raw(endpoint: str, data: list[bytes]):  # type: ignore[no-untyped-def]
    host, port = endpoint.removeprefix("http://").split(":")
    local = threading.local()

    def request(method: str, i: int, body: bytes | None) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port))
        # public-read: moto lets an unsigned GET read the object back
        headers = {"x-amz-acl": "public-read"} if body is not None else {}
        conn.request(method, f"/{BUCKET}/raw/{i:06d}", body=body, headers=headers)
        reply = conn.getresponse()
        got = reply.read()
        if reply.status != 200 or (body is None and got != data[i]):
            raise SystemExit(f"raw {method} {i}: HTTP {reply.status}")

    return (lambda i: request("PUT", i, data[i])), (lambda i: request("GET", i, None))


def _boto3(endpoint: str, data: list[bytes], jobs: int):  # type: ignore[no-untyped-def]
    import boto3
    import botocore.config

    s3 = boto3.client("s3", endpoint_url=endpoint, config=botocore.config.Config(
        max_pool_connections=jobs, s3={"addressing_style": "path"}))

    def put(i: int) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"boto3/{i:06d}", Body=data[i])

    def get(i: int) -> None:
        if s3.get_object(Bucket=BUCKET, Key=f"boto3/{i:06d}")["Body"].read() != data[i]:
            raise SystemExit(f"boto3 GET {i}: wrong bytes")

    return put, get


def _datavc(endpoint: str, data: list[bytes], jobs: int) -> dict[str, dict[str, float]]:
    import shutil

    sys.path.insert(0, str(ROOT))
    from git_datavc import transfer
    from git_datavc.cache import Cache
    from git_datavc.config import Settings
    from git_datavc.remotes import open_remote

    for name in ("cache", "fresh"):
        shutil.rmtree(WORK / name, ignore_errors=True)
    cache = Cache(WORK / "cache")
    with cache.writer() as writer:      # not timed: the objects a push starts from
        oids = [writer.add_chunks([body], len(body))[0] for body in data]
    values = {"remote.floor.url": f"s3://{BUCKET}/datavc", "remote.floor.endpointurl": endpoint,
              "remote.floor.jobs": str(jobs)}
    steps = {}
    for step, run, into in (("PUT", transfer.push, cache),
                            ("GET", transfer.fetch, Cache(WORK / "fresh"))):
        remote = open_remote("floor", Settings(ROOT, values))   # as boto3's client: untimed
        t0, c0 = time.perf_counter(), time.process_time()
        result = run(into, remote, oids)
        remote.close()
        if result.failures or result.transferred != len(oids):
            raise SystemExit(f"datavc {step}: {result.failures[:1]}")
        steps[step] = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    return steps


# -- parent side ------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(client: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """One client's PUT and GET steps against a fresh moto; moto's CPU split by step."""
    port = free_port()
    moto = start_server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                         str(port)], port, "moto server")
    procs = [moto]
    if args.latency_ms:
        listen = free_port()
        procs.append(start_server([sys.executable, str(HERE / "lagproxy.py"), str(listen),
                                   str(port), str(args.latency_ms)], listen, "lag proxy"))
        port = listen
    endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        before = cpu_seconds(moto.pid)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", client, endpoint, str(args.count),
             str(args.jobs), str(args.seed)], stdout=subprocess.PIPE)
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{client} failed")
        steps: dict[str, dict[str, float]] = json.loads(out)
        total = cpu_seconds(moto.pid) - before
        # moto's CPU is read once for both steps; split it by each step's share of the wall
        # time (the server is the bottleneck in both, so its CPU follows the wall clock)
        wall = sum(s["seconds"] for s in steps.values())
        for s in steps.values():
            s["moto_cpu"] = total * s["seconds"] / wall
        return steps
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def table(results: dict[str, dict[str, dict[str, float]]], count: int) -> str:
    lines = ["| client | step | wall s | ms per object | client CPU s | moto CPU s (est.) | "
             f"{SYNC_OBJECTS:,} objects at this pace |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for client, steps in results.items():
        for step, s in steps.items():
            per = s["seconds"] / count
            lines.append(f"| {client} | {step} | {s['seconds']:.2f} | {per * 1000:.2f} | "
                         f"{s['cpu']:.2f} | {s['moto_cpu']:.2f} | {per * SYNC_OBJECTS:.1f} s |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        client, endpoint, count, jobs, seed = sys.argv[2:7]
        child(client, endpoint, int(count), int(jobs), int(seed))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=8, help="threads per client (8: "
                        "git-datavc's default for S3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="one-way delay added by a proxy in front of moto")
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=CLIENTS)
    parser.add_argument("--write-results", action="store_true",
                        help="write bench/results_s3_floor.md (with --latency-ms: "
                        "results_s3_floor_latency.md)")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    WORK.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    results = {}
    for client in args.clients:
        results[client] = measure(client, args)
        print(f"{client}: " + ", ".join(f"{step} {s['seconds']:.2f} s"
                                        for step, s in results[client].items()),
              file=sys.stderr)
    text = table(results, args.count)
    print(text)
    if args.write_results:
        import moto

        command = "python bench/s3_floor.py --write-results" + (
            f" --count {args.count}" if args.count != 5000 else "") + (
            f" --jobs {args.jobs}" if args.jobs != 8 else "") + (
            f" --latency-ms {args.latency_ms:g}" if args.latency_ms else "")
        lag = (f" Between the clients and moto, bench/lagproxy.py delays every byte by "
               f"{args.latency_ms:g} ms each way." if args.latency_ms else "")
        name = "results_s3_floor_latency.md" if args.latency_ms else "results_s3_floor.md"
        (HERE / name).write_text(
            "# The floor under any client: small objects to moto's S3 server\n\n"
            f"`{command}`: {args.count:,} objects of 1-8 KiB, {args.jobs} threads per "
            f"client, each client against a fresh moto {moto.__version__} on 127.0.0.1; "
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; load average {load:.2f} at the start, "
            f"{os.getloadavg()[0]:.2f} at the end. Wall time per step includes no process "
            "start-up. Moto's CPU is read for both steps together and split by wall time."
            + lag + "\n\n"
            + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
