"""`plots show` / `plots diff` on iterative/example-get-started: git-datavc against DVC.

Both copies are made as bench/get_started.py makes them (the project's tree, a generated
data/data.xml, the real stages run by each tool with scikit-learn and dvclive), run once,
committed, then run again with `featurize.max_features: 100`, so that `plots diff` has
two revisions. Then, side by side:

  * wall time of `plots show` and `plots diff` (median of --repeat runs; git-datavc's
    first run, which bundles the Vega script into its cache, apart);
  * the page: size of index.html and of the whole output folder, and how many scripts
    it loads from the network (DVC's loads Vega from a CDN; git-datavc's inlines it);
  * the same plots and the same number of data rows per plot and revision (`--json`);
  * git-datavc's page opened in a real headless Chromium: marks drawn per plot, requests
    made, and a screenshot (kept under bench/ when under 200 KB, else under /tmp).

    python bench/plots_bench.py --git-dir PATH/TO/example-get-started.git [--rows 5000]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import get_started as gs  # noqa: E402

SHOT_LIMIT = 200 * 1024


def prepare(args: argparse.Namespace, tool: str) -> gs.Copy:
    copy = gs.setup(args, tool)
    copy.run(*copy.tool_cmd("repro"))
    copy.git("add", "-A")
    copy.git("commit", "-q", "-m", "first run")
    params = copy.root / "params.yaml"
    params.write_text(re.sub(r"(max_features:\s*)\d+", r"\g<1>100", params.read_text()))
    copy.run(*copy.tool_cmd("repro"))
    return copy


def timed(copy: gs.Copy, *args: str) -> float:
    start = time.perf_counter()
    copy.run(*copy.tool_cmd(*args))
    return time.perf_counter() - start


def rows_per_rev(found: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{plot: {revision: data rows}} from either tool's `--json` (images: 1 a revision)."""
    counts: dict[str, dict[str, int]] = {}
    if set(found) <= {"data", "errors"} and isinstance(found.get("data"), dict):
        found = found["data"]          # DVC: {"data": {plot: [...]}, "errors": ...}
    for name, entries in found.items():
        per: dict[str, int] = {}
        for entry in entries:
            if entry.get("type") == "image":
                for rev in entry.get("revisions", []):
                    per[rev] = per.get(rev, 0) + 1
                continue
            for row in entry["content"]["data"]["values"]:
                per[row["rev"]] = per.get(row["rev"], 0) + 1
        counts[name] = per
    return counts


META = {"rev", "file", "filename", "field", "step"}


def values_per_rev(found: dict[str, Any]) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    """{plot: {revision: sorted rows}}, each row the values of the file's own fields
    (what either tool adds left out), so the two tools' data can be compared."""
    if set(found) <= {"data", "errors"} and isinstance(found.get("data"), dict):
        found = found["data"]
    result: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for name, entries in found.items():
        per: dict[str, list[tuple[Any, ...]]] = {}
        for entry in entries:
            if entry.get("type") != "vega":
                continue
            for row in entry["content"]["data"]["values"]:
                keys = sorted(k for k in row if k not in META and not k.startswith(("dvc_", "datavc_")))
                per.setdefault(row["rev"], []).append(tuple(
                    (k, round(row[k], 9) if isinstance(row[k], float) else row[k])
                    for k in keys if row[k] is not None and row[k] != float("inf")))
        result[name] = {rev: sorted(rows, key=repr) for rev, rows in per.items()}
    return result


def page_facts(folder: Path) -> dict[str, Any]:
    index = folder / "index.html"
    text = index.read_text(encoding="utf-8")
    return {"index.html": index.stat().st_size,
            "folder": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
            "network scripts": len(re.findall(r"<script[^>]+src=[\"']https?:", text))}


def browse(index: Path, shot: Path) -> dict[str, Any]:
    from tests import chromium

    if chromium.binary() is None:
        return {"note": "chromium not installed"}
    browser = chromium.Browser(shot.parent / "chromium-profile")
    try:
        start = time.perf_counter()
        browser.open(index.as_uri(), "document.body && document.body.dataset.rendered")
        seconds = time.perf_counter() - start
        drawn = browser.evaluate("""Array.from(document.querySelectorAll('div.plot')).map(
            d => [d.dataset.name, d.querySelectorAll('svg g.role-mark > *').length])""")
        images = browser.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        browser.screenshot(shot)
        requests = browser.requests()
    finally:
        browser.close()
    return {"render s": seconds, "marks": dict(drawn), "images": images,
            "requests": len(requests),
            "non-local requests": [u for u in requests if not u.startswith(("file:", "data:"))]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--tree")
    src.add_argument("--git-dir")
    ap.add_argument("--url", default=gs.URL)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(HERE / "results_plots.md"))
    args = ap.parse_args()
    gs.SCRATCH.mkdir(parents=True, exist_ok=True)
    copies = {tool: prepare(args, tool) for tool in ("dvc", "datavc")}
    bundle_cache = gs.SCRATCH / "xdg-cache"
    shutil.rmtree(bundle_cache, ignore_errors=True)
    copies["datavc"].env["XDG_CACHE_HOME"] = str(bundle_cache)
    times: dict[str, dict[str, float]] = {"dvc": {}, "datavc": {}}
    times["datavc"]["plots show, first run (bundles the script)"] = \
        timed(copies["datavc"], "plots", "show", "-o", "out_show")
    for tool, copy in copies.items():
        for action in ("show", "diff"):
            runs = [timed(copy, "plots", action, "-o", f"out_{action}")
                    for _ in range(args.repeat)]
            times[tool][f"plots {action}"] = statistics.median(runs)
        runs = [timed(copy, "plots", "diff", "--json") for _ in range(args.repeat)]
        times[tool]["plots diff --json"] = statistics.median(runs)
    found = {tool: json.loads(copy.run(*copy.tool_cmd("plots", "diff", "--json")).stdout)
             for tool, copy in copies.items()}
    counts = {tool: rows_per_rev(f) for tool, f in found.items()}
    values = {tool: values_per_rev(f) for tool, f in found.items()}
    same_values = {name: values["dvc"].get(name) == rows for name, rows in
                   values["datavc"].items() if rows}
    pages = {tool: page_facts(copy.root / "out_diff") for tool, copy in copies.items()}
    shot = Path("/tmp") / "plots_bench_screenshot.png"
    seen = browse(copies["datavc"].root / "out_diff" / "index.html", shot)
    kept = shot
    if shot.exists() and shot.stat().st_size < SHOT_LIMIT:
        kept = HERE / "plots_screenshot.png"
        shutil.copy(shot, kept)
    report = render(args, times, counts, pages, seen, kept, same_values)
    Path(args.out).write_text(report)
    print(report)
    return 0 if counts["dvc"] == counts["datavc"] and all(same_values.values()) else 1


def render(args: argparse.Namespace, times: dict[str, dict[str, float]],
           counts: dict[str, dict[str, dict[str, int]]], pages: dict[str, dict[str, Any]],
           seen: dict[str, Any], shot: Path, same_values: dict[str, bool]) -> str:
    steps = list(dict.fromkeys(list(times["datavc"]) + list(times["dvc"])))
    rows = [f"| {s} | {_s(times['dvc'].get(s))} | {_s(times['datavc'].get(s))} |"
            for s in steps]
    plots = sorted(set(counts["dvc"]) | set(counts["datavc"]))
    parity = [f"| {p} | {_c(counts['dvc'].get(p))} | {_c(counts['datavc'].get(p))} | "
              f"{'yes' if counts['dvc'].get(p) == counts['datavc'].get(p) else '**no**'} |"
              for p in plots]
    page = [f"| {k} | {pages['dvc'][k]:,} | {pages['datavc'][k]:,} |" for k in pages["dvc"]]
    where = shot.name if shot.parent == HERE else str(shot)
    size = f"{shot.stat().st_size // 1024} KB" if shot.exists() else "none"
    return "\n".join([
        "# plots show / diff on example-get-started: DVC 3.67.1 and git-datavc", "",
        f"`python bench/plots_bench.py --rows {args.rows} --repeat {args.repeat}`: each "
        "tool's copy of the project ran its pipeline twice (max_features 100 the second "
        "time; the first run committed), so `plots diff` compares HEAD and the workspace. "
        f"Median of {args.repeat} runs; 2 shared cores.", "",
        "| command | DVC s | git-datavc s |", "|---|---|---|", *rows, "",
        "Output of `plots diff -o DIR` (bytes; scripts loaded from the network):", "",
        "| | DVC | git-datavc |", "|---|---|---|", *page, "",
        "Plots and data rows per revision (`plots diff --json`):", "",
        "| plot | DVC | git-datavc | same |", "|---|---|---|---|", *parity, "",
        "Same data values per plot and revision (the files' own fields, rows sorted): "
        + ", ".join(f"{k}: {'yes' if v else '**no**'}" for k, v in same_values.items())
        + ".", "",
        "git-datavc's page in headless Chromium (DevTools protocol): "
        f"rendered in {_s(seen.get('render s'))} s; marks drawn per plot "
        f"{seen.get('marks')}; images {seen.get('images')}; {seen.get('requests')} requests, "
        f"non-local: {seen.get('non-local requests') or 'none'}.", "",
        f"Screenshot: {where} ({size}).", ""])


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _c(value: dict[str, int] | None) -> str:
    return "-" if value is None else ", ".join(f"{k}: {v}" for k, v in value.items())


if __name__ == "__main__":
    sys.exit(main())
