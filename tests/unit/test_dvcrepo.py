"""DVC's formats as git-datavc reads them (dvcrepo.py): hashes, .dvc files, dvc.lock, config."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from git_datavc import dvcrepo
from git_datavc.errors import DatavcError


def md5(data: bytes, legacy: bool) -> str:
    h = dvcrepo.Md5(legacy)
    for i in range(0, max(len(data), 1), dvcrepo.CHUNK):
        h.update(data[i:i + dvcrepo.CHUNK])
    return h.hexdigest()


def test_dvc3_md5_is_of_the_bytes_dvc2_md5_of_text_with_crlf_turned_to_lf() -> None:
    text = b"a\r\nb\r\n"
    assert md5(text, legacy=False) == hashlib.md5(text).hexdigest()
    assert md5(text, legacy=True) == hashlib.md5(b"a\nb\n").hexdigest()
    binary = b"\x00\r\n\xff" * 100        # a NUL: binary, its CRLFs are kept
    assert md5(binary, legacy=True) == hashlib.md5(binary).hexdigest()


def test_dvc2_md5_decides_text_once_from_the_first_block_as_dvc_2_58_did() -> None:
    binary_then_text = b"\x00" * dvcrepo.CHUNK + b"x\r\n"
    assert md5(binary_then_text, legacy=True) == hashlib.md5(binary_then_text).hexdigest()
    text = b"y\r\n" * (dvcrepo.CHUNK // 3 + 1)   # a CRLF split across two reads stays
    first, rest = text[:dvcrepo.CHUNK], text[dvcrepo.CHUNK:]
    want = hashlib.md5(first.replace(b"\r\n", b"\n") + rest.replace(b"\r\n", b"\n"))
    assert md5(text, legacy=True) == want.hexdigest()


def test_dvc2_md5s_match_what_dvc_2_58_2_wrote() -> None:
    # `dvc add` (2.58.2) recorded these for the very same bytes
    assert md5(b"line of text\r\n" * 200000, legacy=True) == "31ff196cd1d710c43dfe33386ebf21d9"
    assert md5(b"\x00" * (1 << 20) + b"x\r\n" * 1000, legacy=True) == \
        "af1e04a24c3227f5f7463f6580bad71f"
    assert md5(b"a\r\nb\r\n", legacy=True) == "dd8c6a395b5dd36c56d23275028f526c"


def test_manifest_md5_matches_the_id_dvc_3_67_gave_a_folder() -> None:
    # `dvc add data` of data/b.txt ("hi\n") and data/sub/a.txt ("a\r\nb\r\n") wrote this id
    entries = [("sub/a.txt", "59b0d7772f0561efb95518f3cb8abc60"),
               ("b.txt", "764efa883dda1e11db47671c4a3bbd9e")]
    assert dvcrepo.manifest_md5(entries) == "428f16513d066939b3793a8e20edcae7.dir"


def test_parse_manifest_refuses_paths_out_of_the_folder_and_bad_hashes() -> None:
    good = b'[{"md5": "764efa883dda1e11db47671c4a3bbd9e", "relpath": "b.txt"}]'
    assert dvcrepo.parse_manifest(good, "m") == [("b.txt", "764efa883dda1e11db47671c4a3bbd9e")]
    with pytest.raises(DatavcError, match="leaves its directory|not normalised"):
        dvcrepo.parse_manifest(b'[{"md5": "764efa883dda1e11db47671c4a3bbd9e", '
                               b'"relpath": "../x"}]', "m")
    with pytest.raises(DatavcError, match="bad md5"):
        dvcrepo.parse_manifest(b'[{"md5": "zz", "relpath": "b"}]', "m")
    with pytest.raises(DatavcError, match="not valid JSON"):
        dvcrepo.parse_manifest(b"[", "m")


def test_object_keys_of_both_layouts() -> None:
    oid = "764efa883dda1e11db47671c4a3bbd9e"
    assert dvcrepo.object_key(oid, legacy=False) == "files/md5/76/4efa883dda1e11db47671c4a3bbd9e"
    assert dvcrepo.object_key(oid, legacy=True) == "76/4efa883dda1e11db47671c4a3bbd9e"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_dvc_files_of_both_generations(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "data.dvc", "outs:\n- md5: 428f16513d066939b3793a8e20edcae7.dir\n"
          "  size: 9\n  nfiles: 2\n  hash: md5\n  path: data\n")
    write(tmp_path / "m.dvc", "outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  size: 3\n"
          "  path: m.bin\n")
    dvc3 = dvcrepo.load_dvcfile(tmp_path, "sub/data.dvc")
    assert dvc3.outs == (dvcrepo.DvcOut("sub/data", "428f16513d066939b3793a8e20edcae7.dir",
                                        9, 2, legacy=False),)
    dvc2 = dvcrepo.load_dvcfile(tmp_path, "m.dvc").outs[0]
    assert (dvc2.path, dvc2.legacy, dvc2.is_dir) == ("m.bin", True, False)


def test_import_files_are_recognised_not_converted(tmp_path: Path) -> None:
    write(tmp_path / "x.dvc", "deps:\n- path: data\n  repo:\n    url: https://example.com/r\n"
          "outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  path: data\n")
    assert "dvc import" in dvcrepo.load_dvcfile(tmp_path, "x.dvc").unsupported


@pytest.mark.parametrize("text, message", [
    ("outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  path: ../../etc/passwd\n",
     "leaves the repository"),
    ("outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  path: /etc/passwd\n",
     "not a path inside the repository"),
    ("outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  path: .git/config\n", "into .git"),
    ("outs:\n- md5: nothex\n  path: a\n", "bad md5"),
    ("outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  size: -1\n  path: a\n", "bad size"),
    ("outs:\n- md5: 764efa883dda1e11db47671c4a3bbd9e\n  hash: sha256\n  path: a\n",
     "only md5"),
    ("outs: [\n", "not valid YAML"),
    ("wdir: .\n", "no `outs:` list"),
])
def test_malformed_or_escaping_dvc_files_are_refused(tmp_path: Path, text: str,
                                                     message: str) -> None:
    write(tmp_path / "d" / "x.dvc", text)
    with pytest.raises(DatavcError, match=message):
        dvcrepo.load_dvcfile(tmp_path, "d/x.dvc")


def test_dvc_lock_of_dvc_3_and_its_refusals() -> None:
    lock = dvcrepo.parse_lock(b"schema: '2.0'\nstages:\n  s:\n    cmd: [a, b]\n"
                              b"    deps:\n    - path: d\n      hash: md5\n"
                              b"      md5: 764efa883dda1e11db47671c4a3bbd9e\n"
                              b"    params:\n      params.yaml:\n        lr: 0.1\n")
    assert lock["s"].cmds == ("a", "b")
    assert lock["s"].params == {"params.yaml": {"lr": 0.1}}
    assert lock["s"].deps[0][0] == "d"
    with pytest.raises(DatavcError, match="not a DVC 2/3 lock file"):
        dvcrepo.parse_lock(b"s:\n  cmd: a\n")          # DVC 1: no schema
    with pytest.raises(DatavcError, match="`cmd` must be"):
        dvcrepo.parse_lock(b"schema: '2.0'\nstages:\n  s:\n    cmd: 3\n")
    with pytest.raises(DatavcError, match="`outs` must be a list"):
        dvcrepo.parse_lock(b"schema: '2.0'\nstages:\n  s:\n    cmd: a\n    outs: x\n")


def test_lock_paths_are_joined_to_the_stage_wdir_and_may_not_leave_the_repo() -> None:
    item = {"path": "../data", "md5": "764efa883dda1e11db47671c4a3bbd9e"}
    assert dvcrepo.parse_out(item, "sub", "w").path == "data"
    with pytest.raises(DatavcError, match="leaves the repository"):
        dvcrepo.parse_out(item, "", "w")


def test_config_remotes_and_cache_dir(tmp_path: Path) -> None:
    write(tmp_path / ".dvc" / "config", "[core]\n    remote = storage\n"
          "['remote \"storage\"']\n    url = s3://bucket/path\n"
          "    endpointurl = http://127.0.0.1:9\n[cache]\n    dir = ../shared-cache\n")
    write(tmp_path / ".dvc" / "config.local", "['remote \"storage\"']\n"
          "    access_key_id = AK\n")
    config = dvcrepo.read_config(tmp_path)
    assert config["core"]["remote"] == "storage"
    assert dvcrepo.remotes(config)["storage"] == {
        "url": "s3://bucket/path", "endpointurl": "http://127.0.0.1:9", "access_key_id": "AK"}
    assert dvcrepo.cache_dir(tmp_path, config) == tmp_path / ".dvc" / "../shared-cache"
    assert dvcrepo.cache_dir(tmp_path, {}) == tmp_path / ".dvc" / "cache"
