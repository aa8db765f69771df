"""Concrete inputs the fuzzers found that crashed a parser with something other than the
project's error (one test per bug, each the smallest input Hypothesis shrank it to)."""

from __future__ import annotations

from pathlib import Path

import pytest

from git_datavc import dvcrepo, lockfile, metafile, pipeline
from git_datavc.errors import DatavcError


@pytest.mark.parametrize("text", [
    b"(:\n0:",                                   # top level: str and int keys
    b"stages:\n  s:\n    cmd: x\n    1: y\n    z: w\n",   # stage keys
    b"stages:\n  s:\n    cmd: x\n    outs:\n    - o: {1: a, b: 2}\n",   # out options
    b"plots:\n- p.csv: {1: a, b: 2}\n",           # plot options
    b"artifacts:\n  m: {path: m.pkl, 1: a, b: 2}\n",                   # artifact keys
    b"stages:\n s:\n    foreach:\n    0:",                               # beside foreach
])
def test_unknown_keys_of_mixed_types_are_named_not_sorted_into_a_type_error(
        tmp_path: Path, text: bytes) -> None:
    with pytest.raises(DatavcError, match="unknown (top-level )?key|nothing else beside it"):
        pipeline.parse(tmp_path, "dvc.yaml", text)


BAD_SCALARS = [b"$: !!timestamp", b"a: 2001-02-30", b"a: !!int abc", b"a: !!int ''",
               b"a: !!float x", b"a: !!bool maybe", b"? !!timestamp x\n: 1"]


@pytest.mark.parametrize("text", BAD_SCALARS)
def test_yaml_values_pyyaml_cannot_build_are_the_projects_error(tmp_path: Path,
                                                                text: bytes) -> None:
    """PyYAML raises AttributeError, ValueError, KeyError or IndexError, not YAMLError, for
    a scalar its constructor cannot build (found by the metafile and pipeline fuzzers)."""
    for parse in (lambda: metafile.load(Path("d.datavc"), text),
                  lambda: lockfile.parse(text, "datavc.lock"),
                  lambda: pipeline.parse(tmp_path, "dvc.yaml", text),
                  lambda: dvcrepo.parse_lock(text)):
        with pytest.raises(DatavcError, match="is not valid YAML"):
            parse()


def test_a_home_that_cannot_be_expanded_is_kept_as_written() -> None:
    # found by the fuzzer: Path.expanduser raised RuntimeError (no such user) and
    # os.path.expanduser ValueError (a NUL byte), for DVC's cache.dir and a DVC remote URL
    from git_datavc import dvcobjects

    root = Path("/r")
    for value in ("~\x01", "~no-such-user-here/c", "~\x00x"):
        assert dvcrepo.cache_dir(root, {"cache": {"dir": value}}) == root / ".dvc" / value
        config = {"core": {"remote": "r"}, 'remote "r"': {"url": value}}
        source = dvcobjects.remote_source(root, config, None)
        assert source.root == root / ".dvc" / value      # type: ignore[attr-defined]
