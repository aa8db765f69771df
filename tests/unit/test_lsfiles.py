"""lsfiles: which blobs become rows, and which paths a pathspec selects."""

from __future__ import annotations

import blake3
import pytest

from git_datavc import lsfiles
from git_datavc.pointer import Pointer


def oid(seed: str) -> str:
    return blake3.blake3(seed.encode()).hexdigest()


def test_a_pointer_is_a_filter_row() -> None:
    data = Pointer(oid("a"), 1234).encode()
    assert lsfiles._rows_of_blob(data, "m/a.bin") == [lsfiles.Row("m/a.bin", oid("a"), 1234,
                                                                  "filter")]


@pytest.mark.parametrize("data", [b"", b"plain content\n", b"version: datavc/1\nblake3: x\n",
                                  Pointer(oid("e"), 0).encode()])
def test_content_a_damaged_pointer_and_an_empty_file_are_no_rows(data: bytes) -> None:
    assert lsfiles._rows_of_blob(data, "a.bin") == []


def test_metafile_outs_are_relative_to_its_folder() -> None:
    text = f"outs:\n- path: images\n  blake3: {oid('d')}.dir\n  size: 10\n  nfiles: 2\n"
    rows = lsfiles._rows_of_blob(text.encode(), "data/images.datavc")
    assert rows == [lsfiles.Row("data/images", oid("d") + ".dir", 10, "metafile")]
    assert lsfiles._rows_of_blob(b"outs: [not a mapping", "x.datavc") == []


def test_lock_outs_are_pipeline_rows() -> None:
    text = (f"schema: datavc/1\nstages:\n  make:\n    cmd: make\n    outs:\n"
            f"    - path: out/model.pt\n      blake3: {oid('m')}\n      size: 7\n")
    assert lsfiles._rows_of_blob(text.encode(), "datavc.lock") == [
        lsfiles.Row("out/model.pt", oid("m"), 7, "pipeline")]


@pytest.mark.parametrize("path, specs, chosen", [
    ("a.bin", [], True),
    ("a.bin", ["a.bin"], True),
    ("data/x/y", ["data"], True),
    ("data/x/y", ["data/x"], True),
    ("database/y", ["data"], False),
    ("data/", ["data"], True),            # a directory row whose manifest is missing
    ("m/a.bin", ["*.bin"], True),         # no slash: any folder, as in .gitattributes
    ("m/a.bin", ["/*.bin"], False),
    ("data/x/y", ["data/**"], True),
    ("other/y", ["data/**", "other"], True),
    ("a.txt", ["*.bin"], False),
    ("a.txt", [""], True),                # the repository root
])
def test_selected(path: str, specs: list[str], chosen: bool) -> None:
    assert lsfiles.selected(path, specs) is chosen
