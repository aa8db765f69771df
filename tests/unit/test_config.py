"""Layered settings (DESIGN §2): defaults < .datavc/config < config.local < DATAVC_* < flags."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from git_datavc import config
from git_datavc.errors import DatavcError


def set_key(root: Path, name: str, key: str, value: str) -> None:
    """Write one key with real `git config -f`, as a user would."""
    path = root / ".datavc" / name
    path.parent.mkdir(exist_ok=True)
    subprocess.run(["git", "config", "-f", str(path), key, value], check=True)


def test_defaults(tmp_path: Path) -> None:
    s = config.load(tmp_path)
    assert s.root == tmp_path
    assert s.autotrack == "on"
    assert s.threshold == 10 << 20
    assert s.cache_types == ("reflink", "copy")
    assert s.protected is False
    assert s.get("core.remote") is None
    assert s.cache_dir(tmp_path / "default") == tmp_path / "default"


def test_config_file_is_read(tmp_path: Path) -> None:
    set_key(tmp_path, "config", "core.threshold", "1M")
    set_key(tmp_path, "config", "core.remote", "origin")
    set_key(tmp_path, "config", "cache.protected", "true")
    s = config.load(tmp_path)
    assert s.threshold == 1 << 20
    assert s.get("core.remote") == "origin"
    assert s.protected is True


def test_config_local_overrides_config(tmp_path: Path) -> None:
    set_key(tmp_path, "config", "core.threshold", "1M")
    set_key(tmp_path, "config", "core.remote", "shared")
    set_key(tmp_path, "config.local", "core.threshold", "2M")
    s = config.load(tmp_path)
    assert s.threshold == 2 << 20
    assert s.get("core.remote") == "shared"  # a key only in config survives


def test_env_overrides_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_key(tmp_path, "config", "core.threshold", "1M")
    set_key(tmp_path, "config.local", "core.threshold", "2M")
    monkeypatch.setenv("DATAVC_CORE_THRESHOLD", "3k")
    monkeypatch.setenv("DATAVC_CACHE_TYPE", "hardlink,copy")
    s = config.load(tmp_path)
    assert s.threshold == 3 << 10
    assert s.cache_types == ("hardlink", "copy")


def test_overrides_beat_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_key(tmp_path, "config", "core.threshold", "1M")
    monkeypatch.setenv("DATAVC_CORE_THRESHOLD", "3k")
    s = config.load(tmp_path, {"core.threshold": "5k", "CORE.Remote": "cli"})
    assert s.threshold == 5 << 10
    assert s.get("core.remote") == "cli"


def test_keys_are_case_insensitive_except_the_subsection(tmp_path: Path) -> None:
    set_key(tmp_path, "config", "remote.MyRemote.url", "/srv/data")
    set_key(tmp_path, "config", "Core.AutoTrack", "Refuse")
    s = config.load(tmp_path)
    assert s.get("remote.MyRemote.url") == "/srv/data"
    assert s.get("REMOTE.MyRemote.URL") == "/srv/data"
    assert s.get("remote.myremote.url") is None
    assert s.autotrack == "refuse"


def test_subsection_with_dots(tmp_path: Path) -> None:
    set_key(tmp_path, "config", "remote.my.Store.endpointurl", "http://x")
    assert config.load(tmp_path).get("remote.my.Store.EndpointURL") == "http://x"


@pytest.mark.parametrize("text, size", [
    ("123", 123), ("0", 0), ("1k", 1024), ("1K", 1024), ("10M", 10 << 20), ("10m", 10 << 20),
    ("2G", 2 << 30), ("10MB", 10 << 20), ("10MiB", 10 << 20), (" 5k ", 5 << 10),
])
def test_parse_size(text: str, size: int) -> None:
    assert config.parse_size(text) == size


@pytest.mark.parametrize("text", ["1.5M", "abc", "", "k", "-1", "1 M", "1x", "0x10", "1_000"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(DatavcError):
        config.parse_size(text, "core.threshold")


def test_parse_size_rejects_non_ascii_digits_with_a_datavc_error() -> None:
    # str.isdigit() is true for "²" but int() refuses it: a DatavcError, not a ValueError
    # traceback (exit 1 with `error: core.threshold: ...`).
    for text in ("\u00b2", "1\u00b2k"):
        with pytest.raises(DatavcError):
            config.parse_size(text, "core.threshold")


def test_bad_threshold_in_config_is_an_error(tmp_path: Path) -> None:
    set_key(tmp_path, "config", "core.threshold", "lots")
    with pytest.raises(DatavcError, match="core.threshold"):
        config.load(tmp_path).threshold


@pytest.mark.parametrize("value, expected", [("on", "on"), ("OFF", "off"), ("Refuse", "refuse")])
def test_autotrack_values(tmp_path: Path, value: str, expected: str) -> None:
    assert config.load(tmp_path, {"core.autotrack": value}).autotrack == expected


@pytest.mark.parametrize("value", ["maybe", "true", "yes"])
def test_autotrack_rejects(tmp_path: Path, value: str) -> None:
    with pytest.raises(DatavcError):
        config.load(tmp_path, {"core.autotrack": value}).autotrack


def test_cache_type_keeps_order(tmp_path: Path) -> None:
    set_key(tmp_path, "config", "cache.type", "symlink, Hardlink,copy")
    assert config.load(tmp_path).cache_types == ("symlink", "hardlink", "copy")


@pytest.mark.parametrize("value", ["", ",", "copy,bogus", "hard link", "reflink;copy"])
def test_cache_type_rejects(tmp_path: Path, value: str) -> None:
    with pytest.raises(DatavcError):
        config.load(tmp_path, {"cache.type": value}).cache_types


@pytest.mark.parametrize("value", ["sometimes", "2"])
def test_protected_rejects(tmp_path: Path, value: str) -> None:
    with pytest.raises(DatavcError):
        config.load(tmp_path, {"cache.protected": value}).protected


def test_cache_dir_relative_to_repo_root(tmp_path: Path) -> None:
    set_key(tmp_path, "config.local", "cache.dir", "../shared-cache")
    s = config.load(tmp_path)
    assert s.cache_dir(tmp_path / "default") == tmp_path / "../shared-cache"


def test_cache_dir_relative_does_not_depend_on_cwd(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    s = config.load(tmp_path, {"cache.dir": "c"})
    assert s.cache_dir(tmp_path / "default") == tmp_path / "c"


def test_cache_dir_absolute(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    s = config.load(tmp_path / "repo", {"cache.dir": str(elsewhere)})
    assert s.cache_dir(tmp_path / "default") == elsewhere


def test_cache_dir_expands_home(tmp_path: Path) -> None:
    s = config.load(tmp_path, {"cache.dir": "~/datavc-cache"})
    assert s.cache_dir(tmp_path / "default") == Path(os.environ["HOME"]) / "datavc-cache"


def test_cache_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_key(tmp_path, "config", "cache.dir", "from-file")
    monkeypatch.setenv("DATAVC_CACHE_DIR", "from-env")
    assert config.load(tmp_path).cache_dir(tmp_path / "d") == tmp_path / "from-env"


def test_load_does_not_depend_on_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_key(tmp_path, "config", "core.threshold", "7k")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert config.load(tmp_path).threshold == 7 << 10


def test_unreadable_config_file_is_an_error_not_silently_ignored(tmp_path: Path) -> None:
    # A syntax error in the shared config must not silently drop its remotes and settings;
    # `git config -f` itself fails on it ("bad config line 1").
    (tmp_path / ".datavc").mkdir()
    (tmp_path / ".datavc" / "config").write_text("[core\n\tthreshold = 1k\n")
    with pytest.raises(DatavcError):
        config.load(tmp_path)


def test_normalise_key() -> None:
    assert config.normalise_key("Core.Threshold") == "core.threshold"
    assert config.normalise_key("REMOTE.MyRemote.URL") == "remote.MyRemote.url"
    assert config.normalise_key("remote.a.B.c.Url") == "remote.a.B.c.url"
