"""The pure parts of `migrate`: .gitattributes-style patterns, the root .gitattributes
rewrites, Git LFS pointer parsing and fast-export path quoting."""

from __future__ import annotations

import pytest

from git_datavc.errors import UsageError
from git_datavc.migrate_blobs import export_attrs, import_attrs, lfs_rules_to_datavc, parse_lfs
from git_datavc.migrate_stream import quote, unquote
from git_datavc.pathmatch import compile_pattern, path_filter, split_patterns

RULE = "filter=datavc diff=datavc merge=datavc -text"


@pytest.mark.parametrize("pattern,path,expected", [
    ("*.bin", "x.bin", True), ("*.bin", "a/b/x.bin", True), ("*.bin", "x.bint", False),
    ("data/*.bin", "data/x.bin", True), ("data/*.bin", "data/a/x.bin", False),
    ("data/*.bin", "other/data/x.bin", False), ("data/**", "data/a/b/x", True),
    ("**/m.pt", "m.pt", True), ("**/m.pt", "a/b/m.pt", True), ("/top.bin", "top.bin", True),
    ("/top.bin", "a/top.bin", False), ("a/**/b", "a/b", True), ("a/**/b", "a/x/y/b", True),
    ("*.[bB]in", "y.Bin", True), ("sp[[:space:]]ace.bin", "sp ace.bin", True),
    ("?.bin", "ab.bin", False), (r"\*.bin", "*.bin", True), (r"\*.bin", "x.bin", False),
])
def test_patterns_follow_gitattributes(pattern: str, path: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(path) is expected


def test_bad_patterns_are_usage_errors() -> None:
    for bad in ("", "!x", "dir/", "[abc", "[[:nope:]]x"):
        with pytest.raises(UsageError):
            compile_pattern(bad)


def test_filter_includes_then_excludes() -> None:
    f = path_filter(split_patterns(["*.bin,*.pt", " data/** "]), ["keep/*"])
    assert f.selects("a.bin") and f.selects("data/x.txt") and not f.selects("keep/a.bin")
    assert not f.selects("a.txt")
    assert path_filter([], ["*.txt"]).selects("a.bin")


def test_import_attrs_adds_rules_once_and_keeps_the_rest() -> None:
    out = import_attrs(b"*.txt text\n", ["*.bin"], ["keep/*"], from_lfs=False)
    assert out == f"*.txt text\n*.bin {RULE}\nkeep/* !filter !diff !merge !text\n".encode()
    assert import_attrs(out or b"", ["*.bin"], ["keep/*"], from_lfs=False) == out
    assert import_attrs(b"", ["my file.bin"], [], False) == f"my[[:space:]]file.bin {RULE}\n".encode()


def test_import_attrs_turns_lfs_rules_into_datavc_rules() -> None:
    lfs = b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.md text\n# filter=lfs kept\n"
    assert import_attrs(lfs, [], [], from_lfs=True) == \
        f"*.bin {RULE}\n*.md text\n# filter=lfs kept\n".encode()
    assert import_attrs(lfs, [], [], from_lfs=False) == lfs
    assert lfs_rules_to_datavc(b"*.dat filter=lfs diff=lfs merge=lfs -text\n") == \
        f"*.dat {RULE}\n".encode()
    assert lfs_rules_to_datavc(b"*.md text\n") == b"*.md text\n"


def test_export_attrs_removes_only_the_given_patterns_and_empties_to_none() -> None:
    data = f"*.bin {RULE}\n*.pt {RULE}\n*.txt text\n".encode()
    assert export_attrs(data, ["*.bin"], []) == f"*.pt {RULE}\n*.txt text\n".encode()
    assert export_attrs(f"*.bin {RULE}\n".encode(), ["*.bin"], []) is None
    assert export_attrs(b"*.bin keep=me\n", ["*.bin"], []) == b"*.bin keep=me\n"


def test_lfs_pointers_parse_strictly() -> None:
    oid = "a" * 64
    good = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 12\n".encode()
    p = parse_lfs(good)
    assert p is not None and (p.oid, p.size) == (oid, 12)
    assert parse_lfs(good.replace(b"size 12", b"size x")) is None
    assert parse_lfs(good.replace(b"sha256:", b"sha1:")) is None
    assert parse_lfs(good + b"ext-0-foo sha256:" + b"b" * 64 + b"\n") is None
    assert parse_lfs(b"version: datavc/1\n") is None


@pytest.mark.parametrize("raw", [b"plain.bin", b"sp ace.bin", b'"quoted', b"new\nline",
                                 b'back\\slash"'])
def test_paths_survive_quoting(raw: bytes) -> None:
    assert unquote(quote(raw)) == raw.decode()


def test_unquote_reads_fast_export_octal_escapes() -> None:
    assert unquote(b'"caf\\303\\251 \\"x\\".bin"') == 'café "x".bin'
