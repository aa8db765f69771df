"""`plots show [TARGETS]` and `plots diff [REVS...]`: the pipeline's plots (the top-level
`plots:` section and stage `plots:` outs) drawn on one self-contained HTML page
(default datavc_plots/index.html), as PNG/SVG files (`--format`), or printed as resolved
Vega-Lite specs with their data (`--json`).

`diff` overlays revisions in one chart per plot, coloured by revision; its revisions are
DVC's: none given, HEAD and the workspace; one, it and the workspace; more, just those
(`workspace` names the workspace). The plot definitions are the workspace's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import output, pipeline
from ..errors import DatavcError
from ..plots import (WORKSPACE, PlotData, Reader, expand_folders, narrow, resolve,
                     rev_label, select)
from ..workspace import Workspace

FORMATS = ("html", "png", "svg")


def diff_revisions(ws: Workspace, revs: list[str]) -> list[str | None]:
    """DVC's choice of revisions for `plots diff`; each is checked."""
    from ..compare import check_rev

    if not revs:
        has_head = ws.repo.git("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        return ["HEAD", None] if has_head.strip() else [None]
    chosen: list[str | None] = [None if r == WORKSPACE else r for r in revs]
    if len(chosen) == 1 and chosen[0] is not None:
        chosen.append(None)
    for rev in chosen:
        if rev is not None:
            check_rev(ws, rev)
    return list(dict.fromkeys(chosen))


def collect(ws: Workspace, targets: list[str], revs: list[str | None]) -> list[PlotData]:
    """Every chosen plot resolved at `revs`; one warning for each plot a revision lacks."""
    pipe = pipeline.load(ws.repo.root, strict=False)
    chosen = select(pipe.plots, targets, ws.repo.root)
    if not chosen:
        raise DatavcError(f"no plots: {pipe.file} has no `plots:` section and no stage "
                          "has `plots:` outs", hint="or name a data file: plots show FILE")
    reader = Reader(ws)
    found = []
    for plot in narrow(expand_folders(chosen, reader, revs), targets):
        data = resolve(plot, reader, revs)
        if data.missing:
            where = ", ".join(f"{path} at {rev}" for rev, path in data.missing)
            if data.revisions:
                output.warn(f"plots: {plot.name}: no {where}; drawn for "
                            f"{', '.join(data.revisions)}")
            else:
                output.warn(f"plots: {plot.name}: no {where}; left out")
        if data.revisions:
            found.append(data)
    if not found:
        raise DatavcError("plots: no plot has data at "
                          f"{', '.join(rev_label(r) for r in revs)}")
    return found


def as_json(found: list[PlotData], specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """DVC's `plots show --json` shape: {plot: [{type, revisions, content | path}]}."""
    result: dict[str, list[dict[str, Any]]] = {}
    for d in found:
        if d.images:
            result[d.name] = [{"type": "image", "revisions": [i.rev], "path": i.path,
                               "mime": i.mime, "size": len(i.data)} for i in d.images]
        else:
            result[d.name] = [{"type": "vega", "revisions": d.revisions,
                               "content": specs[d.name]}]
    return result


def run(targets: list[str], revs: list[str] | None, out: str, fmt: str,
        json_out: bool, open_page: bool) -> int:
    """`show` when `revs` is None (the workspace), else `diff` over those given."""
    from .. import plots_spec

    ws = Workspace.open()
    try:
        chosen: list[str | None] = [None] if revs is None else \
            diff_revisions(ws, [r for r in revs if r])
        found = collect(ws, targets, chosen)
        root, cache_dir = ws.repo.root, ws.repo.datavc_dir
    finally:
        ws.close()
    specs = {d.name: plots_spec.build(d, root) for d in found if not d.images}
    if json_out:
        print(json.dumps(as_json(found, specs), indent=2, default=str))
        return 0
    out_dir = Path(out)
    if fmt == "html":
        return _write_html(found, specs, chosen, out_dir, cache_dir, open_page)
    return _write_images(found, specs, fmt, out_dir)


def _write_html(found: list[PlotData], specs: dict[str, dict[str, Any]],
                revs: list[str | None], out_dir: Path, cache_dir: Path,
                open_page: bool) -> int:
    from .. import plots_html

    title = "git datavc plots" + (f" diff {' '.join(rev_label(r) for r in revs)}"
                                  if len(revs) > 1 else "")
    charts = [(d.name, specs[d.name]) for d in found if not d.images]
    images = [(d.name, d.images) for d in found if d.images]
    script = plots_html.javascript(cache_dir) if charts else ""
    path = plots_html.write_page(out_dir, plots_html.render(title, charts, images, script))
    output.info(f"datavc: {len(found)} plots written to {path}")
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def _write_images(found: list[PlotData], specs: dict[str, dict[str, Any]], fmt: str,
                  out_dir: Path) -> int:
    from .. import plots_html

    taken: set[str] = set()
    written = []
    for d in found:
        if d.images:   # images are written as they are, one per revision
            for img in d.images:
                name = plots_html.file_name(f"{img.rev}_{img.path}" if len(d.revisions) > 1
                                            else img.path, Path(img.path).suffix, taken)
                written.append(plots_html.write_file(out_dir, name, img.data))
            continue
        data = plots_html.render_image(specs[d.name], fmt)
        written.append(plots_html.write_file(
            out_dir, plots_html.file_name(d.name, f".{fmt}", taken), data))
    for path in written:
        print(path)
    return 0
