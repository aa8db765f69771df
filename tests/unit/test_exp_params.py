"""`exp run -S [FILE:]KEY=VALUE`: parsing and writing the changes into params files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from git_datavc.errors import DatavcError, UnsafePath
from git_datavc.exp_params import apply_sets, parse_set


def test_parse_set_defaults_to_params_yaml_and_reads_yaml_values() -> None:
    s = parse_set("train.lr=0.1")
    assert (s.file, s.key, s.value, s.text) == ("params.yaml", "train.lr", 0.1,
                                                "params.yaml:train.lr=0.1")
    assert parse_set("cfg/other.json:layers=[8, 16]").value == [8, 16]
    assert parse_set("flag=true").value is True
    assert parse_set("name=a=b").value == "a=b"
    assert parse_set("empty=").value == ""
    with pytest.raises(DatavcError, match=r"expected \[FILE:\]KEY=VALUE"):
        parse_set("train.lr")
    with pytest.raises(DatavcError, match="no key"):
        parse_set("params.yaml:=3")


def test_apply_sets_changes_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n  layers: [8, 16]\nseed: 1\n")
    (tmp_path / "p.json").write_text(json.dumps({"a": {"b": 1}}))
    apply_sets(tmp_path, [parse_set("train.lr=0.5"), parse_set("train.layers.1=32"),
                          parse_set("p.json:a.b=2")], set_new=False)
    data = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert data == {"train": {"lr": 0.5, "layers": [8, 32]}, "seed": 1}
    assert list(data) == ["train", "seed"]  # order kept
    assert json.loads((tmp_path / "p.json").read_text()) == {"a": {"b": 2}}


def test_unknown_keys_and_files_need_set_new(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n")
    with pytest.raises(DatavcError, match="'train.momentum' is not in params.yaml"):
        apply_sets(tmp_path, [parse_set("train.momentum=0.9")], set_new=False)
    with pytest.raises(DatavcError, match="params file new.yaml does not exist"):
        apply_sets(tmp_path, [parse_set("new.yaml:x=1")], set_new=False)
    apply_sets(tmp_path, [parse_set("train.momentum=0.9"), parse_set("new.yaml:x.y=1")],
               set_new=True)
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["train"]["momentum"] == 0.9
    assert yaml.safe_load((tmp_path / "new.yaml").read_text()) == {"x": {"y": 1}}


def test_unwritable_formats_and_escaping_paths_are_refused(tmp_path: Path) -> None:
    (tmp_path / "params.toml").write_text("lr = 0.1\n")
    with pytest.raises(DatavcError, match="only YAML and JSON params files"):
        apply_sets(tmp_path, [parse_set("params.toml:lr=0.2")], set_new=False)
    with pytest.raises(UnsafePath):
        apply_sets(tmp_path, [parse_set("../outside.yaml:x=1")], set_new=True)
    assert not (tmp_path.parent / "outside.yaml").exists()
