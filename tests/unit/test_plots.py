"""plots.py (data files → rows) and plots_spec.py (rows → Vega-Lite), checked by
compiling every spec with the real Vega-Lite (vl-convert) and counting what it draws."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from git_datavc import plots_spec
from git_datavc.errors import DatavcError
from git_datavc.plots import PlotData, _fields_of, _flatten, parse_records, select
from git_datavc.sections import Plot, PlotFile

ROC = [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.5, "tpr": 0.8}, {"fpr": 1.0, "tpr": 1.0}]


def test_json_list_and_dict_holding_one_list() -> None:
    assert parse_records(json.dumps(ROC).encode(), ".json", "r.json") == ROC
    assert parse_records(json.dumps({"roc": ROC}).encode(), ".json", "r.json") == ROC


def test_non_finite_numbers_become_null() -> None:
    # dvclive's roc.json starts with {"threshold": Infinity}: valid Python, not JSON
    data = b'{"roc": [{"fpr": 0.0, "tpr": 0.0, "threshold": Infinity}, {"fpr": NaN}]}'
    records = parse_records(data, ".json", "roc.json")
    assert records == [{"fpr": 0.0, "tpr": 0.0, "threshold": None}, {"fpr": None}]
    assert "Infinity" not in json.dumps(records, allow_nan=False)


def test_yaml_csv_tsv_with_numbers() -> None:
    assert parse_records(b"- {a: 1, b: x}\n- {a: 2.5, b: y}\n", ".yaml", "p.yaml") == \
        [{"a": 1, "b": "x"}, {"a": 2.5, "b": "y"}]
    assert parse_records(b"step,loss\n0,1.5\n1,0.75\n", ".csv", "p.csv") == \
        [{"step": 0, "loss": 1.5}, {"step": 1, "loss": 0.75}]
    assert parse_records(b"step\tacc\n0\t0.1\n", ".tsv", "p.tsv") == [{"step": 0, "acc": 0.1}]


@pytest.mark.parametrize("data, suffix, message", [
    (b"{nope", ".json", "p.json: not valid JSON"),
    (b'{"a": 1}', ".json", "p.json: holds no list of records"),
    (b"[1, 2]", ".json", "p.json: must be a list of records"),
    (b"a: [b", ".yaml", "p.yaml: not valid YAML"),
    (b"\xff\xfe", ".csv", "p.csv: not UTF-8"),
])
def test_bad_files_are_one_line_errors(data: bytes, suffix: str, message: str) -> None:
    with pytest.raises(DatavcError) as e:
        parse_records(data, suffix, f"p{suffix}")
    assert e.value.message.startswith(message)
    assert "\n" not in e.value.message


def test_a_field_not_in_the_data_is_named_with_the_file() -> None:
    plot = Plot("ROC", (PlotFile("eval/roc.json", "fpr", ("tpr",)),))
    with pytest.raises(DatavcError) as e:
        _fields_of(plot, PlotFile("eval/roc.json", "fpr", ("tpr",)), [{"fpr": 1}], None)
    assert e.value.message == "plots: ROC: field 'tpr' not in eval/roc.json"
    with pytest.raises(DatavcError) as e:
        _fields_of(plot, PlotFile("eval/roc.json", "x", ("tpr",)), ROC, "HEAD~1")
    assert e.value.message == "plots: ROC: field 'x' not in eval/roc.json at HEAD~1"


def test_default_y_is_the_last_field_and_x_the_row_number() -> None:
    plot = Plot("loss.csv", (PlotFile("loss.csv"),))
    records = [{"epoch": 0, "loss": 3.0}, {"epoch": 1, "loss": 2.0}]
    fields = _fields_of(plot, plot.files[0], records, None)
    assert fields == (None, ("loss",))
    d = PlotData(plot, [])
    _flatten(d, [("workspace", plot.files[0], records, fields)])
    assert (d.x_key, d.y_key) == ("step", "loss")
    assert [(r["step"], r["loss"]) for r in d.rows] == [(0, 3.0), (1, 2.0)]


def data(revs: list[str], files: dict[str, list[dict[str, Any]]], x: str | None, ys: tuple[str, ...],
         template: str | None = None) -> PlotData:
    plot = Plot("P", tuple(PlotFile(f, x, ys) for f in files), template=template)
    d = PlotData(plot, [])
    _flatten(d, [(rev, pf, files[pf.path], (x, ys)) for rev in revs for pf in plot.files])
    return d


def test_rows_keep_their_fields_and_say_where_they_come_from() -> None:
    d = data(["HEAD", "workspace"], {"a.json": ROC, "b.json": ROC}, "fpr", ("tpr",))
    assert (d.x_key, d.y_key, d.revisions) == ("fpr", "tpr", ["HEAD", "workspace"])
    assert len(d.rows) == 12
    first = d.rows[0]
    assert first["rev"] == "HEAD" and first["file"] == "a.json" and first["field"] == "tpr"
    assert "datavc_variant" not in first           # computed by the spec, see below
    assert d.variant(first) == "a.json"
    assert plots_spec.series_transform(d) == [
        {"calculate": "datum.file", "as": "datavc_variant"},
        {"calculate": "datum.rev + ' ' + datum.file", "as": "datavc_series"}]


def test_several_y_fields_go_long_under_one_key() -> None:
    recs = [{"step": 0, "train": 1.0, "val": 1.2}, {"step": 1, "train": 0.5, "val": 0.9}]
    d = data(["workspace"], {"loss.json": recs}, "step", ("train", "val"))
    assert d.y_key == "datavc_y"
    assert [(r["field"], r["datavc_y"]) for r in d.rows] == \
        [("train", 1.0), ("val", 1.2), ("train", 0.5), ("val", 0.9)]
    assert plots_spec.labels(d)[2] == "value"


def marks(spec: dict[str, Any]) -> dict[str, int]:
    """What Vega draws for the spec: {mark kind: number of items} in the real SVG."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec)
    kinds: dict[str, int] = {}
    for group in re.finditer(r'<g class="mark-(\w+) role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S):
        items = len(re.findall(r"<(path|line|rect|text)\b", group.group(2)))
        kinds[group.group(1)] = kinds.get(group.group(1), 0) + items
    return kinds


@pytest.mark.parametrize("template, kind", [
    ("linear", "line"), ("simple", "line"), ("scatter", "symbol"), ("smooth", "line"),
])
def test_xy_templates_draw_one_mark_set_per_series(template: str, kind: str) -> None:
    d = data(["HEAD", "workspace"], {"a.json": ROC, "b.json": ROC}, "fpr", ("tpr",), template)
    spec = plots_spec.build(d, Path("."))
    drawn = marks(spec)
    expected = 12 if kind == "symbol" else 4   # 2 revisions x 2 files
    if template == "smooth":
        expected = 8                           # the faint line and the fitted one
    assert drawn.get(kind) == expected, drawn
    colour = (spec.get("encoding") or spec["layer"][0]["encoding"])["color"]
    assert colour["field"] == "rev"


@pytest.mark.parametrize("template", ["confusion", "confusion_normalized"])
def test_confusion_counts_cells_per_series(template: str) -> None:
    cm = [{"actual": a, "predicted": p} for a, p in [(0, 0)] * 5 + [(0, 1)] * 2 + [(1, 1)] * 3]
    d = data(["workspace"], {"cm.json": cm}, "actual", ("predicted",), template)
    spec = plots_spec.build(d, Path("."))
    drawn = marks(spec)
    assert drawn == {"rect": 3, "text": 3}, drawn   # three (actual, predicted) pairs seen
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec)
    texts = set(re.findall(r"<text[^>]*>([^<]+)</text>", svg))
    assert ({"5", "2", "3"} if template == "confusion" else {"71%", "29%", "100%"}) <= texts
    two = data(["HEAD", "workspace"], {"cm.json": cm}, "actual", ("predicted",), template)
    assert marks(plots_spec.build(two, Path(".")))["rect"] == 6   # one matrix per revision


@pytest.mark.parametrize("template", ["bar_horizontal", "bar_horizontal_sorted"])
def test_horizontal_bars(template: str) -> None:
    recs = [{"importance": 0.5, "feature": "a"}, {"importance": 0.2, "feature": "b"},
            {"importance": 0.9, "feature": "c"}]
    d = data(["HEAD", "workspace"], {"imp.json": recs}, "importance", ("feature",), template)
    spec = plots_spec.build(d, Path("."))
    assert marks(spec) == {"rect": 6}
    assert spec["encoding"]["y"]["type"] == "nominal"
    assert ("sort" in spec["encoding"]["y"]) == template.endswith("sorted")


def test_dotted_field_names_are_escaped_for_vega_lite() -> None:
    recs = [{"train.loss": 1.0, "epoch": 0}, {"train.loss": 0.5, "epoch": 1}]
    d = data(["workspace"], {"l.json": recs}, "epoch", ("train.loss",))
    spec = plots_spec.build(d, Path("."))
    assert spec["encoding"]["y"]["field"] == "train\\.loss"
    assert marks(spec) == {"line": 1, "symbol": 2}   # linear: a line with its points


def test_custom_template_anchors_are_filled(tmp_path: Path) -> None:
    folder = tmp_path / ".dvc" / "plots"
    folder.mkdir(parents=True)
    (folder / "bars.json").write_text(json.dumps({
        "data": {"values": "<DVC_METRIC_DATA>"}, "title": "<DVC_METRIC_TITLE>",
        "mark": "bar", "width": "<DVC_METRIC_PLOT_WIDTH>",
        "encoding": {"x": {"field": "<DVC_METRIC_X>", "type": "nominal",
                           "title": "<DVC_METRIC_X_LABEL>"},
                     "y": {"field": "<DVC_METRIC_Y>", "type": "quantitative",
                           "title": "the <DVC_METRIC_Y_LABEL>"},
                     "color": "<DVC_METRIC_COLOR>"}}))
    d = data(["HEAD", "workspace"], {"r.json": ROC}, "fpr", ("tpr",), "bars")
    spec = plots_spec.build(d, tmp_path)
    assert spec["data"]["values"] == d.rows and spec["title"] == "P"
    assert spec["encoding"]["y"]["title"] == "the tpr"
    assert spec["encoding"]["color"]["field"] == "rev" and spec["width"] == plots_spec.WIDTH
    assert marks(spec) == {"rect": 6}
    # .datavc/plots/ comes first
    ours = tmp_path / ".datavc" / "plots"
    ours.mkdir(parents=True)
    (ours / "bars.json").write_text(json.dumps({"data": {"values": "<DVC_METRIC_DATA>"},
                                                "mark": "point"}))
    assert plots_spec.build(d, tmp_path)["mark"] == "point"


def test_unknown_template_is_an_error_with_a_hint(tmp_path: Path) -> None:
    d = data(["workspace"], {"r.json": ROC}, "fpr", ("tpr",), "nope")
    with pytest.raises(DatavcError) as e:
        plots_spec.build(d, tmp_path)
    assert e.value.message == "plots: P: no template 'nope'"
    assert "linear" in e.value.hint


def test_select_by_name_file_folder_or_an_extra_file(tmp_path: Path) -> None:
    roc = Plot("ROC", (PlotFile("eval/roc/train.json", "fpr", ("tpr",)),
                       PlotFile("eval/roc/test.json", "fpr", ("tpr",))))
    img = Plot("eval/imp.png", (PlotFile("eval/imp.png"),), image=True)
    plots = [roc, img]
    assert select(plots, [], tmp_path) == plots
    assert select(plots, ["ROC"], tmp_path) == [roc]
    assert select(plots, ["eval/roc/test.json"], tmp_path) == [roc]
    assert select(plots, ["eval/"], tmp_path) == plots
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert select(plots, ["other.csv"], tmp_path)[0].files == (PlotFile("other.csv"),)
    with pytest.raises(DatavcError, match="no plot or file 'nope'"):
        select(plots, ["nope"], tmp_path)


def test_the_page_keeps_data_and_script_inside_their_tags() -> None:
    from html.parser import HTMLParser

    from git_datavc import plots_html

    hostile = {"title": "</script><!--<script>", "data": {"values": [{"a": "</SCRIPT>"}]}}
    page = plots_html.render("t", [("P", hostile)], [], 'var s = "</script>";')

    class Scripts(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.bodies: list[str] = []
            self.open = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.open = tag == "script"

        def handle_data(self, data: str) -> None:
            if self.open:
                self.bodies.append(data)
                self.open = False

    parser = Scripts()
    parser.feed(page)
    assert json.loads(parser.bodies[0]) == hostile
    assert parser.bodies[2] == 'var s = "<\\/script>";'


def test_files_with_their_own_x_fields_share_one_x_key() -> None:
    plot = Plot("P", (PlotFile("a.json", "fpr", ("tpr",)), PlotFile("b.csv", "rate", ("tpr",))))
    d = PlotData(plot, [])
    _flatten(d, [("workspace", plot.files[0], ROC, ("fpr", ("tpr",))),
                 ("workspace", plot.files[1], [{"rate": 0.3, "tpr": 0.9}], ("rate", ("tpr",)))])
    assert (d.x_key, d.y_key, d.x_field) == ("datavc_x", "tpr", None)
    assert [r["datavc_x"] for r in d.rows] == [0.0, 0.5, 1.0, 0.3]
    assert plots_spec.labels(d)[1] == "x"
    assert marks(plots_spec.build(d, Path("."))) == {"line": 2, "symbol": 4}
