"""`git datavc diff --html` on a large folder, beside the text diff and `dvc diff`.

A folder of N small files in 100 sub-folders (metafile mode; DVC: `dvc add`), committed;
then 1% modified, 0.5% deleted, 0.5% added, committed again. Timed, one run each:
`git datavc diff HEAD~1 HEAD --json`, `git datavc diff HEAD~1 HEAD --html` (and the
page's size), `dvc diff HEAD~1 HEAD --json` (DVC's answer is text only: there is no
picture to compare with).

    python bench/diffhtml_bench.py [--files 50000] [--dvc PATH/TO/dvc] [--results FILE]
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

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
       "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com",
       "DVC_NO_ANALYTICS": "1"}


def sh(cwd: Path, *argv: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def make(repo: Path, files: int, tool: list[str], init: list[str]) -> None:
    repo.mkdir(parents=True)
    sh(repo, "git", "init", "-q")
    sh(repo, *init)
    rng = random.Random(1)
    data = repo / "data"
    for i in range(files):
        path = data / f"d{i % 100:02d}" / f"f{i:06d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(200 + i % 2000))
    sh(repo, *tool, "add", "data")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "v1")
    for i in range(0, files, 100):   # 1% modified
        path = data / f"d{i % 100:02d}" / f"f{i:06d}.bin"
        os.chmod(path, 0o644)
        path.unlink()
        path.write_bytes(rng.randbytes(300))
    for i in range(1, files, 200):   # 0.5% deleted
        (data / f"d{i % 100:02d}" / f"f{i:06d}.bin").unlink()
    for i in range(files // 200):    # 0.5% added
        (data / "new" / f"n{i:06d}.bin").parent.mkdir(parents=True, exist_ok=True)
        (data / "new" / f"n{i:06d}.bin").write_bytes(rng.randbytes(500))
    sh(repo, *tool, "add", "data")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "v2")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--dvc", default=shutil.which("dvc"))
    ap.add_argument("--results")
    args = ap.parse_args()
    here = str(Path(sys.executable).parent)
    ENV["PATH"] = f"{here}:{ENV['PATH']}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "datavc"
        make(ours, args.files, ["git", "datavc"], ["git", "datavc", "init"])
        rows.append(("git datavc diff --json", sh(ours, "git", "datavc", "diff", "HEAD~1",
                                                   "HEAD", "--json"), ""))
        took = sh(ours, "git", "datavc", "diff", "HEAD~1", "HEAD", "--html", "page.html")
        size = (ours / "page.html").stat().st_size
        rows.append(("git datavc diff --html", took, f"page {size / 1024:.0f} KiB"))
        if args.dvc:
            theirs = Path(tmp) / "dvc"
            make(theirs, args.files, [args.dvc], [args.dvc, "init", "-q"])
            rows.append(("dvc diff --json", sh(theirs, args.dvc, "diff", "HEAD~1", "HEAD",
                                               "--json"), "text only"))
    lines = [f"`python bench/diffhtml_bench.py --files {args.files}`: {args.files} files in "
             "100 folders, then 1% modified, 0.5% deleted, 0.5% added; one run each.", "",
             "| command | s | |", "|---|---:|---|"]
    lines += [f"| {name} | {secs:.2f} | {note} |" for name, secs, note in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.results:
        Path(args.results).write_text("# diff --html\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
