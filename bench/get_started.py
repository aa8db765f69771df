"""iterative/example-get-started under DVC and under git-datavc, side by side.

The issue's "Measure" item: the project's tree unchanged (dvc.yaml, params.yaml, src/), a
generated stand-in for `data/data.xml`, then in two copies, one per tool:

  1. `repro`                                   (all four stages run)
  2. edit `featurize.max_features` in params.yaml
  3. `repro`                                   (featurize, train, evaluate run)
  4. `metrics diff`                            (against the commit of step 1)
  5. `git checkout` of step 1's commit         (+ `dvc checkout` for DVC; git-datavc's hooks)
     then `repro`                              (nothing runs: the outs are step 1's)

At every step it compares the stages that ran and the metrics, and prints the wall times
side by side. `data/data.xml.dvc` (an import from another repository) is replaced by the
generated file; nothing else is changed. The project's files are never part of this repository: give the exported tree
(`--tree DIR`), a git directory of the project (`--git-dir DIR`, exported with `git archive
HEAD`), or let the script `git clone` it (`--url`, default the project on GitHub).

Stage scripts need scikit-learn, pandas, dvclive and matplotlib; the script installs them
and DVC into venvs of its own under bench/scratch/ (git-ignored) on the first run: one with
DVC for the DVC copy, one without for git-datavc's.

    python bench/get_started.py --git-dir PATH/TO/example-get-started.git [--rows 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
SCRATCH = HERE / "scratch" / "get_started"
VENV = HERE / "scratch" / "gs-venv"
STAGE_PACKAGES = ["scikit-learn>=1.3", "pandas", "dvclive>=3.0", "matplotlib", "pyaml", "scipy"]
DVC = "dvc==3.67.1"
URL = "https://github.com/iterative/example-get-started"
WORDS = ("data frame plot model vector matrix regression python function list package "
         "install error value column row merge apply loop string factor level ggplot "
         "dplyr tidy lapply sapply numpy pandas array index query join table chart").split()
TAGS = ["<r>", "<python>", "<r><ggplot2>", "<python><pandas>", "<java>", "<r><dplyr>",
        "<javascript>", "<sql>"]


def ensure_venv(tool: str) -> Path:
    """The bin folder of the venv a tool's copy runs in, made on the first run. The DVC
    copy's venv has DVC beside the stages' packages, as a DVC user's has; git-datavc's has
    no DVC, as a user's who switched (dvclive, finding DVC and the project's .dvc/, would
    otherwise drive DVC from inside the evaluate stage)."""
    venv = VENV if tool == "dvc" else VENV.with_name(VENV.name + "-nodvc")
    packages = STAGE_PACKAGES + ([DVC] if tool == "dvc" else [])
    marker = venv / "installed.txt"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True)
        marker.write_text("\n".join(packages) + "\n")
    return venv / "bin"


def generate_posts(path: Path, rows: int, seed: int = 1) -> None:
    """A StackOverflow-posts-like XML file: one `<row .../>` per line, with the attributes
    prepare.py reads (Id, PostTypeId, Tags, Title, Body); about a quarter tagged <r>."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
        for i in range(1, rows + 1):
            tags = rng.choice(TAGS)
            bias = ["ggplot", "dplyr", "lapply", "factor"] if "<r>" in tags else \
                ["numpy", "pandas", "python", "array"]
            title = " ".join(rng.choice(WORDS + bias * 2) for _ in range(rng.randint(4, 9)))
            body = " ".join(rng.choice(WORDS + bias) for _ in range(rng.randint(20, 80)))
            f.write(f"  <row Id={quoteattr(str(i))} PostTypeId=\"1\" Tags={quoteattr(tags)}"
                    f" Title={quoteattr(title)} Body={quoteattr('<p>' + body + '</p>')} />\n")
        f.write("</posts>\n")


def export_tree(args: argparse.Namespace, dest: Path) -> None:
    if args.tree:
        shutil.copytree(args.tree, dest, ignore=shutil.ignore_patterns(".git"))
        return
    git_dir = args.git_dir
    if not git_dir:
        git_dir = str(SCRATCH / "upstream.git")
        if not Path(git_dir).exists():
            subprocess.run(["git", "clone", "-q", "--bare", args.url, git_dir], check=True)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", "HEAD"],
                             check=True, stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


class Copy:
    """One copy of the project and the tool that runs it."""

    def __init__(self, tool: str, root: Path, env: dict[str, str]) -> None:
        self.tool, self.root, self.env = tool, root, env
        self.times: dict[str, float] = {}

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(cmd, cwd=self.root, env=self.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check and proc.returncode != 0:
            raise SystemExit(f"{self.tool}: `{' '.join(cmd)}` failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}")
        return proc

    def tool_cmd(self, *args: str) -> list[str]:
        return ["dvc", *args] if self.tool == "dvc" else ["git", "datavc", *args]

    def timed(self, step: str, *args: str) -> str:
        start = time.perf_counter()
        out = self.run(*self.tool_cmd(*args)).stdout
        self.times[step] = time.perf_counter() - start
        return out

    def git(self, *args: str) -> str:
        return self.run("git", *args).stdout


def stages_run(text: str) -> list[str]:
    """The stages whose command ran, from either tool's output."""
    return re.findall(r"^Running stage '([^']+)'", text, flags=re.M)


def metrics(copy: Copy) -> dict[str, object]:
    data = json.loads(copy.run(*copy.tool_cmd("metrics", "show", "--json")).stdout or "{}")
    if copy.tool == "dvc":  # DVC: {"": {"data": {file: {"data": {...}}}}}
        files = next(iter(data.values()), {}).get("data", {}) if data else {}
        data = {f: v.get("data", {}) for f, v in files.items()}
    return {f"{f}:{k}": v for f, vals in data.items() for k, v in _flat(vals).items()}


def metrics_diff(copy: Copy, rev: str) -> dict[str, object]:
    data = json.loads(copy.run(*copy.tool_cmd("metrics", "diff", rev, "--json")).stdout
                      or "{}")
    return {f"{f}:{k}": (c.get("old"), c.get("new")) for f, keys in data.items()
            for k, c in keys.items()}


def _flat(d: object, prefix: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        out: dict[str, object] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def setup(args: argparse.Namespace, tool: str) -> Copy:
    venv_bin = ensure_venv(tool)
    root = SCRATCH / tool
    if root.exists():
        shutil.rmtree(root)
    export_tree(args, root)
    # data/data.xml.dvc imports the real posts from another repository (a frozen import
    # stage that DVC verifies over the network): the generated stand-in replaces it.
    (root / "data" / "data.xml.dvc").unlink(missing_ok=True)
    generate_posts(root / "data" / "data.xml", args.rows)
    here = str(Path(sys.executable).parent)  # git-datavc of this checkout
    env = {**os.environ, "PATH": f"{venv_bin}:{here}:{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "DVCLIVE_OPEN": "false", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}
    env.pop("VIRTUAL_ENV", None)
    copy = Copy(tool, root, env)
    copy.git("init", "-q", "-b", "main")
    if tool == "datavc":
        copy.run("git", "datavc", "init")
    copy.git("add", "-A")
    copy.git("commit", "-q", "-m", "example-get-started, stand-in data")
    return copy


def lock_name(copy: Copy) -> str:
    return "dvc.lock" if copy.tool == "dvc" else "datavc.lock"


def scenario(copy: Copy) -> dict[str, object]:
    seen: dict[str, object] = {}
    seen["1 repro: ran"] = stages_run(copy.timed("1 repro", "repro"))
    seen["1 metrics"] = metrics(copy)
    copy.git("add", "-A")
    copy.git("commit", "-q", "-m", "first run")
    first = copy.git("rev-parse", "HEAD").strip()
    params = copy.root / "params.yaml"
    text = params.read_text()
    params.write_text(re.sub(r"(max_features:\s*)\d+", r"\g<1>100", text))
    seen["3 repro: ran"] = stages_run(copy.timed("3 repro", "repro"))
    seen["3 metrics"] = metrics(copy)
    start = time.perf_counter()
    seen["4 metrics diff"] = metrics_diff(copy, first)
    copy.times["4 metrics diff"] = time.perf_counter() - start
    copy.git("add", "-A")
    copy.git("commit", "-q", "-m", "max_features 100")
    start = time.perf_counter()
    copy.git("checkout", "-q", first)
    if copy.tool == "dvc":
        copy.run("dvc", "checkout")
    copy.times["5 checkout back"] = time.perf_counter() - start
    seen["5 metrics"] = metrics(copy)
    seen["5 repro: ran"] = stages_run(copy.timed("5 repro", "repro"))
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--tree", help="the project's exported tree")
    src.add_argument("--git-dir", help="a git directory (bare is fine) of the project")
    ap.add_argument("--url", default=URL, help="where to clone the project from otherwise")
    ap.add_argument("--rows", type=int, default=20000, help="posts in data/data.xml")
    ap.add_argument("--out", default=str(HERE / "results_get_started.md"))
    args = ap.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    results = {}
    copies = {}
    for tool in ("dvc", "datavc"):
        copies[tool] = setup(args, tool)
        results[tool] = scenario(copies[tool])
    rows, same = [], True
    for key in results["dvc"]:
        a, b = results["dvc"][key], results["datavc"][key]
        ok = _close(a, b)
        same &= ok
        rows.append(f"| {key} | {_show(a)} | {_show(b)} | {'yes' if ok else '**no**'} |")
    steps = list(copies["dvc"].times)
    times = [f"| {s} | {copies['dvc'].times[s]:.2f} | {copies['datavc'].times[s]:.2f} |"
             for s in steps]
    report = "\n".join([
        "# example-get-started: DVC 3.67.1 and git-datavc side by side", "",
        f"`python bench/get_started.py --rows {args.rows}`: the project's tree unchanged, "
        f"a generated data/data.xml of {args.rows} posts (seed 1).", "",
        "| step | DVC | git-datavc | same |", "|---|---|---|---|", *rows, "",
        "| step | DVC s | git-datavc s |", "|---|---|---|", *times, "",
        "Everything matches." if same else "**Differences above.**", ""])
    Path(args.out).write_text(report)
    print(report)
    return 0 if same else 1


def _close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


def _show(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        return "<br>".join(f"{k}: {_show(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, tuple):
        return " → ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
