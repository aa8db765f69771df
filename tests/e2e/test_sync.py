"""Remotes end to end (DESIGN.md sections 2, 3, 7, 8; issue 5): `remote add|list|default|
modify|remove`, `push`/`fetch`/`pull`/`status --remote` against a local directory, moto's S3
server and OpenSSH's sshd on 127.0.0.1, fresh clones that get their data through smudge,
the pre-push hook, faults (a corrupt object, a server killed during a push, bad settings)
and `gc` with and without `--cloud`. Real git, real `git datavc` processes, real servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import blake3
import pytest

from tests.helpers import cache_object, datavc, git
from tests.servers import (MotoServer, SSHServer, aws_env, free_port,  # noqa: F401
                           moto_server, sshd_server, start_moto_with_auth)

pytestmark = pytest.mark.usefixtures("aws_env")
NAME = "store"          # the data remote every test configures
S3_PREFIX = "pre"


# --- data ------------------------------------------------------------------------------

def content(seed: str, size: int = 3000) -> bytes:
    """Deterministic pseudo-random bytes, different for every seed."""
    return blake3.blake3(seed.encode()).digest(length=size)


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def write(repo: Path, rel: str, data: bytes) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


FILES = {"a.bin": content("a"), "models/m.bin": content("m", 20000)}      # filter mode
DATA = {"data/f1": content("f1"), "data/f2": content("f2"), "data/sub/f3": content("f3")}


def dir_oid(repo: Path, metafile: str) -> str:
    match = re.search(r"blake3: ([0-9a-f]{64}\.dir)", (repo / metafile).read_text())
    assert match, (repo / metafile).read_text()
    return match.group(1)


def populate(repo: Path) -> set[str]:
    """Commit two filter-tracked files and a metafile-tracked directory; returns every
    object id they need (the directory's manifest included)."""
    for rel, data in {**FILES, **DATA}.items():
        write(repo, rel, data)
    datavc(repo, "add", "data")
    commit_all(repo, "data")
    return {b3(d) for d in (*FILES.values(), *DATA.values())} | {dir_oid(repo, "data.datavc")}


def read_files(root: Path, rels: dict[str, bytes]) -> dict[str, bytes | None]:
    return {rel: (root / rel).read_bytes() if (root / rel).is_file() else None for rel in rels}


def in_cache(repo: Path, *oids: str) -> list[bool]:
    return [cache_object(repo, oid).is_file() for oid in oids]


def cache_tmp_leftovers(repo: Path) -> list[str]:
    tmp = repo / ".git" / "datavc" / "cache" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


# --- remotes ---------------------------------------------------------------------------

@dataclass
class Store:
    """A data remote: the URL committed in .datavc/config, the per-clone settings that go in
    .datavc/config.local, and a way to see what objects it holds."""

    kind: str
    url: str
    settings: dict[str, str] = field(default_factory=dict)   # full keys: remote.store.X
    root: Path | None = None            # local and SSH: the directory holding files/
    server: MotoServer | None = None
    bucket: str = ""

    def oids(self) -> set[str]:
        if self.kind == "s3":
            assert self.server is not None
            start = f"{S3_PREFIX}/files/blake3/"
            pages = self.server.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start)
            return {o["Key"][len(start):].replace("/", "", 1)
                    for page in pages for o in page.get("Contents", ())}
        assert self.root is not None
        base = self.root / "files" / "blake3"
        return {p.parent.name + p.name for p in base.rglob("*") if p.is_file()} \
            if base.is_dir() else set()

    def object_path(self, oid: str) -> Path:
        assert self.root is not None
        return self.root / "files" / "blake3" / oid[:2] / oid[2:]


def local_store(tmp_path: Path) -> Store:
    return Store("local", str(tmp_path / "store"), root=tmp_path / "store")


def s3_store(server: MotoServer, bucket: str = "") -> Store:
    if not bucket:
        bucket = f"test-{uuid.uuid4().hex[:12]}"
        server.make_bucket(bucket)
    values = server.remote_values(NAME, f"s3://{bucket}/{S3_PREFIX}")
    url = values.pop(f"remote.{NAME}.url")
    return Store("s3", url, values, server=server, bucket=bucket)


def ssh_store(server: SSHServer, tmp_path: Path) -> Store:
    values = server.remote_values(NAME, tmp_path / "store")
    url = values.pop(f"remote.{NAME}.url")
    return Store("ssh", url, values, root=tmp_path / "store")


@pytest.fixture(params=["local", "s3", "ssh"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Each kind of remote; the servers start only for the tests that use them."""
    if request.param == "s3":
        return s3_store(request.getfixturevalue("moto_server"))
    if request.param == "ssh":
        return ssh_store(request.getfixturevalue("sshd_server"), tmp_path)
    return local_store(tmp_path)


@pytest.fixture
def local(tmp_path: Path) -> Store:
    return local_store(tmp_path)


def write_local(repo: Path, store: Store) -> None:
    """The store's endpoint, credentials and keys into .datavc/config.local."""
    (repo / ".datavc").mkdir(exist_ok=True)
    for key, value in store.settings.items():
        git(repo, "config", "-f", ".datavc/config.local", key, value)


def connect(repo: Path, store: Store) -> None:
    """`remote add -d` the store, its local settings in config.local, commit .datavc/."""
    datavc(repo, "remote", "add", "-d", NAME, store.url)
    write_local(repo, store)
    git(repo, "add", ".datavc")
    git(repo, "commit", "-q", "-m", "data remote")


def clone(source: Path, store: Store, name: str = "clone") -> tuple[Path, str]:
    """`git clone` of `source` beside it, with the store's local settings written before
    the checkout (as a user would); returns the clone and the checkout's packet trace."""
    dest = source.parent / name
    git(source.parent, "clone", "-q", "--no-checkout", str(source), name)
    write_local(dest, store)
    trace = git(dest, "checkout", "-q", "main", env={"GIT_TRACE_PACKET": "1"}).stderr
    return dest, trace


def status_remote(repo: Path) -> dict[str, list[str]]:
    report = json.loads(datavc(repo, "status", "--remote", "--json").stdout)
    return {key: report[key] for key in ("not_in_cache", "not_on_remote")}


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 1 with exactly one `error:` line (naming `words`) and no traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


# --- remote add / list / default / modify / remove ---------------------------------------

def config_get(repo: Path, name: str, key: str) -> str:
    return git(repo, "config", "-f", f".datavc/{name}", "--get", key, check=False).stdout.strip()


def test_remote_add_list_default_modify_remove(repo: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    datavc(repo, "remote", "add", "-d", NAME, path)
    datavc(repo, "remote", "add", "backup", "s3://bucket/prefix")
    assert config_get(repo, "config", "core.remote") == NAME
    assert config_get(repo, "config", f"remote.{NAME}.url") == path
    assert config_get(repo, "config", "remote.backup.url") == "s3://bucket/prefix"
    assert datavc(repo, "remote", "list").stdout.splitlines() == [
        "backup\ts3://bucket/prefix", f"{NAME}\t{path}  (default)"]
    assert datavc(repo, "remote", "default").stdout.strip() == NAME

    datavc(repo, "remote", "default", "backup")
    assert config_get(repo, "config", "core.remote") == "backup"
    datavc(repo, "remote", "modify", "backup", "endpointurl", "http://127.0.0.1:9")
    datavc(repo, "remote", "modify", "backup", "jobs", "7")
    assert config_get(repo, "config", "remote.backup.endpointurl") == "http://127.0.0.1:9"
    assert config_get(repo, "config", "remote.backup.jobs") == "7"
    datavc(repo, "remote", "modify", "--local", "backup", "accesskeyid", "AKIDLOCAL")
    assert config_get(repo, "config.local", "remote.backup.accesskeyid") == "AKIDLOCAL"
    assert config_get(repo, "config", "remote.backup.accesskeyid") == ""
    git(repo, "check-ignore", "-q", ".datavc/config.local")    # never committed

    before = (repo / ".datavc" / "config").read_text()
    for key in ("secretaccesskey", "accesskeyid"):
        result = datavc(repo, "remote", "modify", "backup", key, "s3cr3t", check=False)
        assert_one_line_error(result, key)
        assert "--local" in result.stderr
    assert (repo / ".datavc" / "config").read_text() == before
    assert datavc(repo, "remote", "modify", "backup", "nosuchkey", "x",
                  check=False).returncode == 2
    assert_one_line_error(datavc(repo, "remote", "modify", "nosuch", "jobs", "2", check=False),
                          "nosuch")
    assert_one_line_error(datavc(repo, "remote", "add", NAME, path, check=False), NAME)

    datavc(repo, "remote", "remove", "backup")
    assert config_get(repo, "config", "remote.backup.url") == ""
    assert config_get(repo, "config.local", "remote.backup.accesskeyid") == ""
    assert config_get(repo, "config", "core.remote") == ""      # it was the default
    assert datavc(repo, "remote", "list").stdout.splitlines() == [f"{NAME}\t{path}"]
    assert_one_line_error(datavc(repo, "remote", "remove", "backup", check=False), "backup")


MALFORMED = [
    "s3:/bucket/x",              # one slash: not a URL, and not a path either
    "host:some/path",            # scp syntax
    "ssh:///data",               # no host
    "ftp://example.com/data",    # unknown scheme
    "file://otherhost/data",     # file:// naming a host
    "s3://Not_A_Bucket!/x",      # no valid bucket name
    "s3://bucket/x?versionId=1",
]


def test_malformed_urls_are_refused_on_add(repo: Path) -> None:
    before = (repo / ".datavc" / "config").read_text()
    for url in MALFORMED:
        assert_one_line_error(datavc(repo, "remote", "add", "-d", NAME, url, check=False))
        assert (repo / ".datavc" / "config").read_text() == before, url
    assert datavc(repo, "remote", "list").stdout == ""


def test_a_credential_in_the_committed_config_stops_every_command(repo: Path,
                                                                  local: Store) -> None:
    populate(repo)
    connect(repo, local)
    git(repo, "config", "-f", ".datavc/config", f"remote.{NAME}.secretaccesskey", "s3cr3t")
    for command in (["push"], ["fetch"], ["pull"], ["status", "--remote"], ["remote", "list"]):
        result = datavc(repo, *command, check=False)
        assert_one_line_error(result, f"remote.{NAME}.secretaccesskey")
        assert "config.local" in result.stderr
    assert local.oids() == set()


def test_ssh_host_key_settings_through_remote_modify(repo: Path, tmp_path: Path) -> None:
    """The SSH remote reads `knownhostsfile` and `stricthostkeychecking`, and its own
    "not a known host" hint tells the user to set the latter: `remote modify` must take them."""
    datavc(repo, "remote", "add", "-d", NAME, f"ssh://git@127.0.0.1:2222{tmp_path / 'store'}")
    known = str(tmp_path / "known_hosts")
    datavc(repo, "remote", "modify", "--local", NAME, "stricthostkeychecking", "accept-new")
    datavc(repo, "remote", "modify", "--local", NAME, "knownhostsfile", known)
    assert config_get(repo, "config.local", f"remote.{NAME}.stricthostkeychecking") == \
        "accept-new"
    assert config_get(repo, "config.local", f"remote.{NAME}.knownhostsfile") == known


# --- push, clone, pull -------------------------------------------------------------------

def test_push_then_a_fresh_clone_gets_everything(repo: Path, store: Store) -> None:
    connect(repo, store)
    needed = populate(repo)
    assert status_remote(repo) == {
        "not_in_cache": [],
        "not_on_remote": ["a.bin", "data", "data/f1", "data/f2", "data/sub/f3", "models/m.bin"]}
    if store.kind == "local":
        text = datavc(repo, "status", "--remote").stdout
        assert "git datavc push" in text and "    models/m.bin" in text, text

    first = datavc(repo, "push", "-j", "4")
    assert f"push {len(needed)} objects" in first.stderr, first.stderr
    assert store.oids() == needed
    assert status_remote(repo) == {"not_in_cache": [], "not_on_remote": []}
    again = datavc(repo, "push")
    assert "push 0 objects" in again.stderr and f"{len(needed)} already there" in again.stderr

    copy, trace = clone(repo, store)
    assert "status=delayed" in trace        # smudge delayed the missing objects: one batch
    assert read_files(copy, FILES) == FILES
    assert git(copy, "status", "--porcelain").stdout == ""
    lacking = status_remote(copy)["not_in_cache"]    # the files below need the manifest first
    assert "data" in lacking and all(p.startswith("data") for p in lacking), lacking

    pulled = datavc(copy, "pull")
    assert "fetch 4 objects" in pulled.stderr, pulled.stderr
    assert read_files(copy, DATA) == DATA
    assert git(copy, "status", "--porcelain").stdout == ""
    assert status_remote(copy) == {"not_in_cache": [], "not_on_remote": []}
    datavc(copy, "verify")


def test_a_second_push_reads_no_pointer_blob_again(repo: Path, local: Store,
                                                   tmp_path: Path) -> None:
    connect(repo, local)
    for v in ("v1", "v2"):
        write(repo, "a.bin", content(v))
        write(repo, "notes.txt", f"plain text {v}\n".encode())   # small, not a pointer
        commit_all(repo, v)

    def push() -> tuple[str, str]:
        trace = tmp_path / "trace"
        trace.unlink(missing_ok=True)
        result = datavc(repo, "push", "--all-commits", env={"GIT_TRACE": str(trace)})
        return result.stderr, trace.read_text()

    out, trace = push()
    assert "cat-file --buffer --batch" in trace, trace
    assert local.oids() == {b3(content("v1")), b3(content("v2"))}
    out, trace = push()
    assert "cat-file" not in trace, trace       # every blob of history was remembered
    assert "push 0 objects" in out and "2 already there" in out, out

    write(repo, "a.bin", content("v3"))
    commit_all(repo, "v3")
    out, trace = push()
    assert "push 1 objects" in out and trace.count("cat-file") == 2, (out, trace)
    assert b3(content("v3")) in local.oids()


def test_push_scopes_tags_branches_and_history(repo: Path, local: Store) -> None:
    connect(repo, local)
    versions = {v: content(f"a-{v}") for v in ("v0", "v1", "v2")}
    for v, data in versions.items():
        write(repo, "a.bin", data)
        commit_all(repo, v)
        if v == "v1":
            git(repo, "tag", "-a", "-m", "release", "v1")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "f.bin", content("feature"))
    commit_all(repo, "feature")
    git(repo, "checkout", "-q", "main")
    oid = {k: b3(d) for k, d in {**versions, "f": content("feature")}.items()}

    datavc(repo, "push")
    assert local.oids() == {oid["v2"]}
    datavc(repo, "push", "--all-tags")
    assert local.oids() == {oid["v2"], oid["v1"]}
    datavc(repo, "push", "--all-branches")
    assert local.oids() == {oid["v2"], oid["v1"], oid["f"]}
    datavc(repo, "push", "--all-commits")
    assert local.oids() == set(oid.values())

    copy, _ = clone(repo, local)
    assert (copy / "a.bin").read_bytes() == versions["v2"]
    git(copy, "checkout", "-q", "HEAD~2")
    assert (copy / "a.bin").read_bytes() == versions["v0"]
    git(copy, "checkout", "-q", "feature")
    assert (copy / "f.bin").read_bytes() == content("feature")
    assert git(copy, "status", "--porcelain").stdout == ""


def test_push_and_fetch_of_targets(repo: Path, local: Store) -> None:
    connect(repo, local)
    populate(repo)
    manifest = dir_oid(repo, "data.datavc")
    datavc(repo, "push", "data")
    assert local.oids() == {b3(d) for d in DATA.values()} | {manifest}
    datavc(repo, "push", "models/m.bin")
    assert b3(FILES["models/m.bin"]) in local.oids()
    assert b3(FILES["a.bin"]) not in local.oids()
    assert_one_line_error(datavc(repo, "push", "nothing-here", check=False))

    lost = [b3(FILES["models/m.bin"]), b3(DATA["data/f1"])]
    for oid in lost:
        cache_object(repo, oid).unlink()
    datavc(repo, "fetch", "models")
    assert cache_object(repo, lost[0]).is_file() and not cache_object(repo, lost[1]).exists()
    datavc(repo, "fetch", "data.datavc")
    assert cache_object(repo, lost[1]).read_bytes() == DATA["data/f1"]


def test_checkout_fetches_missing_metafile_data_through_the_hook(repo: Path,
                                                                 local: Store) -> None:
    connect(repo, local)
    populate(repo)
    git(repo, "checkout", "-q", "-b", "next")
    write(repo, "data/f1", content("f1-next"))
    datavc(repo, "add", "data")
    commit_all(repo, "data v2")
    datavc(repo, "push", "--all-branches")
    git(repo, "checkout", "-q", "main")
    assert (repo / "data" / "f1").read_bytes() == DATA["data/f1"]
    manifest = re.search(r"[0-9a-f]{64}\.dir", git(repo, "show", "next:data.datavc").stdout)
    assert manifest
    lost = [b3(content("f1-next")), manifest[0]]     # next's new file and its manifest
    for oid in lost:
        cache_object(repo, oid).unlink()

    git(repo, "checkout", "-q", "next")     # post-checkout fetches what the cache lacks
    assert (repo / "data" / "f1").read_bytes() == content("f1-next")
    assert in_cache(repo, *lost) == [True, True]
    assert "up to date" in datavc(repo, "status").stdout


# --- pre-push -------------------------------------------------------------------------------

@pytest.fixture
def bare(repo: Path, tmp_path: Path) -> Path:
    """A bare git remote `origin` of `repo`."""
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    return tmp_path / "origin.git"


def ref_of(bare: Path, ref: str = "refs/heads/main") -> str:
    return git(bare, "rev-parse", "-q", "--verify", ref, check=False).stdout.strip()


def test_git_push_pushes_the_data_before_the_refs(repo: Path, bare: Path, local: Store) -> None:
    connect(repo, local)
    needed = populate(repo)
    # The bare repository records, while it receives the refs, what the data remote holds.
    seen = bare / "seen"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nfind '{local.root}/files' -type f | wc -l > '{seen}'\n")
    hook.chmod(0o755)

    result = git(repo, "push", "-q", "origin", "main")
    assert f"pushed {len(needed)} objects to {NAME}" in result.stderr, result.stderr
    assert local.oids() == needed
    assert int(seen.read_text()) == len(needed)
    assert ref_of(bare) == git(repo, "rev-parse", "HEAD").stdout.strip()

    write(repo, "a.bin", content("a-2"))
    commit_all(repo, "a.bin v2")
    result = git(repo, "push", "-q", "origin", "main")
    assert f"pushed 1 objects to {NAME}" in result.stderr, result.stderr
    assert b3(content("a-2")) in local.oids()

    copy, _ = clone(bare, local)        # a clone of what was pushed is complete
    assert (copy / "a.bin").read_bytes() == content("a-2")
    datavc(copy, "pull")
    assert read_files(copy, DATA) == DATA


@pytest.mark.parametrize("fault", ["remote-path-is-a-file", "s3-server-stopped"])
def test_a_failing_data_push_stops_git_push(repo: Path, bare: Path, tmp_path: Path,
                                            fault: str) -> None:
    server = None
    if fault == "s3-server-stopped":
        (tmp_path / "moto").mkdir()
        server = MotoServer(tmp_path / "moto")
        server.start()
        data_remote = s3_store(server)
    else:
        data_remote = local_store(tmp_path)
    try:
        connect(repo, data_remote)
        populate(repo)
        if server is not None:
            server.stop()
        else:
            assert data_remote.root is not None
            data_remote.root.write_text("not a directory\n")
        result = git(repo, "push", "origin", "main", check=False)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        ours = [line for line in result.stderr.splitlines() if "git push stopped" in line]
        assert len(ours) == 1, result.stderr
        assert ("cannot reach" if server else "Not a directory") in ours[0], ours[0]
        hints = [line for line in result.stderr.splitlines() if line.startswith("hint:")]
        assert any("DATAVC_SKIP_PUSH=1 git push" in h and re.search("again|rerun|retry", h)
                   for h in hints), hints
        assert ref_of(bare) == ""                        # the refs did not land

        skipped = git(repo, "push", "-q", "origin", "main", env={"DATAVC_SKIP_PUSH": "1"})
        assert "Traceback" not in skipped.stderr
        assert ref_of(bare) == git(repo, "rev-parse", "HEAD").stdout.strip()
    finally:
        if server is not None:
            server.stop()


def test_git_push_without_a_default_data_remote(repo: Path, bare: Path) -> None:
    populate(repo)
    result = git(repo, "push", "-q", "origin", "main")
    assert "no data was pushed" in result.stderr, result.stderr
    assert ref_of(bare) == git(repo, "rev-parse", "HEAD").stdout.strip()


# --- faults ---------------------------------------------------------------------------------

def test_a_directory_manifest_goes_last_and_vouches_for_its_files(repo: Path,
                                                                  store: Store) -> None:
    connect(repo, store)
    populate(repo)
    manifest, f1, f2 = dir_oid(repo, "data.datavc"), b3(DATA["data/f1"]), b3(DATA["data/f2"])
    saved = cache_object(repo, f2).read_bytes()
    cache_object(repo, f2).unlink()          # one file of the directory cannot be pushed

    result = datavc(repo, "push", check=False)
    assert_one_line_error(result, "could not push 2 of 6 objects")
    assert manifest not in store.oids() and f1 in store.oids()   # files first, manifest last

    cache_object(repo, f2).write_bytes(saved)
    rerun = datavc(repo, "push")
    assert "push 2 objects" in rerun.stderr, rerun.stderr       # f2, then the manifest
    assert {manifest, f1, f2} <= store.oids()

    if store.kind == "s3":
        return      # deleting behind the manifest's back: the local and SSH stores show it
    assert store.root is not None
    store.object_path(f1).unlink()          # lost behind the manifest's back
    trusted = datavc(repo, "push")
    assert "push 0 objects" in trusted.stderr, trusted.stderr    # the manifest vouched
    assert status_remote(repo)["not_on_remote"] == ["data/f1"]  # status checks every file
    repaired = datavc(repo, "push", "--check-all")
    assert "push 1 objects" in repaired.stderr, repaired.stderr
    assert f1 in store.oids() and status_remote(repo)["not_on_remote"] == []


def test_pull_from_a_remote_that_is_gone_names_the_remote(repo: Path, local: Store) -> None:
    connect(repo, local)
    populate(repo)
    datavc(repo, "push")
    assert local.root is not None
    local.root.rename(local.root.with_name("moved"))
    copy, _ = clone(repo, local)        # filter-mode files stay pointers, with warnings
    datavc(copy, "install")
    result = datavc(copy, "pull", check=False)
    line = assert_one_line_error(result, "could not pull", "does not exist")
    assert str(local.root) in line      # the cause, not "not in the cache" from the checkout


def test_a_clone_without_its_data_warns_about_a_few_files_then_counts(repo: Path,
                                                                      local: Store) -> None:
    connect(repo, local)
    files = {f"many/f{i:02}.bin": content(f"many{i}") for i in range(25)}
    for rel, data in files.items():
        write(repo, rel, data)
    commit_all(repo, "25 files")
    datavc(repo, "push")
    assert local.root is not None
    local.root.rename(local.root.with_name("moved"))

    copy, trace = clone(repo, local)
    warnings = [line for line in trace.splitlines() if line.startswith("warning:")]
    assert sum("checked out the pointer instead" in w for w in warnings) == 10, trace
    assert any("15 more files checked out as pointers" in w for w in warnings), trace
    assert len(warnings) <= 12, trace       # + the one about the remote itself

    # Pointers on purpose (like GIT_LFS_SKIP_SMUDGE): no warning at all.
    quiet = git(repo.parent, "clone", "-q", str(repo), "quiet", env={"DATAVC_SKIP_SMUDGE": "1"})
    assert "warning" not in quiet.stderr, quiet.stderr
    pointer = (repo.parent / "quiet" / "many" / "f00.bin").read_bytes()
    assert pointer.startswith(b"version: datavc/1"), pointer


def test_a_corrupt_object_on_the_remote_never_enters_a_cache(repo: Path, local: Store) -> None:
    connect(repo, local)
    populate(repo)
    datavc(repo, "push")
    bad, good = b3(FILES["a.bin"]), b3(FILES["models/m.bin"])
    path = local.object_path(bad)
    path.chmod(0o644)
    flipped = bytearray(path.read_bytes())
    flipped[100] ^= 0xFF
    path.write_bytes(bytes(flipped))
    for oid in (bad, good):
        cache_object(repo, oid).unlink()

    result = datavc(repo, "fetch", check=False)
    assert_one_line_error(result, "corrupt")
    assert not cache_object(repo, bad).exists()
    assert cache_object(repo, good).read_bytes() == FILES["models/m.bin"]
    assert cache_tmp_leftovers(repo) == []
    assert (repo / "a.bin").read_bytes() == FILES["a.bin"]     # the workspace is untouched
    datavc(repo, "verify")

    # A clone's checkout keeps going: the pointer stays, warnings say why and name the path.
    copy, trace = clone(repo, local)
    warnings = [line for line in trace.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, trace
    assert "corrupt" in warnings[0] and "a.bin" in warnings[1], trace
    assert (copy / "a.bin").read_bytes().startswith(b"version: datavc/1\n")
    assert (copy / "models" / "m.bin").read_bytes() == FILES["models/m.bin"]
    assert not cache_object(copy, bad).exists()
    datavc(copy, "verify")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real filesystem that fills up (mounting it needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:     # root in a container without the right to mount
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def commit_big_dir(repo: Path, store: Store) -> dict[str, bytes]:
    """Connect `store`, then add and commit big/: six 1 MiB files, more than a 4 MiB disk
    holds."""
    big = {f"big/f{i}": content(f"big{i}", 1 << 20) for i in range(6)}
    connect(repo, store)
    for rel, data in big.items():
        write(repo, rel, data)
    datavc(repo, "add", "big")
    commit_all(repo, "big")
    return big


def test_a_full_disk_while_fetching_leaves_nothing_partial(repo: Path, local: Store,
                                                            small_disk: Path) -> None:
    big = commit_big_dir(repo, local)
    datavc(repo, "push")

    copy = repo.parent / "copy"
    git(repo.parent, "clone", "-q", "--no-checkout", str(repo), "copy")
    write_local(copy, local)
    cache_dir = small_disk / "cache"
    git(copy, "config", "-f", ".datavc/config.local", "cache.dir", str(cache_dir))
    git(copy, "checkout", "-q", "main")
    result = datavc(copy, "pull", check=False)
    assert_one_line_error(result, "the cache in", "No space left on device")
    # What reached the cache is whole and verified; no temp file is left behind.
    objects = [p for p in (cache_dir / "files").rglob("*") if p.is_file()]
    assert 0 < len(objects) < len(big) + 1, objects
    for path in objects:
        got = blake3.blake3(path.read_bytes()).hexdigest()
        assert path.parent.name + path.name == got or path.name.endswith(".dir"), path
    tmp = cache_dir / "tmp"
    assert not tmp.is_dir() or list(tmp.iterdir()) == []
    # The workspace holds no partial file: each data file is there whole, or not at all.
    for rel, data in big.items():
        assert not (copy / rel).exists() or (copy / rel).read_bytes() == data, rel

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    rerun = datavc(copy, "pull")
    assert "fetch" in rerun.stderr, rerun.stderr
    assert read_files(copy, big) == big
    assert git(copy, "status", "--porcelain").stdout == ""
    datavc(copy, "verify")


def test_a_full_remote_disk_while_pushing_leaves_nothing_partial(repo: Path,
                                                                 small_disk: Path) -> None:
    store = Store("local", str(small_disk / "store"), root=small_disk / "store")
    big = commit_big_dir(repo, store)

    result = datavc(repo, "push", check=False)
    assert_one_line_error(result, "No space left on device")
    # What is on the remote is whole; nothing is left in flight; the manifest, which
    # vouches for all the files, is not there.
    manifest = dir_oid(repo, "big.datavc")
    on_remote = store.oids()
    assert manifest not in on_remote
    for oid in on_remote:
        assert b3(store.object_path(oid).read_bytes()) == oid
    tmp = small_disk / "store" / "tmp"
    assert not tmp.is_dir() or list(tmp.iterdir()) == []

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    datavc(repo, "push")
    assert store.oids() == {b3(d) for d in big.values()} | {manifest}


def test_s3_server_killed_in_the_middle_of_a_push(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "moto").mkdir()
    server = MotoServer(tmp_path / "moto")
    server.start()
    try:
        data_remote = s3_store(server)
        connect(repo, data_remote)
        for i in range(300):
            write(repo, f"many/{i:03d}", content(f"many-{i}", 2000))
        datavc(repo, "add", "many")
        commit_all(repo, "many")
        needed = {b3(content(f"many-{i}", 2000)) for i in range(300)} | \
            {dir_oid(repo, "many.datavc")}

        pushing = threading.Event()
        pushing.set()
        killed_at: list[int] = []

        def kill_when_some_arrived() -> None:
            client = server.client()
            while pushing.is_set():
                try:
                    count = client.list_objects_v2(Bucket=data_remote.bucket).get("KeyCount", 0)
                except Exception:
                    return
                if count >= 30:
                    killed_at.append(count)
                    server.stop()
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_some_arrived)
        killer.start()
        started = time.monotonic()
        result = datavc(repo, "push", "-j", "2", check=False)
        pushing.clear()
        killer.join()
        assert killed_at, "the push ended before the server was stopped"
        assert time.monotonic() - started < 60
        assert_one_line_error(result, "could not push", "cannot reach")

        server.start()              # moto keeps its state in memory: it comes back empty
        server.make_bucket(data_remote.bucket)
        rerun = datavc(repo, "push", "-j", "2")
        assert f"push {len(needed)} objects" in rerun.stderr, rerun.stderr
        assert data_remote.oids() == needed
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A moto server that checks credentials, and a store on it with the right ones."""
    server, key_id, secret = start_moto_with_auth(tmp_path_factory.mktemp("moto-auth"), "secure")
    try:
        yield Store("s3", f"s3://secure/{S3_PREFIX}", {
            f"remote.{NAME}.endpointurl": server.endpoint,
            f"remote.{NAME}.accesskeyid": key_id,
            f"remote.{NAME}.secretaccesskey": secret}, server=server, bucket="secure")
    finally:
        server.stop()


def bad_store(case: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if case == "local-path-is-a-file":
        store = local_store(tmp_path)
        assert store.root is not None
        store.root.write_text("not a directory\n")
        return store
    if case.startswith("ssh-"):
        server: SSHServer = request.getfixturevalue("sshd_server")
        store = ssh_store(server, tmp_path)
        if case == "ssh-unreachable":
            store.url = f"ssh://{server.user}@127.0.0.1:{free_port()}{store.root}"
        else:
            other = tmp_path / "other_key"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                           check=True)
            store.settings[f"remote.{NAME}.keyfile"] = str(other)
        return store
    if case == "s3-wrong-credentials":
        good: Store = request.getfixturevalue("moto_with_auth")
        return Store("s3", good.url, {**good.settings, f"remote.{NAME}.secretaccesskey": "wrong"})
    moto: MotoServer = request.getfixturevalue("moto_server")
    if case == "s3-missing-bucket":
        return s3_store(moto, bucket="no-such-bucket")
    store = s3_store(moto)
    store.settings[f"remote.{NAME}.endpointurl"] = f"http://127.0.0.1:{free_port()}"
    return store


@pytest.mark.parametrize("case, words", [
    ("local-path-is-a-file", ["Not a directory"]),
    ("s3-unreachable", ["cannot reach http://127.0.0.1:"]),
    ("s3-missing-bucket", ["bucket 'no-such-bucket' does not exist"]),
    ("s3-wrong-credentials", ["access denied to s3://"]),
    ("ssh-unreachable", ["cannot connect"]),
    ("ssh-wrong-key", ["SSH authentication failed"]),
])
def test_a_bad_remote_is_a_one_line_error(repo: Path, tmp_path: Path,
                                          request: pytest.FixtureRequest, case: str,
                                          words: list[str]) -> None:
    store = bad_store(case, request, tmp_path)
    connect(repo, store)
    write(repo, "a.bin", FILES["a.bin"])
    commit_all(repo, "a.bin")
    assert_one_line_error(datavc(repo, "push", check=False), *words)

    oid = b3(FILES["a.bin"])
    cache_object(repo, oid).unlink()
    assert_one_line_error(datavc(repo, "fetch", check=False), *words)
    if case != "local-path-is-a-file":      # a listing finds no directory: nothing there
        assert_one_line_error(datavc(repo, "status", "--remote", check=False), *words)
    assert not cache_object(repo, oid).exists() and cache_tmp_leftovers(repo) == []
    assert (repo / "a.bin").read_bytes() == FILES["a.bin"]


# --- gc -------------------------------------------------------------------------------------

def test_gc_keeps_what_refs_and_reflogs_need(repo: Path) -> None:
    v1, v2, v3 = (content(f"gc-{n}") for n in (1, 2, 3))
    write(repo, "a.bin", v1)
    commit_all(repo, "v1")
    write(repo, "a.bin", v2)
    commit_all(repo, "v2")
    write(repo, "a.bin", v3)
    git(repo, "commit", "-q", "-a", "--amend", "-m", "v3")   # v2: only the reflogs know it
    o1, o2, o3 = b3(v1), b3(v2), b3(v3)

    datavc(repo, "gc")
    assert in_cache(repo, o1, o2, o3) == [True, True, True]

    dry = datavc(repo, "gc", "--dry", "-w")
    assert set(dry.stdout.split()) == {o1, o2}
    assert in_cache(repo, o1, o2, o3) == [True, True, True]

    git(repo, "reflog", "expire", "--expire=now", "--all")
    datavc(repo, "gc")
    assert in_cache(repo, o1, o2, o3) == [True, False, True]  # v1 is still in the history
    datavc(repo, "gc", "-w")
    assert in_cache(repo, o1, o2, o3) == [False, False, True]
    assert (repo / "a.bin").read_bytes() == v3
    datavc(repo, "verify")


def test_gc_keeps_stashed_data(repo: Path) -> None:
    write(repo, "a.bin", content("committed"))
    commit_all(repo, "v1")
    write(repo, "a.bin", content("staged"))
    git(repo, "add", "a.bin")
    write(repo, "a.bin", content("work"))
    git(repo, "stash", "-q")
    assert (repo / "a.bin").read_bytes() == content("committed")

    datavc(repo, "gc", "-w")
    assert in_cache(repo, b3(content("staged")), b3(content("work"))) == [True, True]
    git(repo, "stash", "pop", "-q", "--index")
    assert (repo / "a.bin").read_bytes() == content("work")
    assert git(repo, "show", ":a.bin").stdout.startswith("version: datavc/1\n")
    assert git(repo, "diff", "--cached", "--stat").stdout != ""


def test_gc_keeps_data_of_another_worktree(repo: Path, tmp_path: Path) -> None:
    write(repo, "a.bin", content("old"))
    commit_all(repo, "old")
    write(repo, "a.bin", content("main"))
    commit_all(repo, "main")
    git(repo, "worktree", "add", "-q", "-b", "exp", str(tmp_path / "wt"))
    wt = tmp_path / "wt"
    write(wt, "a.bin", content("exp"))
    commit_all(wt, "exp")                                 # in the worktree's HEAD
    write(wt, "b.bin", content("staged"))
    git(wt, "add", "b.bin")                               # in its index only
    write(wt, "extra/x", content("extra"))
    datavc(wt, "add", "extra")                            # a metafile on its disk only
    kept = [b3(content(s)) for s in ("main", "exp", "staged", "extra")] + \
        [dir_oid(wt, "extra.datavc")]

    datavc(repo, "gc", "-w")
    assert in_cache(repo, *kept) == [True] * len(kept)
    assert in_cache(repo, b3(content("old"))) == [False]
    assert (wt / "a.bin").read_bytes() == content("exp")

    git(repo, "worktree", "remove", "--force", str(wt))
    datavc(repo, "gc", "-w")
    assert in_cache(repo, *kept) == [True, False, False, False, False]


@pytest.fixture
def pushed_history(repo: Path, local: Store) -> tuple[Path, Store, dict[str, str]]:
    """v1 then v2 of a.bin on main, and c.bin of a deleted branch, all on the remote."""
    connect(repo, local)
    oid = {}
    for v in ("v1", "v2"):
        write(repo, "a.bin", content(v))
        commit_all(repo, v)
        oid[v] = b3(content(v))
    git(repo, "checkout", "-q", "-b", "gone")
    write(repo, "c.bin", content("gone"))
    commit_all(repo, "gone")
    oid["gone"] = b3(content("gone"))
    git(repo, "checkout", "-q", "main")
    datavc(repo, "push", "--all-commits")
    git(repo, "branch", "-q", "-D", "gone")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    assert local.oids() == set(oid.values())
    return repo, local, oid


def test_gc_cloud_without_a_terminal_needs_force(
        pushed_history: tuple[Path, Store, dict[str, str]]) -> None:
    repo, local, oid = pushed_history
    result = datavc(repo, "gc", "--cloud", "-w", check=False, input=b"")
    assert_one_line_error(result, "-f")
    assert local.oids() == set(oid.values())
    # Refused means nothing happened: the local cache is untouched too.
    assert in_cache(repo, *oid.values()) == [True, True, True]


def test_gc_cloud_asks_on_a_terminal(pushed_history: tuple[Path, Store, dict[str, str]]) -> None:
    repo, local, oid = pushed_history
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(["git", "datavc", "gc", "--cloud", "-w"], cwd=repo,
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        os.write(master, b"n\n")
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "never seen" in text and "[y/N]" in text, text
    assert local.oids() == set(oid.values())


def test_gc_cloud_from_a_clone_that_never_read_a_directory_keeps_its_files(
        repo: Path, local: Store) -> None:
    connect(repo, local)
    needed = populate(repo)
    datavc(repo, "push")
    copy, _ = clone(repo, local)        # data.datavc's manifest is not in this cache
    assert not cache_object(copy, dir_oid(repo, "data.datavc")).exists()
    dry = datavc(copy, "gc", "--cloud", "--dry", "-w", input=b"")
    assert "would delete 0 objects from remote" in dry.stderr, dry.stderr
    datavc(copy, "gc", "--cloud", "-w", "-f", input=b"")
    assert local.oids() == needed

    # Without the manifest anywhere, it cannot know what the directory keeps: it refuses.
    local.object_path(dir_oid(repo, "data.datavc")).unlink()
    cache_object(copy, dir_oid(repo, "data.datavc")).unlink()
    refused = datavc(copy, "gc", "--cloud", "-w", "-f", check=False, input=b"")
    assert_one_line_error(refused, "nothing was deleted from the remote")
    assert local.oids() == needed - {dir_oid(repo, "data.datavc")}


def test_gc_cloud_force_deletes_only_what_nothing_needs(
        pushed_history: tuple[Path, Store, dict[str, str]]) -> None:
    repo, local, oid = pushed_history
    dry = datavc(repo, "gc", "--cloud", "--dry", input=b"")
    assert oid["gone"] in dry.stdout and oid["v1"] not in dry.stdout
    assert local.oids() == set(oid.values())

    datavc(repo, "gc", "--cloud", "-f", input=b"")        # history and refs kept
    assert local.oids() == {oid["v1"], oid["v2"]}
    datavc(repo, "gc", "--cloud", "-w", "-f", input=b"")  # the workspace only
    assert local.oids() == {oid["v2"]}
    assert in_cache(repo, oid["v2"]) == [True]
    copy, _ = clone(repo, local)
    assert (copy / "a.bin").read_bytes() == content("v2")
