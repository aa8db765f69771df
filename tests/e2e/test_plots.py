"""`git datavc plots show|diff`: example-get-started's four plots (ROC, confusion matrix,
precision-recall, an image) made by a real pipeline stage, read at the workspace and at
commits (their files are stage outs: at a commit they come from the cache through that
commit's datavc.lock), drawn on a page that a real headless Chromium renders with no
network, and as PNG/SVG files."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests import chromium, pngread
from tests.e2e.data import make_eval
from tests.helpers import datavc, git

MAKE_EVAL = Path(__file__).parent / "data" / "make_eval.py"
ROC = "eval/plots/sklearn/roc/train.json"

# example-get-started's dvc.yaml, its evaluate stage standing in for src/evaluate.py
DVC_YAML = """\
stages:
  evaluate:
    cmd: python3 make_eval.py ${evaluate.seed}
    deps:
    - make_eval.py
    params:
    - evaluate.seed
    outs:
    - eval
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/sklearn/roc/train.json: tpr
      eval/plots/sklearn/roc/test.json: tpr
- Confusion-Matrix:
    template: confusion
    x: actual
    y:
      eval/plots/sklearn/cm/train.json: predicted
      eval/plots/sklearn/cm/test.json: predicted
- Precision-Recall:
    template: simple
    x: recall
    y:
      eval/plots/sklearn/prc/train.json: precision
      eval/plots/sklearn/prc/test.json: precision
- eval/plots/images/importance.png
"""


def project(repo: Path, seed: int = 1) -> Path:
    shutil.copy(MAKE_EVAL, repo / "make_eval.py")
    (repo / "params.yaml").write_text(f"evaluate:\n  seed: {seed}\n")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    datavc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"seed {seed}")
    return repo


def reseed(repo: Path, seed: int) -> None:
    (repo / "params.yaml").write_text(f"evaluate:\n  seed: {seed}\n")
    datavc(repo, "repro")


def records(path: Path) -> list[dict[str, Any]]:
    value = json.loads(path.read_text())
    return next(iter(value.values())) if isinstance(value, dict) else value


def plots_json(repo: Path, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(datavc(repo, "plots", *args, "--json").stdout)
    return result


def rows_of(plot: list[dict[str, Any]], rev: str, file: str) -> list[dict[str, Any]]:
    values = plot[0]["content"]["data"]["values"]
    return [r for r in values if r["rev"] == rev and r["file"] == file]


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.specs: list[dict[str, Any]] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self._in_spec = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._in_spec = tag == "script" and a.get("type") == "application/json"
        if tag == "img":
            self.images.append(str(a["src"]))
        self.urls += [str(v) for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data: str) -> None:
        if self._in_spec:
            self.specs.append(json.loads(data))
            self._in_spec = False


def page(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_show_draws_the_four_get_started_plots_on_one_page(repo: Path) -> None:
    project(repo)
    r = datavc(repo, "plots", "show")
    index = repo / "datavc_plots" / "index.html"
    assert "4 plots written to datavc_plots/index.html" in r.stderr
    p = page(index)
    assert [s["title"] for s in p.specs] == ["ROC", "Confusion-Matrix", "Precision-Recall"]
    roc = p.specs[0]
    train = [(v["fpr"], v["tpr"]) for v in roc["data"]["values"] if v["file"] == ROC]
    assert train == [(v["fpr"], v["tpr"]) for v in records(repo / ROC)]
    assert {v["rev"] for v in roc["data"]["values"]} == {"workspace"}
    assert roc["mark"]["type"] == "line" and roc["encoding"]["x"]["field"] == "fpr"
    assert "facet" in p.specs[1]    # train and test matrices side by side
    png = (repo / "eval/plots/images/importance.png").read_bytes()
    assert p.images == ["data:image/png;base64," + base64.b64encode(png).decode()]
    assert not [u for u in p.urls if not u.startswith("data:")]
    text = index.read_text()
    assert "vegaEmbed" in text and "<script src" not in text


def test_diff_overlays_head_and_the_workspace(repo: Path) -> None:
    project(repo, seed=1)
    head_roc = records(repo / ROC)
    reseed(repo, 2)                     # eval/ at HEAD is only in the cache now
    assert records(repo / ROC) != head_roc
    found = plots_json(repo, "diff")
    assert list(found) == ["ROC", "Confusion-Matrix", "Precision-Recall",
                           "eval/plots/images/importance.png"]
    roc = found["ROC"]
    assert roc[0]["revisions"] == ["HEAD", "workspace"]
    assert [(v["fpr"], v["tpr"]) for v in rows_of(roc, "HEAD", ROC)] == \
        [(v["fpr"], v["tpr"]) for v in head_roc]
    assert [v["tpr"] for v in rows_of(roc, "workspace", ROC)] == \
        [v["tpr"] for v in records(repo / ROC)]
    assert roc[0]["content"]["encoding"]["color"]["field"] == "rev"
    assert roc[0]["content"]["encoding"]["strokeDash"]["field"] == "datavc_variant"
    images = found["eval/plots/images/importance.png"]
    assert [i["revisions"] for i in images] == [["HEAD"], ["workspace"]]
    assert images[1]["size"] == (repo / "eval/plots/images/importance.png").stat().st_size


def test_diff_of_two_commits_and_targets(repo: Path) -> None:
    project(repo, seed=1)
    reseed(repo, 2)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed 2")
    found = plots_json(repo, "diff", "HEAD~1", "HEAD", "--targets", "Confusion-Matrix")
    assert list(found) == ["Confusion-Matrix"]
    cm = found["Confusion-Matrix"][0]
    assert cm["revisions"] == ["HEAD~1", "HEAD"]
    assert cm["content"]["facet"]["field"] == "datavc_series"
    assert cm["content"]["facet"]["sort"] == [
        f"{rev} eval/plots/sklearn/cm/{split}.json" for rev in ("HEAD~1", "HEAD")
        for split in ("train", "test")]
    assert {(v["rev"], v["file"]) for v in cm["content"]["data"]["values"]} == {
        (rev, f"eval/plots/sklearn/cm/{split}.json") for rev in ("HEAD~1", "HEAD")
        for split in ("train", "test")}
    one = plots_json(repo, "diff", "HEAD~1", "--targets", "ROC")["ROC"][0]
    assert one["revisions"] == ["HEAD~1", "workspace"]


def test_a_file_missing_in_one_revision_is_drawn_for_the_others(repo: Path) -> None:
    project(repo)
    text = DVC_YAML + "- Loss:\n    x: epoch\n    y:\n      logs/loss.csv: loss\n"
    (repo / "dvc.yaml").write_text(text)
    (repo / "logs").mkdir()
    (repo / "logs/loss.csv").write_text("epoch,loss\n0,2.0\n1,1.1\n2,0.7\n")
    r = datavc(repo, "plots", "diff", "--json")
    loss = json.loads(r.stdout)["Loss"][0]
    assert loss["revisions"] == ["workspace"]
    assert [v["loss"] for v in loss["content"]["data"]["values"]] == [2.0, 1.1, 0.7]
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: plots: Loss: no logs/loss.csv at HEAD; drawn for workspace"]


def test_a_field_not_in_the_data_is_one_error_line(repo: Path) -> None:
    project(repo)
    (repo / "dvc.yaml").write_text(DVC_YAML.replace(
        "eval/plots/sklearn/roc/test.json: tpr", "eval/plots/sklearn/roc/test.json: tpr_x"))
    r = datavc(repo, "plots", "show", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == \
        "error: plots: ROC: field 'tpr_x' not in eval/plots/sklearn/roc/test.json"
    assert not (repo / "datavc_plots").exists()


@pytest.mark.parametrize("args, message", [
    (("diff", "nope"), "error: unknown revision 'nope'"),
    (("show", "Nope"), "error: plots: no plot or file 'Nope'"),
])
def test_bad_revisions_and_targets(repo: Path, args: tuple[str, ...], message: str) -> None:
    project(repo)
    r = datavc(repo, "plots", *args, check=False)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == message
    assert "Traceback" not in r.stderr


def test_every_file_format_stage_plots_and_custom_templates(repo: Path) -> None:
    (repo / "datavc.yaml").write_text("""\
stages:
  train:
    cmd: >-
      python3 -c "import os; os.makedirs('logs', exist_ok=True);
      open('logs/loss.tsv', 'w').write('step\\tloss\\tacc\\n0\\t1.0\\t0.5\\n1\\t0.6\\t0.7\\n')"
    plots:
    - logs/loss.tsv:
        x: step
        y: [loss, acc]
        template: scatter
        title: Training
plots:
- sizes.csv:
    template: bar_horizontal_sorted
    x: rows
    y: table
- points.yaml:
    template: mine
- logo.svg
""")
    (repo / "sizes.csv").write_text("table,rows\nusers,120\nposts,900\n")
    (repo / "points.yaml").write_text("- {x: 1, y: 2}\n- {x: 2, y: 4}\n")
    (repo / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" '
                                   'height="10"><rect width="10" height="10"/></svg>')
    (repo / ".datavc/plots").mkdir(parents=True)
    (repo / ".datavc/plots/mine.json").write_text(json.dumps({
        "data": {"values": "<DVC_METRIC_DATA>"}, "title": "<DVC_METRIC_TITLE>",
        "mark": "area", "encoding": {"x": {"field": "<DVC_METRIC_X>", "type": "quantitative"},
                                     "y": {"field": "<DVC_METRIC_Y>",
                                           "type": "quantitative"}}}))
    datavc(repo, "repro")
    found = plots_json(repo, "show")
    assert list(found) == ["sizes.csv", "points.yaml", "logo.svg", "logs/loss.tsv"]
    bars = found["sizes.csv"][0]["content"]
    assert bars["encoding"]["y"] == {"field": "table", "type": "nominal", "title": "table",
                                     "sort": "-x"}
    assert [v["rows"] for v in bars["data"]["values"]] == [120, 900]
    mine = found["points.yaml"][0]["content"]
    assert mine["mark"] == "area" and mine["encoding"]["y"]["field"] == "y"
    assert mine["title"] == "points.yaml"
    assert found["logo.svg"][0]["mime"] == "image/svg+xml"
    loss = found["logs/loss.tsv"][0]["content"]
    assert loss["title"] == "Training" and loss["mark"]["type"] == "point"
    assert [(v["field"], v["datavc_y"]) for v in loss["data"]["values"]] == \
        [("loss", 1.0), ("acc", 0.5), ("loss", 0.6), ("acc", 0.7)]
    assert loss["encoding"]["color"]["field"] == "datavc_variant"
    only = plots_json(repo, "show", "points.yaml")
    assert list(only) == ["points.yaml"]


def test_png_and_svg_files_are_real_pictures(repo: Path, tmp_path: Path) -> None:
    project(repo)
    reseed(repo, 2)
    out = tmp_path / "png"
    r = datavc(repo, "plots", "diff", "--format", "png", "-o", str(out))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["Confusion-Matrix.png", "HEAD_eval_plots_images_importance.png",
                     "Precision-Recall.png", "ROC.png",
                     "workspace_eval_plots_images_importance.png"]
    assert len(r.stdout.splitlines()) == 5
    for name in ("ROC.png", "Precision-Recall.png", "Confusion-Matrix.png"):
        data = (out / name).read_bytes()
        width, height = pngread.size(data)
        assert width >= 800 and height >= 500, (name, width, height)   # scale 2
        assert pngread.variance(data) > 100, name                      # not blank
    tall = pngread.size((out / "Confusion-Matrix.png").read_bytes())[1]
    assert tall > pngread.size((out / "ROC.png").read_bytes())[1]     # 2 rows of matrices
    svg_out = tmp_path / "svg"
    datavc(repo, "plots", "show", "ROC", "--format", "svg", "-o", str(svg_out))
    svg = (svg_out / "ROC.svg").read_text()
    assert len(re.findall(r'class="mark-line role-mark', svg)) == 2   # train, test
    assert svg.count("<path") > 10


def test_the_page_renders_in_a_real_browser_with_no_network(repo: Path,
                                                            tmp_path: Path) -> None:
    project(repo)
    reseed(repo, 3)
    datavc(repo, "plots", "diff", "-o", str(tmp_path / "out"))
    index = tmp_path / "out" / "index.html"
    browser = chromium.Browser(tmp_path / "profile")
    try:
        browser.open(index.as_uri(), "document.body && document.body.dataset.rendered")
        drawn = browser.evaluate("""Array.from(document.querySelectorAll('div.plot')).map(
            d => [d.dataset.name, d.querySelectorAll('svg').length,
                  d.querySelectorAll('svg g.role-mark > *').length])""")
        errors = browser.evaluate("window.datavcErrors")
        images = browser.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        shot = browser.screenshot(tmp_path / "plots.png")
        requests = browser.requests()
    finally:
        browser.close()
    assert errors == []
    assert [name for name, _, _ in drawn] == ["ROC", "Confusion-Matrix", "Precision-Recall"]
    for name, svgs, marks in drawn:
        assert svgs >= 1 and marks >= 4, (name, svgs, marks)
    assert images == [240, 240]                 # HEAD's and the workspace's importance.png
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert requests[0] == index.as_uri()
    data = shot.read_bytes()
    assert pngread.size(data)[0] == 1400 and pngread.variance(data, step=8) > 50


def test_folder_plots_are_one_plot_per_file_at_each_revision(repo: Path) -> None:
    """dvclive's layout: a stage's `plots:` out is a folder of TSV files (and one of
    images); each file is a plot with the folder's options, read at HEAD from the cache."""
    (repo / "train.py").write_text(
        "import os, sys\n"
        "n = int(sys.argv[1])\n"
        "for split in ('train', 'eval'):\n"
        "    os.makedirs(f'dvclive/plots/metrics/{split}', exist_ok=True)\n"
        "    with open(f'dvclive/plots/metrics/{split}/loss.tsv', 'w') as f:\n"
        "        f.write('step\\tloss\\n' + ''.join(f'{i}\\t{n / (i + 1)}\\n' for i in range(n)))\n")
    (repo / "datavc.yaml").write_text("""\
vars:
- epochs: 3
stages:
  train:
    cmd: python3 train.py ${epochs}
    deps: [train.py]
    plots:
    - dvclive/plots/metrics:
        x: step
        template: linear
""")
    datavc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "3 epochs")
    (repo / "datavc.yaml").write_text((repo / "datavc.yaml").read_text().replace(
        "epochs: 3", "epochs: 5"))
    datavc(repo, "repro")
    found = plots_json(repo, "diff")
    assert list(found) == ["dvclive/plots/metrics/eval/loss.tsv",
                           "dvclive/plots/metrics/train/loss.tsv"]
    train = found["dvclive/plots/metrics/train/loss.tsv"][0]
    assert train["revisions"] == ["HEAD", "workspace"]
    values = train["content"]["data"]["values"]
    assert [(v["rev"], v["step"], v["loss"]) for v in values][:4] == \
        [("HEAD", 0, 3.0), ("HEAD", 1, 1.5), ("HEAD", 2, 1.0), ("workspace", 0, 5.0)]
    assert train["content"]["mark"] == {"type": "line", "point": True, "tooltip": True}
    only = plots_json(repo, "show", "dvclive/plots/metrics/eval/loss.tsv")
    assert list(only) == ["dvclive/plots/metrics/eval/loss.tsv"]


def test_open_hands_the_page_to_the_browser(repo: Path, tmp_path: Path) -> None:
    project(repo)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    datavc(repo, "plots", "show", "--open", env={"BROWSER": f"{browser} %s"})
    for _ in range(50):
        if opened.exists() and opened.read_text().strip():
            break
        time.sleep(0.1)
    assert opened.read_text().strip() == (repo / "datavc_plots" / "index.html").as_uri()


def test_nothing_to_plot_and_targets_outside_the_repository(repo: Path) -> None:
    (repo / "datavc.yaml").write_text("stages:\n  s:\n    cmd: 'true'\n")
    r = datavc(repo, "plots", "show", check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("error: no plots: datavc.yaml has no `plots:` section")
    (repo.parent / "outside.csv").write_text("a,b\n1,2\n")
    r = datavc(repo, "plots", "show", "../outside.csv", check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: path '../outside.csv' in plots targets")
    (repo / "here.csv").write_text("a,b\n1,2\n3,4\n")
    found = plots_json(repo, "show", "here.csv")
    assert [v["b"] for v in found["here.csv"][0]["content"]["data"]["values"]] == [2, 4]


def test_filter_mode_images_and_tables_are_read_through_their_pointers(repo: Path) -> None:
    """Files tracked with `git datavc track` are pointers in git: at a commit the plot
    reads the bytes from the cache, not the pointer."""
    datavc(repo, "track", "*.png", "*.csv")
    (repo / "datavc.yaml").write_text("plots:\n- img.png\n- t.csv:\n    x: a\n    y: b\n")
    first = make_eval.png(40, 20, 4, seed=1)
    (repo / "img.png").write_bytes(first)
    (repo / "t.csv").write_text("a,b\n1,10\n2,20\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    assert git(repo, "cat-file", "-p", "HEAD:img.png").stdout.startswith("version: datavc/")
    (repo / "img.png").unlink()
    (repo / "img.png").write_bytes(make_eval.png(40, 20, 4, seed=2))
    (repo / "t.csv").unlink()
    (repo / "t.csv").write_text("a,b\n1,11\n2,21\n")
    found = plots_json(repo, "diff")
    images = found["img.png"]
    assert [(i["revisions"], i["size"]) for i in images] == \
        [(["HEAD"], len(first)), (["workspace"], (repo / "img.png").stat().st_size)]
    values = found["t.csv"][0]["content"]["data"]["values"]
    assert [(v["rev"], v["b"]) for v in values] == \
        [("HEAD", 10), ("HEAD", 20), ("workspace", 11), ("workspace", 21)]
