"""Clone first, install later (issue 11): a clone made where no datavc drivers are
configured holds 3-line pointers; `install`, `pull` and `checkout` turn them into content
and leave `git status` clean, never touching a pointer the user edited."""

from __future__ import annotations

from pathlib import Path

import blake3
import pytest

from tests.helpers import datavc, git

MiB = 1 << 20


def content(seed: str, size: int) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=size)


def pointer_bytes(data: bytes) -> bytes:
    return b"version: datavc/1\nblake3: %s\nsize: %d\n" % (
        blake3.blake3(data).hexdigest().encode(), len(data))


def fresh_home(tmp_path: Path) -> dict[str, str]:
    """The environment of a new user: a HOME with no git config and no datavc drivers."""
    home = tmp_path / "newhome"
    home.mkdir()
    git(home, "config", "--global", "init.defaultBranch", "main",
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"), "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A filter-mode repository whose drivers are in its local config only, pushed to a
    local data remote."""
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    datavc(src, "init")
    datavc(src, "track", "*.bin")
    datavc(src, "remote", "add", "-d", "store", str(tmp_path / "store"))
    files = {"f.bin": content("f", MiB), "sub/g.bin": content("g", 3000)}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "data")
    datavc(src, "push")
    assert git(src, "config", "--local", "--get", "filter.datavc.process").stdout.strip()
    return src, files


def clone(src: Path, tmp_path: Path, env: dict[str, str]) -> Path:
    dst = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(src), str(dst), env=env)
    assert "filter.datavc" not in git(dst, "config", "--list", env=env).stdout
    return dst


def assert_clean(repo: Path, env: dict[str, str]) -> None:
    assert git(repo, "status", "--porcelain", env=env).stdout == ""


def test_clone_then_install_and_pull_fills_pointers(source: tuple[Path, dict[str, bytes]],
                                                    tmp_path: Path) -> None:
    src, files = source
    env = fresh_home(tmp_path)
    dst = clone(src, tmp_path, env)
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == pointer_bytes(data)  # no driver: pointers
    datavc(dst, "install", env=env)
    pulled = datavc(dst, "pull", env=env)
    assert "fetch 2 objects" in pulled.stderr
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
    assert_clean(dst, env)
    # the index still holds the pointers: content was restored, not re-committed
    assert git(dst, "cat-file", "blob", ":f.bin", env=env).stdout.encode() == \
        pointer_bytes(files["f.bin"])

    # cache lost, workspace back to pointers (as a driverless checkout would leave it)
    import shutil

    shutil.rmtree(dst / ".git" / "datavc" / "cache")
    for rel, data in files.items():
        (dst / rel).write_bytes(pointer_bytes(data))
    git(dst, "update-index", "-q", "--refresh", env=env, check=False)
    assert datavc(dst, "checkout", env=env).returncode == 0  # nothing to restore from
    assert (dst / "f.bin").read_bytes() == pointer_bytes(files["f.bin"])
    datavc(dst, "pull", env=env)
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
    assert_clean(dst, env)


def test_install_in_clone_with_cache_restores(source: tuple[Path, dict[str, bytes]],
                                              tmp_path: Path) -> None:
    src, files = source
    env = fresh_home(tmp_path)
    dst = clone(src, tmp_path, env)
    datavc(dst, "fetch", env=env)  # objects arrive in the cache; files still pointers
    assert (dst / "f.bin").read_bytes() == pointer_bytes(files["f.bin"])
    out = datavc(dst, "install", env=env)
    assert "2 filter-tracked files restored" in out.stderr
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
    assert_clean(dst, env)


def test_edited_pointer_and_lookalike_are_kept(source: tuple[Path, dict[str, bytes]],
                                               tmp_path: Path) -> None:
    src, files = source
    env = fresh_home(tmp_path)
    dst = clone(src, tmp_path, env)
    edited = pointer_bytes(files["f.bin"])  # the user points f.bin at g.bin's object
    (dst / "f.bin").write_bytes(pointer_bytes(files["sub/g.bin"]))
    lookalike = b"version: datavc/1\nblake3: not-a-hash\nsize: 12\n"
    (dst / "sub" / "g.bin").write_bytes(lookalike)
    datavc(dst, "install", env=env)
    out = datavc(dst, "pull", env=env)
    assert (dst / "f.bin").read_bytes() == pointer_bytes(files["sub/g.bin"]) != edited
    assert "f.bin: a pointer that differs from the index" in out.stderr
    assert (dst / "sub" / "g.bin").read_bytes() == lookalike
    assert "sub/g.bin" not in out.stderr


def test_pointer_on_no_remote_warns(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    datavc(src, "init")
    datavc(src, "track", "*.bin")
    datavc(src, "remote", "add", "-d", "store", str(tmp_path / "store"))
    datas = [content(f"n{i}", 100 + i) for i in range(12)]
    for i, data in enumerate(datas):
        (src / f"n{i:02d}.bin").write_bytes(data)
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "never pushed")
    env = fresh_home(tmp_path)
    dst = clone(src, tmp_path, env)
    datavc(dst, "install", env=env)

    out = datavc(dst, "checkout", env=env)
    warnings = [line for line in out.stderr.splitlines() if "still a pointer" in line]
    assert len(warnings) == 10
    assert "... and 2 more files still pointers" in out.stderr
    assert (dst / "n00.bin").read_bytes() == pointer_bytes(datas[0])

    pulled = datavc(dst, "pull", env=env, check=False)
    assert pulled.returncode == 1
    assert "Traceback" not in pulled.stderr
    assert len([line for line in pulled.stderr.splitlines() if "still a pointer" in line]) == 10
    assert (dst / "n11.bin").read_bytes() == pointer_bytes(datas[11])
