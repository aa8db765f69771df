"""`git datavc diff --html`: a treemap of what changed in the data between two commits,
with row counts and columns of changed tables; plain HTML, no script, no network."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

from tests.helpers import datavc, git


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.boxes: dict[str, str] = {}     # data-path -> data-status
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "rect" and a.get("data-path"):
            self.boxes[str(a["data-path"])] = str(a["data-status"])
        self.urls += [str(v) for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.chmod(path, 0o644)
        path.unlink()
    path.write_bytes(data)


def test_diff_html_draws_every_data_file_by_what_happened_to_it(repo: Path) -> None:
    for i in range(20):
        write(repo / f"data/images/{i:02d}.png", os.urandom(1000 + 300 * i))
    write(repo / "data/tables/users.csv", b"id,name\n" + b"1,ann\n" * 1000)
    write(repo / "model.bin", os.urandom(5000))  # filter mode, beside the metafile folder
    datavc(repo, "add", "data")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "data/images/00.png").unlink()
    write(repo / "data/images/05.png", os.urandom(4000))
    write(repo / "data/images/new.png", os.urandom(9000))
    write(repo / "data/tables/users.csv", b"id,name,email\n" + b"1,ann,a@x\n" * 1200)
    write(repo / "model.bin", os.urandom(6000))
    datavc(repo, "add", "data")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v2")

    result = datavc(repo, "diff", "HEAD~1", "HEAD", "--html")
    assert "5 of 23 data files changed" in result.stderr
    page = parse(repo / "datavc_diff.html")
    assert page.boxes["data/images/00.png"] == "deleted"
    assert page.boxes["data/images/05.png"] == "modified"
    assert page.boxes["data/images/new.png"] == "added"
    assert page.boxes["data/images/07.png"] == "unchanged"
    assert page.boxes["model.bin"] == "modified"
    assert len(page.boxes) == 23
    text = " ".join(page.text)
    assert "1,000" in text and "1,200" in text and "+200" in text and "added: email" in text
    assert "svg" in page.tags and "script" not in page.tags and page.urls == []

    # HEAD against the workspace, into a named file
    write(repo / "data/images/01.png", os.urandom(100))
    datavc(repo, "diff", "--html", str(repo / "ws.html"))
    assert parse(repo / "ws.html").boxes["data/images/01.png"] == "modified"


def test_diff_html_of_an_unknown_revision_is_one_line(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    result = datavc(repo, "diff", "nope", "--html", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: unknown revision 'nope'"
    assert not (repo / "datavc_diff.html").exists()
