"""`demo`: build a sample repository in a temp dir and walk through the whole cycle.

Every step runs the real `git` / `git datavc` command and prints it with its output,
so a newcomer sees exactly what happens.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import output

DEMO_ENV = {
    "GIT_AUTHOR_NAME": "Demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "Demo", "GIT_COMMITTER_EMAIL": "demo@example.com",
}


def _step(title: str) -> None:
    print(f"\n== {title}")


def _sh(repo: Path, *args: str) -> str:
    print(f"$ {' '.join(_quote(a) for a in args)}")
    proc = subprocess.run(args, cwd=repo, capture_output=True, text=True,
                          env={**os.environ, **DEMO_ENV})
    text = (proc.stdout + proc.stderr).rstrip()
    if text:
        print("\n".join("  " + line for line in text.splitlines()))
    if proc.returncode != 0:
        from ..errors import DatavcError

        raise DatavcError(f"demo step failed: {' '.join(args)}")
    return proc.stdout


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " *?") else arg


def _write_dataset(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("id,feature_a,feature_b,label\n")
        for i in range(rows):
            f.write(f"{i},{rng.random():.6f},{rng.gauss(0, 1):.6f},{rng.randint(0, 1)}\n")


def _write_model(path: Path, size: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))


def _write_images(folder: Path, count: int, seed: int) -> None:
    """A folder of small files standing in for an image dataset."""
    rng = random.Random(seed)
    for i in range(count):
        path = folder / f"class{i % 3}" / f"img{i:04d}.raw"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(1024, 8192)))


def _count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def _fingerprint(path: Path) -> str:
    from ..hashing import hash_file

    return hash_file(path)[0][:12]


def run(keep: bool = False) -> int:
    top = Path(tempfile.mkdtemp(prefix="datavc-demo-"))
    repo = top / "sample"
    repo.mkdir()
    try:
        _walk(repo)
    finally:
        if keep:
            output.info(f"\nThe sample repository is kept in {repo}")
        else:
            shutil.rmtree(top, ignore_errors=True)
    return 0


def _walk(repo: Path) -> None:
    print(f"git-datavc demo, in a new repository: {repo}")
    _step("1. A git repository with git-datavc set up")
    _sh(repo, "git", "init", "-q", "-b", "main")
    _sh(repo, "git", "datavc", "init")
    _sh(repo, "git", "datavc", "track", "data/*.csv", "*.bin")

    _step("2. A dataset and a model, committed with plain git")
    _write_dataset(repo / "data" / "train.csv", 200_000, seed=1)
    _write_model(repo / "models" / "model.bin", 24 << 20, seed=1)
    v1 = _fingerprint(repo / "models" / "model.bin")
    _sh(repo, "git", "add", ".")
    _sh(repo, "git", "commit", "-q", "-m", "dataset and model v1")
    print("git stores a three-line pointer, not the 24 MiB model:")
    _sh(repo, "git", "show", "HEAD:models/model.bin")

    _step("3. Train again: a new model and more data, committed")
    _write_dataset(repo / "data" / "train.csv", 250_000, seed=2)
    _write_model(repo / "models" / "model.bin", 24 << 20, seed=2)
    _sh(repo, "git", "commit", "-q", "-am", "dataset and model v2")
    _sh(repo, "git", "log", "--oneline")
    _sh(repo, "git", "diff", "HEAD~1", "--", "models/model.bin")

    _step("4. Back to version 1: git checkout restores the old bytes from the cache")
    _sh(repo, "git", "checkout", "-q", "HEAD~1")
    now = _fingerprint(repo / "models" / "model.bin")
    print(f"model.bin blake3 is {now}..., version 1 was {v1}... -> "
          f"{'restored' if now == v1 else 'MISMATCH'}")
    if now != v1:
        from ..errors import DatavcError

        raise DatavcError("the demo's checkout did not restore version 1")
    _sh(repo, "git", "datavc", "status")
    _sh(repo, "git", "checkout", "-q", "main")

    _step("5. A whole directory as one metafile (like DVC): git datavc add")
    _write_images(repo / "images", 300, seed=1)
    _sh(repo, "git", "datavc", "add", "images")
    _sh(repo, "cat", "images.datavc")
    _sh(repo, "git", "add", "images.datavc", ".gitignore")
    _sh(repo, "git", "commit", "-q", "-m", "300 images")
    for path in sorted((repo / "images" / "class0").iterdir())[:20]:
        path.unlink()
    _write_images(repo / "images" / "new", 50, seed=2)
    _sh(repo, "git", "datavc", "status")
    _sh(repo, "git", "datavc", "add", "images")
    _sh(repo, "git", "commit", "-q", "-am", "images: 20 removed, 50 added")
    _sh(repo, "git", "datavc", "diff", "HEAD~1", "HEAD")
    print(f"images/ now has {_count_files(repo / 'images')} files")
    _sh(repo, "git", "checkout", "-q", "HEAD~1")
    print(f"after checking out the previous commit, the post-checkout hook put back "
          f"{_count_files(repo / 'images')} files")
    _sh(repo, "git", "checkout", "-q", "main")

    _step("6. The cache holds every version once; verify re-hashes it")
    _sh(repo, "git", "datavc", "verify")

    _step("7. Share the data: push to a remote (a local directory here), lose the cache, pull")
    store = repo.parent / "data-store"
    _sh(repo, "git", "datavc", "remote", "add", "-d", "store", str(store))
    _sh(repo, "git", "datavc", "push")
    _sh(repo, "git", "datavc", "status", "--remote")
    shutil.rmtree(repo / ".git" / "datavc" / "cache")
    shutil.rmtree(repo / "images")
    print("deleted the local cache and the images/ folder")
    _sh(repo, "git", "datavc", "pull")
    print(f"images/ is back with {_count_files(repo / 'images')} files")
    _sh(repo, "git", "datavc", "verify")
    print("\nDone. Try it on your own repository: git datavc init && git datavc track '*.bin'")
    sys.stdout.flush()
