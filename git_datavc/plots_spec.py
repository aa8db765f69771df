"""Vega-Lite specs for resolved plots: DVC's template names, written afresh here, and
custom templates (.datavc/plots/NAME.json, or DVC's .dvc/plots/NAME.json).

Every spec carries its data inline (`data.values`), so a page or an image needs nothing
else. Revisions are told apart by colour; when a plot also has several files or y
fields, those are told apart by dash (lines) or shape (points). A custom template is any
Vega-Lite spec with DVC's anchors: "<DVC_METRIC_DATA>", "<DVC_METRIC_X>", "<DVC_METRIC_Y>",
"<DVC_METRIC_TITLE>", "<DVC_METRIC_X_LABEL>", "<DVC_METRIC_Y_LABEL>",
"<DVC_METRIC_COLOR>", "<DVC_METRIC_PLOT_WIDTH>", "<DVC_METRIC_PLOT_HEIGHT>".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from .errors import DatavcError
from .plots import PlotData

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH, HEIGHT = 420, 300
TEMPLATE_DIRS = (".datavc/plots", ".dvc/plots")
Spec = dict[str, Any]


def ref(name: str) -> str:
    """A field name as Vega-Lite reads it: dots and brackets would mean nesting."""
    for ch in "\\.[]":
        name = name.replace(ch, "\\" + ch)
    return name


def labels(d: PlotData) -> tuple[str, str, str]:
    p = d.plot
    x = p.x_label or d.x_field or ("step" if d.x_key == "step" else "x")
    y = p.y_label or (d.y_fields[0] if len(d.y_fields) == 1 else "value")
    return p.title or p.name, x, y


def _series(d: PlotData) -> tuple[Spec | None, Spec | None]:
    """(colour, second channel) encodings: colour by revision when there are several,
    else by file/field; the second by file/field when both vary."""
    variants = list(dict.fromkeys(d.variant(r) for r in d.rows))
    var = {"field": "datavc_variant", "type": "nominal", "title": None, "sort": variants}
    if len(d.revisions) > 1:
        colour = {"field": "rev", "type": "nominal", "title": "revision",
                  "sort": d.revisions}
        return colour, var if len(variants) > 1 else None
    return (var if len(variants) > 1 else None), None


def series_transform(d: PlotData) -> list[Spec]:
    """`datavc_variant` (file and/or field, when several) and `datavc_series` (revision
    and variant) of each row, computed by Vega-Lite rather than stored in every row."""
    parts = (["datum.file"] if d.multi_file else []) + \
        (["datum.field"] if len(d.y_fields) > 1 else [])
    variant = " + ': ' + ".join(parts) or "''"
    series = f"datum.rev + ' ' + {variant}" if parts else "datum.rev"
    return [{"calculate": variant, "as": "datavc_variant"},
            {"calculate": series, "as": "datavc_series"}]


def _base(d: PlotData) -> Spec:
    title, _, _ = labels(d)
    return {"$schema": SCHEMA, "title": title, "width": WIDTH, "height": HEIGHT,
            "data": {"values": d.rows}, "transform": series_transform(d)}


def _xy(d: PlotData, x_type: str = "quantitative", y_type: str = "quantitative") -> Spec:
    _, x_title, y_title = labels(d)
    return {"x": {"field": ref(d.x_key), "type": x_type, "title": x_title},
            "y": {"field": ref(d.y_key), "type": y_type, "title": y_title,
                  "scale": {"zero": False}}}


def _tooltip(d: PlotData) -> list[Spec]:
    return [{"field": ref(d.x_key)}, {"field": ref(d.y_key)}, {"field": "rev"},
            {"field": "file"}, {"field": "field"}]


def _line(d: PlotData, points: bool) -> Spec:
    colour, second = _series(d)
    enc = _xy(d) | {"tooltip": _tooltip(d)}
    if colour:
        enc["color"] = colour
    if second:
        enc["strokeDash"] = second
    return _base(d) | {"mark": {"type": "line", "point": points, "tooltip": True},
                       "encoding": enc}


def linear(d: PlotData) -> Spec:
    return _line(d, points=True)


def simple(d: PlotData) -> Spec:
    return _line(d, points=False)


def scatter(d: PlotData) -> Spec:
    colour, second = _series(d)
    enc = _xy(d) | {"tooltip": _tooltip(d)}
    if colour:
        enc["color"] = colour
    if second:
        enc["shape"] = second
    return _base(d) | {"mark": {"type": "point", "filled": True}, "encoding": enc}


def smooth(d: PlotData) -> Spec:
    """The points' line faint, a LOESS curve of them on top."""
    colour, second = _series(d)
    groups = [c["field"] for c in (colour, second) if c]
    enc: Spec = {k: v for k, v in (("color", colour), ("strokeDash", second)) if v}
    xy = _xy(d)
    raw = {"mark": {"type": "line", "opacity": 0.25}, "encoding": xy | enc}
    fitted = {"transform": [{"loess": ref(d.y_key), "on": ref(d.x_key), "groupby": groups,
                             "bandwidth": 0.3}],
              "mark": {"type": "line", "strokeWidth": 2}, "encoding": xy | enc}
    return _base(d) | {"layer": [raw, fitted]}


def _confusion(d: PlotData, normalized: bool) -> Spec:
    _, x_title, y_title = labels(d)
    transform: list[Spec] = [{"aggregate": [{"op": "count", "as": "count"}],
                              "groupby": [ref(d.x_key), ref(d.y_key), "datavc_series"]},
                             {"joinaggregate": [{"op": "sum", "field": "count", "as": "total"}],
                              "groupby": [ref(d.x_key), "datavc_series"]},
                             {"calculate": "datum.count / datum.total", "as": "percent"}]
    value = "percent" if normalized else "count"
    # the colour scale is shared by every matrix: text turns white on its darker half
    transform.append({"joinaggregate": [{"op": "max", "field": value, "as": "datavc_max"}]})
    fmt = ".0%" if normalized else "d"
    enc = {"x": {"field": ref(d.x_key), "type": "nominal", "title": x_title},
           "y": {"field": ref(d.y_key), "type": "nominal", "title": y_title}}
    cell = {"mark": "rect", "encoding": enc | {
        "color": {"field": value, "type": "quantitative", "title": value,
                  "scale": {"scheme": "blues"}},
        "tooltip": [{"field": ref(d.x_key)}, {"field": ref(d.y_key)},
                    {"field": "count"}, {"field": "percent", "format": ".1%"}]}}
    text = {"mark": {"type": "text"}, "encoding": enc | {
        "text": {"field": value, "type": "quantitative", "format": fmt},
        "color": {"condition": {"test": f"datum.{value} > 0.5 * datum.datavc_max",
                                "value": "white"}, "value": "black"}}}
    inner = {"width": 260 if len(d.revisions) > 1 else WIDTH, "height": 260 if
             len(d.revisions) > 1 else HEIGHT, "layer": [cell, text]}
    spec = _base(d)
    spec.pop("width")
    spec.pop("height")
    series = list(dict.fromkeys(" ".join(filter(None, [r["rev"], d.variant(r)]))
                                for r in d.rows))
    spec["transform"] += transform
    if len(series) > 1:
        return spec | {"facet": {"field": "datavc_series", "type": "nominal", "title": None,
                                 "sort": series}, "columns": 2, "spec": inner}
    return spec | inner


def confusion(d: PlotData) -> Spec:
    return _confusion(d, normalized=False)


def confusion_normalized(d: PlotData) -> Spec:
    return _confusion(d, normalized=True)


def _bars(d: PlotData, sort: bool) -> Spec:
    """DVC's horizontal bars: x the value, y the category; revisions side by side."""
    _, x_title, y_title = labels(d)
    colour, second = _series(d)
    enc: Spec = {"x": {"field": ref(d.x_key), "type": "quantitative", "title": x_title},
                 "y": {"field": ref(d.y_key), "type": "nominal", "title": y_title,
                       **({"sort": "-x"} if sort else {})},
                 "tooltip": _tooltip(d)}
    if colour:
        enc["color"] = colour
        enc["yOffset"] = {"field": colour["field"], "sort": colour["sort"]}
    if second:
        enc["opacity"] = second
    return _base(d) | {"mark": "bar", "encoding": enc}


def bar_horizontal(d: PlotData) -> Spec:
    return _bars(d, sort=False)


def bar_horizontal_sorted(d: PlotData) -> Spec:
    return _bars(d, sort=True)


TEMPLATES: dict[str, Callable[[PlotData], Spec]] = {
    "linear": linear, "simple": simple, "scatter": scatter, "smooth": smooth,
    "confusion": confusion, "confusion_normalized": confusion_normalized,
    "bar_horizontal": bar_horizontal, "bar_horizontal_sorted": bar_horizontal_sorted}


def build(d: PlotData, root: Path, template: str | None = None) -> Spec:
    """The spec of a resolved data plot with its template (default: linear)."""
    name = template or d.plot.template or "linear"
    if name in TEMPLATES:
        return TEMPLATES[name](d)
    return custom(d, find_template(root, name, d.name))


def find_template(root: Path, name: str, plot: str) -> Any:
    candidates = [root / name] if name.endswith(".json") else []
    candidates += [root / folder / f"{name}.json" for folder in TEMPLATE_DIRS]
    for path in candidates:
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise DatavcError(f"plots: {plot}: template {path.relative_to(root)} is "
                                  f"not valid JSON: {e}") from None
    raise DatavcError(f"plots: {plot}: no template {name!r}",
                      hint=f"built in: {', '.join(TEMPLATES)}; or put {name}.json in "
                           f"{TEMPLATE_DIRS[0]}/")


def custom(d: PlotData, template: Any) -> Spec:
    """A custom template with its anchors filled in."""
    title, x_title, y_title = labels(d)
    colour, _ = _series(d)
    whole: dict[str, Any] = {
        "<DVC_METRIC_DATA>": d.rows, "<DVC_METRIC_COLOR>": colour or {"value": "#4c78a8"},
        "<DVC_METRIC_PLOT_WIDTH>": WIDTH, "<DVC_METRIC_PLOT_HEIGHT>": HEIGHT}
    text = {"<DVC_METRIC_X>": ref(d.x_key), "<DVC_METRIC_Y>": ref(d.y_key),
            "<DVC_METRIC_TITLE>": title, "<DVC_METRIC_X_LABEL>": x_title,
            "<DVC_METRIC_Y_LABEL>": y_title}

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str):
            if value in whole:
                return whole[value]
            for anchor, sub in text.items():
                value = value.replace(anchor, sub)
        return value
    spec = fill(template)
    if not isinstance(spec, dict):
        raise DatavcError(f"plots: {d.name}: a template must be a JSON object")
    if "data" not in spec:   # a template without the data anchor still gets the data
        spec["data"] = {"values": d.rows}
    spec["transform"] = series_transform(d) + list(spec.get("transform") or [])
    return spec
