"""Filter mode end to end: plain `git add/commit/checkout/clone/stash/rebase/merge` on files
that `.gitattributes` routes through `filter=datavc` (DESIGN.md sections 3 and 4)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import blake3
import pytest

from tests.helpers import cache_object, datavc, git, pointer_of, run

POINTER_RE = re.compile(rb"version: datavc/1\nblake3: ([0-9a-f]{64})\nsize: (0|[1-9][0-9]*)\n")


# --- helpers -------------------------------------------------------------------------

def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def pointer_bytes(data: bytes) -> bytes:
    return b"version: datavc/1\nblake3: %s\nsize: %d\n" % (b3(data).encode(), len(data))


def content(seed: str, size: int = 5000) -> bytes:
    """Deterministic pseudo-random bytes, different for every seed."""
    return blake3.blake3(seed.encode()).digest(length=size)


def write(repo: Path, path: str, data: bytes) -> Path:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def blob(repo: Path, rev_path: str) -> bytes:
    """The raw bytes git stores at REV:PATH (or :PATH for the index)."""
    return subprocess.run(["git", "cat-file", "blob", rev_path], cwd=repo, check=True,
                          capture_output=True).stdout


def commit_raw_blob(repo: Path, path: str, data: bytes) -> None:
    """Commit `data` at `path` exactly as given, bypassing filters and hooks, then remove
    the workspace copy so that a checkout has to write it."""
    sha = git(repo, "hash-object", "-w", "--no-filters", "--stdin", input=data).stdout.strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{sha},{path}")
    git(repo, "commit", "-q", "--no-verify", "-m", f"raw {path}")
    (repo / path).unlink(missing_ok=True)


def assert_stored_as_pointer(repo: Path, rev_path: str, data: bytes) -> str:
    stored = blob(repo, rev_path)
    match = POINTER_RE.fullmatch(stored)
    assert match, f"{rev_path} is not a datavc pointer: {stored[:120]!r}"
    assert stored == pointer_bytes(data)
    oid = match.group(1).decode()
    obj = cache_object(repo, oid)
    assert obj.is_file(), f"object {oid} missing from the cache"
    assert obj.read_bytes() == data
    return oid


def changes(repo: Path) -> str:
    """`git status` of the tracked files: empty when the workspace matches the index and HEAD."""
    return git(repo, "status", "--porcelain", "--untracked-files=no").stdout


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def status_json(repo: Path) -> dict[str, list[str]]:
    report: dict[str, list[str]] = json.loads(datavc(repo, "status", "--json").stdout)
    return report


@pytest.fixture
def committed(repo: Path) -> tuple[Path, bytes]:
    """`repo` with f.bin committed (and .datavc/, .gitattributes)."""
    data = content("f.bin v1")
    write(repo, "f.bin", data)
    commit_all(repo, "f.bin v1")
    return repo, data


# --- add, commit, checkout -----------------------------------------------------------

def test_commit_stores_exact_pointer_and_readonly_object(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    assert blob(repo, "HEAD:f.bin") == pointer_bytes(data)
    ptr = pointer_of(repo, "HEAD:f.bin")
    assert ptr == {"version": "datavc/1", "blake3": b3(data), "size": str(len(data))}
    obj = cache_object(repo, b3(data))
    assert obj.read_bytes() == data
    assert stat.S_IMODE(obj.stat().st_mode) & 0o222 == 0, "cache objects must be read-only"
    assert (repo / "f.bin").read_bytes() == data, "the workspace keeps the content"


def test_checkout_of_older_commit_restores_exact_bytes(repo: Path) -> None:
    # Many pkt-lines (65516 bytes each) and not a multiple of them; over 8 MiB, where the
    # cache writes an object on its own rather than in a batch.
    v1, v2 = content("v1", (9 << 20) + 7), content("v2", 1000)
    write(repo, "f.bin", v1)
    first = commit_all(repo, "v1")
    write(repo, "f.bin", v2)
    commit_all(repo, "v2")
    git(repo, "checkout", "-q", first)
    assert (repo / "f.bin").read_bytes() == v1
    git(repo, "checkout", "-q", "main")
    assert (repo / "f.bin").read_bytes() == v2
    (repo / "f.bin").unlink()
    git(repo, "checkout", "--", "f.bin")
    assert (repo / "f.bin").read_bytes() == v2


def test_git_status_clean_after_add_and_commit(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    assert changes(repo) == ""
    os.utime(repo / "f.bin", ns=(time.time_ns(), time.time_ns() + 10**9))  # stat changes, bytes don't
    assert changes(repo) == ""
    write(repo, "f.bin", data + b"!")
    assert changes(repo) == " M f.bin\n"


def test_git_diff_uses_textconv(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    changed = content("f.bin v2")
    write(repo, "f.bin", changed)
    out = git(repo, "diff").stdout
    assert "blake3" in out
    assert b3(data) in out and b3(changed) in out
    assert "Binary files" not in out


@pytest.mark.parametrize("path", ["with space.bin", "données é.bin", "-x.bin",
                                  "sub dir/ünï [1].bin"])
def test_awkward_paths(repo: Path, path: str) -> None:
    data = content(path)
    write(repo, path, data)
    git(repo, "add", "--", path)
    git(repo, "commit", "-q", "-m", "awkward")
    assert_stored_as_pointer(repo, f"HEAD:{path}", data)
    assert changes(repo) == ""
    (repo / path).unlink()
    git(repo, "checkout", "--", path)
    assert (repo / path).read_bytes() == data
    write(repo, path, data + b"more")
    assert status_json(repo)["modified"] == [path]


def test_empty_file_stays_empty(repo: Path) -> None:
    write(repo, "empty.bin", b"")
    commit_all(repo, "empty")
    assert blob(repo, "HEAD:empty.bin") == b""
    (repo / "empty.bin").unlink()
    git(repo, "checkout", "--", "empty.bin")
    assert (repo / "empty.bin").read_bytes() == b""
    assert changes(repo) == ""


def test_many_small_files_in_one_add(repo: Path) -> None:
    count = 2000
    files = {f"many/{i // 100:02d}/{i:04d}.bin": b"small file %d\n" % i for i in range(count)}
    for path, data in files.items():
        write(repo, path, data)
    started = time.monotonic()
    added = git(repo, "add", "many", env={"GIT_TRACE": "1"})
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"git add of {count} small files took {elapsed:.0f} s"
    starts = [line for line in added.stderr.splitlines()
              if "run_command" in line and "git-datavc" in line]
    assert len(starts) == 1 and "filter-process" in starts[0], starts

    listing = git(repo, "ls-files", "-s", "-z", "--", "many").stdout.split("\0")
    entries = {rec.split("\t", 1)[1]: rec.split()[1] for rec in listing if rec}
    assert set(entries) == set(files)
    batch = run(["git", "cat-file", "--batch"], repo,
                input="".join(sha + "\n" for sha in entries.values()).encode())
    stored = batch.stdout.encode()
    for path, data in files.items():
        assert pointer_bytes(data) in stored, path
        assert cache_object(repo, b3(data)).is_file(), path
    git(repo, "commit", "-q", "-m", "many")
    assert changes(repo) == ""


# --- content that is (or is not) a pointer --------------------------------------------

def test_valid_pointer_content_passes_through_clean(repo: Path) -> None:
    elsewhere = content("only known by its pointer")
    text = pointer_bytes(elsewhere)
    write(repo, "p.bin", text)
    commit_all(repo, "pointer as content")
    assert blob(repo, "HEAD:p.bin") == text
    assert not cache_object(repo, b3(elsewhere)).exists()
    assert not cache_object(repo, b3(text)).exists(), "the pointer itself must not be cached"


def test_non_pointer_blob_smudges_unchanged(repo: Path) -> None:
    raw = b"committed before the rule existed\x00\xff\n"
    commit_raw_blob(repo, "raw.bin", raw)
    result = git(repo, "checkout", "--", "raw.bin")
    assert (repo / "raw.bin").read_bytes() == raw
    assert_no_traceback(result.stderr)


@pytest.mark.parametrize("oid", ["abc123", "A" * 64, "a" * 63, "g" * 64, "a" * 65,
                                 "../../../../etc/passwd"])
def test_pointer_with_bad_hash_checks_out_as_is(repo: Path, oid: str) -> None:
    bad = b"version: datavc/1\nblake3: %s\nsize: 5\n" % oid.encode()
    commit_raw_blob(repo, "bad.bin", bad)
    result = git(repo, "checkout", "--", "bad.bin")
    assert (repo / "bad.bin").read_bytes() == bad
    assert_no_traceback(result.stderr)


# --- clones and the cache ------------------------------------------------------------

def clone(source: Path, name: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """`git clone SOURCE NAME` beside SOURCE (a local path clone)."""
    return git(source.parent, "clone", "-q", source.name, name, env=env)


def test_clone_with_shared_cache_via_env(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    shared = repo / ".git" / "datavc" / "cache"
    result = clone(repo, "clone", env={"DATAVC_CACHE_DIR": str(shared)})
    copy = repo.parent / "clone"
    assert (copy / "f.bin").read_bytes() == data
    assert "warning" not in result.stderr


def test_clone_with_shared_cache_via_config_local(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    clone(repo, "clone")
    copy = repo.parent / "clone"
    assert (copy / "f.bin").read_bytes() == pointer_bytes(data)
    # A relative cache.dir is relative to the work tree.
    (copy / ".datavc" / "config.local").write_text("[cache]\n\tdir = ../repo/.git/datavc/cache\n")
    (copy / "f.bin").unlink()
    git(copy, "checkout", "--", "f.bin")
    assert (copy / "f.bin").read_bytes() == data
    report = status_json(copy)
    assert report["not_checked_out"] == [] and report["not_in_cache"] == []
    assert changes(copy) == ""


def test_clone_without_cache_gets_pointers_and_a_warning(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    result = clone(repo, "clone")  # succeeds: a missing object does not fail the checkout
    copy = repo.parent / "clone"
    assert (copy / "f.bin").read_bytes() == pointer_bytes(data)
    warnings = [line for line in result.stderr.splitlines() if "f.bin" in line]
    assert warnings and all(line.startswith("warning:") for line in warnings), result.stderr
    assert_no_traceback(result.stderr)
    report = status_json(copy)
    assert report["not_checked_out"] == ["f.bin"]
    assert report["not_in_cache"] == ["f.bin"]
    assert report["modified"] == [] and report["deleted"] == []
    assert changes(copy) == "", "a pointer in the workspace is clean"


# --- stash, rebase, merge --------------------------------------------------------------

def test_stash_and_pop_modified_tracked_file(committed: tuple[Path, bytes]) -> None:
    repo, v1 = committed
    v2 = content("f.bin v2")
    write(repo, "f.bin", v2)
    git(repo, "stash", "-q")
    assert (repo / "f.bin").read_bytes() == v1
    assert_stored_as_pointer(repo, "stash@{0}:f.bin", v2)
    git(repo, "stash", "pop", "-q")
    assert (repo / "f.bin").read_bytes() == v2
    assert changes(repo) == " M f.bin\n"


@pytest.fixture
def diverged(repo: Path) -> tuple[Path, dict[str, bytes]]:
    """main changes b.bin, branch `side` changes a.bin, from a common base."""
    write(repo, "a.bin", content("a1"))
    write(repo, "b.bin", content("b1"))
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "a.bin", content("a2"))
    commit_all(repo, "side: a2")
    git(repo, "checkout", "-q", "main")
    assert (repo / "a.bin").read_bytes() == content("a1")
    write(repo, "b.bin", content("b2"))
    commit_all(repo, "main: b2")
    return repo, {"a.bin": content("a2"), "b.bin": content("b2")}


def assert_head_has(repo: Path, expected: dict[str, bytes]) -> None:
    for path, data in expected.items():
        assert (repo / path).read_bytes() == data, path
        assert_stored_as_pointer(repo, f"HEAD:{path}", data)
    assert changes(repo) == ""


def test_rebase_with_tracked_files(diverged: tuple[Path, dict[str, bytes]]) -> None:
    repo, expected = diverged
    git(repo, "checkout", "-q", "side")
    git(repo, "rebase", "-q", "main")
    assert_head_has(repo, expected)


def test_merge_with_tracked_files(diverged: tuple[Path, dict[str, bytes]]) -> None:
    repo, expected = diverged
    git(repo, "merge", "-q", "--no-edit", "side")
    assert_head_has(repo, expected)
    assert len(git(repo, "rev-list", "--parents", "-1", "HEAD").stdout.split()) == 3


def test_merge_conflict_on_tracked_file_keeps_ours(committed: tuple[Path, bytes]) -> None:
    repo, _ = committed
    ours, theirs = content("ours"), content("theirs")
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "f.bin", theirs)
    commit_all(repo, "theirs")
    git(repo, "checkout", "-q", "main")
    write(repo, "f.bin", ours)
    commit_all(repo, "ours")
    result = git(repo, "merge", "--no-edit", "side", check=False)
    assert result.returncode != 0
    assert "f.bin" in result.stdout + result.stderr
    assert_no_traceback(result.stderr)
    assert (repo / "f.bin").read_bytes() == ours
    assert "f.bin" in git(repo, "ls-files", "-u").stdout, "the conflict is recorded in the index"
    assert "f.bin" in git(repo, "diff", "--name-only", "--diff-filter=U").stdout


# --- failures ------------------------------------------------------------------------

def test_corrupt_cache_object(committed: tuple[Path, bytes]) -> None:
    repo, data = committed
    oid = b3(data)
    obj = cache_object(repo, oid)
    obj.chmod(obj.stat().st_mode | stat.S_IWUSR)
    obj.write_bytes(bytes(reversed(data)))  # same size, wrong bytes
    (repo / "f.bin").unlink()

    checkout = git(repo, "checkout", "--", "f.bin", check=False)
    assert checkout.returncode != 0
    assert "f.bin" in checkout.stderr or oid[:12] in checkout.stderr, checkout.stderr
    assert_no_traceback(checkout.stderr)

    verify = datavc(repo, "verify", check=False)
    assert verify.returncode == 1
    assert oid[2:] in verify.stdout + verify.stderr
    assert any(line.startswith("error:") for line in verify.stderr.splitlines())
    assert_no_traceback(verify.stderr)


def test_verify_healthy_cache(committed: tuple[Path, bytes]) -> None:
    repo, _ = committed
    result = datavc(repo, "verify")
    assert "1 objects" in result.stdout or "1 object" in result.stdout


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


HANDSHAKE = (pkt(b"git-filter-client\n") + pkt(b"version=2\n") + b"0000"
             + pkt(b"capability=clean\n") + pkt(b"capability=smudge\n") + b"0000")
REQUEST = pkt(b"command=clean\n") + pkt(b"pathname=f.bin\n") + b"0000"


@pytest.mark.parametrize("tail", [
    pytest.param(REQUEST + b"0020abc", id="in-packet-data"),
    pytest.param(REQUEST + b"00", id="in-packet-header"),
    pytest.param(REQUEST + pkt(b"some content"), id="before-content-flush"),
    pytest.param(pkt(b"command=clean\n"), id="in-request-headers"),
])
def test_truncated_filter_stream(repo: Path, tail: bytes) -> None:
    result = run(["git-datavc", "filter-process"], repo, input=HANDSHAKE + tail, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert_no_traceback(result.stderr)
