"""The data-diff picture's parts: the squarified layout, the folder tree, table shapes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from git_datavc import datadiff
from git_datavc.datadiff import FileChange, squarify, table_shape, tree


@pytest.mark.parametrize("weights", [[1], [6, 6, 4, 3, 2, 2, 1], [100, 1, 1, 1],
                                     [5] * 40, [2 ** i for i in range(12, 0, -1)]])
@pytest.mark.parametrize("box", [(0, 0, 600, 400), (10, 20, 90, 700)])
def test_squarify_tiles_the_box_with_areas_in_proportion(weights: list[float],
                                                         box: tuple[int, ...]) -> None:
    x, y, w, h = box
    rects = squarify(weights, x, y, w, h)
    assert len(rects) == len(weights)
    total = sum(weights)
    for weight, (rx, ry, rw, rh) in zip(weights, rects):
        assert rw * rh == pytest.approx(weight / total * w * h, rel=1e-6)
        assert x - 1e-6 <= rx and rx + rw <= x + w + 1e-6
        assert y - 1e-6 <= ry and ry + rh <= y + h + 1e-6
    for (ax, ay, aw, ah), (bx, by, bw, bh) in itertools.combinations(rects, 2):
        overlap_w = min(ax + aw, bx + bw) - max(ax, bx)
        overlap_h = min(ay + ah, by + bh) - max(ay, by)
        assert overlap_w <= 1e-6 or overlap_h <= 1e-6, "rectangles overlap"


def test_squarify_makes_near_squares_for_equal_weights() -> None:
    rects = squarify([1] * 16, 0, 0, 400, 400)
    assert max(max(w / h, h / w) for _, _, w, h in rects) < 1.5


def test_tree_nests_folders_and_groups_beyond_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [FileChange(f"d/sub/{i}.bin", "unchanged", 10 + i) for i in range(10)] + \
        [FileChange("d/big.bin", "modified", 1000), FileChange("top.bin", "added", 5)]
    monkeypatch.setattr(datadiff, "MAX_BOXES", 4)
    root = tree(files)
    assert root.size == sum(f.size for f in files) and root.count == 12
    d = next(c for c in root.children if c.label == "d")
    sub = next(c for c in d.children if c.label == "sub")
    group = [c for c in sub.children if c.count > 1]
    assert len(group) == 1 and group[0].status == "unchanged"
    assert group[0].count + len(sub.children) - 1 == 10
    assert group[0].label == f"{group[0].count} more unchanged files"


def test_table_shape_counts_rows_and_reads_the_header(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_bytes(b'id,"name, full",score\n' + b"1,a,2\n" * 250_000)  # > one block
    assert table_shape(str(csv), "t.csv") == (250_000, ["id", "name, full", "score"])
    tsv = tmp_path / "t.tsv"
    tsv.write_bytes(b"a\tb\n1\t2\n3\t4")  # no line end at the end
    assert table_shape(str(tsv), "t.tsv") == (2, ["a", "b"])
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    assert table_shape(str(empty), "e.csv") == (0, [])


def test_human_sizes() -> None:
    assert datadiff.human(0) == "0 B"
    assert datadiff.human(1536) == "1.5 KiB"
    assert datadiff.human(None) == "-"
