"""The plots page, and plots as image files.

The page is one HTML file that opens with no network: each chart's Vega-Lite spec (data
inline) in a JSON script tag, Vega, Vega-Lite and vega-embed inlined as one script, and
images as base64 `data:` URIs. The script comes from vl-convert-python
(`javascript_bundle`, which bundles the three libraries); bundling takes seconds, so the
result is kept in the user's cache dir, one file per vl-convert version.
`--format png|svg` renders the same specs with vl-convert, no browser needed.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import DatavcError
from .plots import Image

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px} h2{font-size:15px;margin:0 0 8px}
main{display:flex;flex-wrap:wrap;gap:18px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 14px}
figure{display:inline-block;margin:0 12px 0 0} figure img{max-width:520px;display:block}
figcaption{font-size:12px;color:#555;margin-top:4px}
.error{color:#b00020;white-space:pre-wrap}
"""

DRIVER = """
(function () {
  const opts = {renderer: "svg", mode: "vega-lite",
                actions: {export: true, source: false, compiled: false, editor: false}};
  const jobs = Array.from(document.querySelectorAll("script[data-plot]")).map(function (s) {
    const target = document.getElementById(s.dataset.plot);
    return vegaEmbed(target, JSON.parse(s.textContent), opts).catch(function (e) {
      target.className += " error";
      target.textContent = "could not draw this plot: " + e;
      window.datavcErrors.push(s.dataset.plot + ": " + e);
    });
  });
  Promise.all(jobs).then(function () { document.body.dataset.rendered = "true"; });
})();
"""


def _vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError:
        raise DatavcError("plots need the vl-convert-python package",
                          hint="pip install vl-convert-python") from None
    return vl_convert


def bundle_dirs(repo_dir: Path) -> list[Path]:
    """Where the bundled script is kept: the user's cache ($XDG_CACHE_HOME, else
    ~/.cache), so it is built once per machine; the repository's datavc dir if that
    cannot be written."""
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "git-datavc"
    return [user, repo_dir]


def javascript(repo_dir: Path) -> str:
    """Vega, Vega-Lite and vega-embed as one script (window.vegaEmbed), bundled once."""
    vlc = _vl_convert()
    version = re.sub(r"[^0-9A-Za-z.]", "_", getattr(vlc, "__version__", "0"))
    name = f"vega-bundle-{version}.js"
    dirs = bundle_dirs(repo_dir)
    for folder in dirs:
        try:
            return (folder / name).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            pass
    bundle: str = vlc.javascript_bundle()
    for folder in dirs:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{name}.tmp-{os.getpid()}"
            tmp.write_text(bundle, encoding="utf-8")
            os.replace(tmp, folder / name)
            break
        except OSError:
            continue
    return bundle


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: no `<` at all, so neither `</script>` nor `<!--` in the
    data can change how the page is parsed (`<` only occurs inside JSON strings)."""
    return json.dumps(value, separators=(",", ":"), default=str,
                      allow_nan=False).replace("<", "\\u003c")


def _image_tag(img: Image) -> str:
    data = base64.b64encode(img.data).decode()
    return (f'<figure><img alt="{html.escape(img.path)}" src="data:{img.mime};base64,{data}">'
            f"<figcaption>{html.escape(img.rev)}: {html.escape(img.path)}</figcaption></figure>")


def render(title: str, charts: list[tuple[str, dict[str, Any]]],
           images: list[tuple[str, list[Image]]], script: str) -> str:
    """The page: charts as (name, spec), then images as (name, one per revision)."""
    parts = ["<!doctype html>", "<html><head><meta charset='utf-8'>",
             f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><main>"]
    for i, (name, spec) in enumerate(charts):
        parts.append(f'<section><h2>{html.escape(name)}</h2><div class="plot" '
                     f'id="plot-{i}" data-name="{html.escape(name)}"></div>'
                     f'<script type="application/json" data-plot="plot-{i}">'
                     f"{_script_json(spec)}</script></section>")
    for name, imgs in images:
        parts.append(f'<section class="images"><h2>{html.escape(name)}</h2>'
                     + "".join(_image_tag(img) for img in imgs) + "</section>")
    parts.append("</main><script>window.datavcErrors = [];</script>")
    if charts:
        script = re.sub(r"</(script)", r"<\\/\1", script, flags=re.I)  # stays inside its tag
        parts.append(f"<script>{script}</script><script>{DRIVER}</script>")
    else:
        parts.append("<script>document.body.dataset.rendered = 'true';</script>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_page(out_dir: Path, page: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    tmp = path.with_name(f"index.html.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def file_name(name: str, suffix: str, taken: set[str]) -> str:
    """A file name for plot `name` (its path or title), unique within `taken`."""
    base, dot, ext = name.rpartition(".")
    if dot and "/" not in ext and ext.lower() in ("json", "yaml", "yml", "csv", "tsv", "png",
                                                  "jpg", "jpeg", "svg", "gif"):
        name = base
    stem = re.sub(r"[^0-9A-Za-z._-]+", "_", name.replace("/", "_")).strip("._") or "plot"
    candidate, n = f"{stem}{suffix}", 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    taken.add(candidate)
    return candidate


def render_image(spec: dict[str, Any], fmt: str) -> bytes:
    """A chart as PNG or SVG bytes, drawn by vl-convert (no browser)."""
    vlc = _vl_convert()
    try:
        if fmt == "png":
            return bytes(vlc.vegalite_to_png(spec, scale=2))
        return str(vlc.vegalite_to_svg(spec)).encode("utf-8")
    except Exception as e:  # vl-convert raises ValueError with Vega's message
        raise DatavcError(f"plots: {spec.get('title', '?')}: could not draw: "
                          f"{str(e).splitlines()[0] if str(e) else e}") from None


def write_file(out_dir: Path, name: str, data: bytes) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    tmp = path.with_name(f"{name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
