"""`git datavc migrate import|export|info` on real histories (branches, a merge, annotated and
lightweight tags), and `--from-lfs` on a repository made with the real git-lfs."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import blake3
import pytest

from tests.helpers import cache_object, datavc, git

BACKUP = "refs/datavc/migrate-backup/"


def content(seed: str, size: int = 5000) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=size)


def write(repo: Path, path: str, data: bytes) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def blob(repo: Path, rev_path: str) -> bytes:
    return subprocess.run(["git", "cat-file", "blob", rev_path], cwd=repo, check=True,
                          capture_output=True).stdout


def tree_files(repo: Path, rev: str) -> dict[str, bytes]:
    out = subprocess.run(["git", "ls-tree", "-r", "-z", rev], cwd=repo, check=True,
                         capture_output=True).stdout.decode()
    files = {}
    for record in filter(None, out.split("\0")):
        meta, path = record.split("\t", 1)
        files[path] = blob(repo, meta.split()[2])
    return files


def refs(repo: Path, *patterns: str) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", *patterns).stdout
    return dict(line.split() for line in out.splitlines())


def commits_by_subject(repo: Path, *revs: str) -> dict[str, str]:
    out = git(repo, "log", "--format=%s %H", *revs).stdout
    return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in out.splitlines()}


def parse_pointer(data: bytes) -> tuple[str, int]:
    lines = data.decode().splitlines()
    assert lines[0] == "version: datavc/1", data
    assert lines[1].startswith("blake3: ") and lines[2].startswith("size: "), data
    return lines[1][8:], int(lines[2][6:])


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """main: one -> two (tag v1, annotated) -> merge of topic; v0 (lightweight) on one;
    topic: one -> side. *.bin files change along the way; x.dat and t.txt are not *.bin."""
    repo = tmp_path / "hist"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "a.bin", content("a1", 70_000))
    write(repo, "data/b.bin", content("b1"))
    write(repo, "t.txt", b"text\n")
    write(repo, "empty.bin", b"")
    commit_all(repo, "one")
    git(repo, "tag", "v0")
    write(repo, "a.bin", content("a2", 90_000))
    write(repo, "sp ace.bin", content("space"))
    commit_all(repo, "two")
    git(repo, "tag", "-a", "v1", "-m", "release one")
    git(repo, "checkout", "-q", "-b", "topic", "v0")
    write(repo, "data/b.bin", content("b2"))
    write(repo, "x.dat", content("x"))
    commit_all(repo, "side")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "-m", "merge", "topic")
    return repo


def test_import_then_export_round_trips_every_commit_and_tag(history: Path) -> None:
    before_refs = refs(history, "refs/heads", "refs/tags")
    before = commits_by_subject(history, "--all")
    originals = {subject: tree_files(history, sha) for subject, sha in before.items()}

    proc = datavc(history, "migrate", "import", "--include=*.bin", "--everything")
    assert "4 commits" in proc.stdout and "blobs became pointers" in proc.stdout

    after = commits_by_subject(history, "--branches", "--tags")
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
    for subject, sha in after.items():
        files = tree_files(history, sha)
        original = originals[subject]
        assert "*.bin filter=datavc diff=datavc merge=datavc -text" in \
            files.pop(".gitattributes").decode().splitlines()
        assert set(files) == set(original)
        for path, data in files.items():
            if path.endswith(".bin") and original[path]:
                oid, size = parse_pointer(data)
                assert size == len(original[path])
                assert cache_object(history, oid).read_bytes() == original[path]
            else:   # other files, and the empty one, are as they were
                assert data == original[path], path
    # Every ref moved, and its old value is kept under the backup namespace.
    now = refs(history, "refs/heads", "refs/tags")
    assert refs(history, BACKUP) == {BACKUP + k[5:]: v for k, v in before_refs.items()}
    assert all(now[k] != v for k, v in before_refs.items())
    assert git(history, "cat-file", "-t", "v1").stdout.strip() == "tag"
    assert git(history, "rev-parse", "v1^{commit}").stdout.strip() == after["two"]
    assert "release one" in git(history, "cat-file", "tag", "v1").stdout
    assert git(history, "rev-parse", "v0").stdout.strip() == after["one"]

    # The worktree kept its bytes and git sees nothing to commit; checkouts smudge.
    assert git(history, "status", "--porcelain").stdout == ""
    assert (history / "a.bin").read_bytes() == content("a2", 90_000)
    git(history, "checkout", "-q", "v0")
    assert (history / "a.bin").read_bytes() == content("a1", 70_000)
    assert (history / "data/b.bin").read_bytes() == content("b1")
    git(history, "checkout", "-q", "main")

    # export puts the content back: the very same commits, tags and trees as before.
    proc = datavc(history, "migrate", "export", "--include=*.bin", "--everything", "--force")
    assert "pointers at 3 paths became content" in proc.stdout
    assert refs(history, "refs/heads", "refs/tags") == before_refs
    assert not (history / ".gitattributes").exists()
    assert git(history, "status", "--porcelain").stdout == ""


def test_info_counts_types_and_paths(history: Path) -> None:
    out = datavc(history, "migrate", "info", "--everything").stdout
    assert "4 commits" in out
    bin_line = next(line for line in out.splitlines() if line.strip().startswith("*.bin"))
    # a.bin twice (70,000 + 90,000), data/b.bin twice, sp ace.bin once, empty.bin: 6 blobs.
    total = 70_000 + 90_000 + 5000 * 3
    assert f"{total / 1024:.1f} KiB" in bin_line and "6 blobs at 4 paths" in bin_line
    narrowed = datavc(history, "migrate", "info", "-I", "data/**").stdout
    assert "data/b.bin" in narrowed and "a.bin" not in narrowed


def test_include_exclude_and_only_the_current_branch(history: Path) -> None:
    topic = git(history, "rev-parse", "topic").stdout.strip()
    datavc(history, "migrate", "import", "-I", "*.bin,*.dat", "-X", "data/**")
    assert git(history, "rev-parse", "topic").stdout.strip() == topic   # not asked for
    assert blob(history, "HEAD:data/b.bin") == content("b2")
    parse_pointer(blob(history, "HEAD:x.dat"))
    parse_pointer(blob(history, "HEAD:a.bin"))
    attrs = blob(history, "HEAD:.gitattributes").decode().splitlines()
    assert attrs == ["*.bin filter=datavc diff=datavc merge=datavc -text",
                     "*.dat filter=datavc diff=datavc merge=datavc -text",
                     "data/** !filter !diff !merge !text"]
    assert git(history, "status", "--porcelain").stdout == ""


def test_published_history_needs_yes(history: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(history, "remote", "add", "origin", str(remote))
    git(history, "push", "-q", "origin", "main")
    pushed = git(history, "rev-parse", "main").stdout.strip()
    write(history, "new.bin", content("new"))
    commit_all(history, "unpushed")
    before = refs(history)

    proc = datavc(history, "migrate", "import", "--include=*.bin", check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: this rewrites 4 commit(s) that are already on a remote")
    assert "--yes" in lines[1] and "Traceback" not in proc.stderr
    assert refs(history) == before

    # Rewriting only what is not pushed needs no --yes, and keeps the pushed commits.
    datavc(history, "migrate", "import", "--include=*.bin", "main", "^origin/main")
    assert git(history, "rev-parse", "main^").stdout.strip() == pushed
    parse_pointer(blob(history, "main:new.bin"))
    assert blob(history, "main^:a.bin") == content("a2", 90_000)

    datavc(history, "migrate", "import", "--include=*.bin", "--yes", "-f")
    parse_pointer(blob(history, "main^:a.bin"))
    assert git(history, "rev-parse", "origin/main").stdout.strip() == pushed


def test_refusals_change_nothing(history: Path) -> None:
    before = refs(history)
    write(history, "t.txt", b"edited\n")
    proc = datavc(history, "migrate", "import", "--include=*.bin", check=False)
    assert proc.returncode == 1 and "uncommitted changes" in proc.stderr
    git(history, "checkout", "--", "t.txt")
    proc = datavc(history, "migrate", "import", check=False)
    assert proc.returncode == 2 and "--include" in proc.stderr
    proc = datavc(history, "migrate", "import", "-I", "*.bin", "origin/nope", check=False)
    assert proc.returncode == 2 and "not a local branch or tag" in proc.stderr
    assert refs(history) == before

    datavc(history, "migrate", "import", "--include=*.bin")
    proc = datavc(history, "migrate", "export", "--include=*.bin", check=False)
    assert proc.returncode == 1 and "backup refs" in proc.stderr


def test_a_failure_midway_leaves_every_ref_as_it_was(history: Path) -> None:
    """A pointer whose object is not in the cache stops the export after the commits before
    it went to fast-import: no ref moved, no backup, no scratch ref."""
    datavc(history, "migrate", "import", "--include=*.bin", "--everything")
    listing = git(history, "for-each-ref", "--format=delete %(refname)", BACKUP).stdout
    git(history, "update-ref", "--stdin", input=listing.encode())
    oid, _ = parse_pointer(blob(history, "v0:a.bin"))    # in no worktree file either
    victim = cache_object(history, oid)
    victim.chmod(0o644)
    victim.unlink()
    before = refs(history)
    proc = datavc(history, "migrate", "export", "--include=*.bin", "--everything", check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: a.bin: object {oid[:12]} is not in the cache"]
    assert "Traceback" not in proc.stderr
    assert "git datavc fetch --all-commits" in proc.stderr
    assert refs(history) == before
    assert refs(history, "refs/datavc/") == {}


def test_a_killed_import_leaves_every_ref_as_it_was(tmp_path: Path) -> None:
    repo = tmp_path / "big"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(40):
        write(repo, "m.bin", content(f"m{i}", 1 << 20))
        commit_all(repo, f"c{i}")
    before = refs(repo)
    # git-datavc itself, not `git datavc`: SIGKILL must hit the process doing the work.
    proc = subprocess.Popen(["git-datavc", "migrate", "import", "-I", "*.bin"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    objects = repo / ".git" / "datavc" / "cache"    # objects written so far (tmp/ included)
    deadline = time.monotonic() + 60
    while sum(len(files) for _, _, files in os.walk(objects)) < 3 \
            and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    assert proc.poll() is None, "migrate finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)    # its git children see the pipes close and exit
    assert refs(repo) == before
    assert git(repo, "status", "--porcelain").stdout == ""
    # Run again: it completes.
    datavc(repo, "migrate", "import", "-I", "*.bin")
    assert cache_object(repo, parse_pointer(blob(repo, "main~7:m.bin"))[0]).read_bytes() \
        == content("m32", 1 << 20)


def test_from_lfs_converts_a_real_git_lfs_repository(tmp_path: Path) -> None:
    assert shutil.which("git-lfs"), "git-lfs must be installed for this test"
    repo = tmp_path / "lfs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "lfs", "install", "--local")
    git(repo, "lfs", "track", "*.bin")
    write(repo, "m.bin", content("m1", 40_000))
    write(repo, "plain.txt", b"plain\n")
    commit_all(repo, "one")
    git(repo, "checkout", "-q", "-b", "exp")
    write(repo, "m.bin", content("m2", 30_000))
    write(repo, "d/n.bin", content("n1"))
    # A rule in a deeper .gitattributes, as some repositories have (git lfs track writes
    # only the root one).
    write(repo, "d/.gitattributes", b"*.dat filter=lfs diff=lfs merge=lfs -text\n")
    write(repo, "d/y.dat", content("y1"))
    commit_all(repo, "two")
    git(repo, "checkout", "-q", "main")
    assert blob(repo, "exp:m.bin").startswith(b"version https://git-lfs.github.com/spec/v1")
    datavc(repo, "init")

    out = datavc(repo, "migrate", "info", "--everything").stdout
    assert "Git LFS pointers: 4" in out
    proc = datavc(repo, "migrate", "import", "--from-lfs", "--everything")
    assert "4 Git LFS pointers became datavc pointers" in proc.stdout

    expected = {"main": {"m.bin": content("m1", 40_000)},
                "exp": {"m.bin": content("m2", 30_000), "d/n.bin": content("n1"),
                        "d/y.dat": content("y1")}}
    assert blob(repo, "exp:d/.gitattributes") == \
        b"*.dat filter=datavc diff=datavc merge=datavc -text\n"
    for branch, files in expected.items():
        attrs = blob(repo, f"{branch}:.gitattributes").decode()
        assert attrs == "*.bin filter=datavc diff=datavc merge=datavc -text\n"
        for path, data in files.items():
            oid, size = parse_pointer(blob(repo, f"{branch}:{path}"))
            assert size == len(data) and cache_object(repo, oid).read_bytes() == data
            lfs_oid = hashlib.sha256(data).hexdigest()
            assert (repo / ".git/lfs/objects" / lfs_oid[:2] / lfs_oid[2:4] / lfs_oid).exists()
    assert blob(repo, "main:plain.txt") == b"plain\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no").stdout == ""
    git(repo, "checkout", "-q", "exp")
    assert (repo / "d/n.bin").read_bytes() == content("n1")
    assert (repo / "m.bin").read_bytes() == content("m2", 30_000)


def test_from_lfs_with_a_missing_lfs_object_changes_no_ref(tmp_path: Path) -> None:
    repo = tmp_path / "lfs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "lfs", "install", "--local")
    git(repo, "lfs", "track", "*.bin")
    write(repo, "m.bin", content("m1"))
    commit_all(repo, "one")
    write(repo, "m.bin", content("m2"))
    commit_all(repo, "two")
    lfs_oid = hashlib.sha256(content("m1")).hexdigest()   # not in the worktree either
    (repo / ".git/lfs/objects" / lfs_oid[:2] / lfs_oid[2:4] / lfs_oid).unlink()
    before = refs(repo)
    proc = datavc(repo, "migrate", "import", "--from-lfs", check=False)
    assert proc.returncode == 1
    assert f"m.bin: Git LFS object {lfs_oid[:12]} is not in" in proc.stderr
    assert "git lfs fetch --all" in proc.stderr
    assert refs(repo) == before and refs(repo, "refs/datavc/") == {}


def test_another_worktree_on_a_rewritten_branch_is_told_how_to_catch_up(history: Path,
                                                                       tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(history, "worktree", "add", "-q", str(other), "topic")
    proc = datavc(history, "migrate", "import", "-I", "*.bin", "--everything")
    assert f"warning: refs/heads/topic is checked out in {other} too" in proc.stderr
    assert "git read-tree HEAD && git checkout HEAD -- .gitattributes && git update-index" \
        in proc.stderr
    git(other, "read-tree", "HEAD")
    git(other, "checkout", "HEAD", "--", ".gitattributes")
    git(other, "update-index", "-q", "--refresh", check=False)
    assert git(other, "status", "--porcelain").stdout == ""
    assert git(history, "status", "--porcelain").stdout == ""
