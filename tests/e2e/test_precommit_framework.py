"""The hooks through the pre-commit framework (DESIGN.md section 8, issue 3 item 7): a user's
`.pre-commit-config.yaml` naming this project's `.pre-commit-hooks.yaml` installs
pre-commit, post-checkout, post-merge, post-rewrite and pre-push hooks that behave exactly
as the ones `git datavc install` writes. Uses the real `pre-commit` package; its first run
builds the hook environment with pip (needs the package index), shared by the session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import blake3
import pytest

from tests.conftest import _env
from tests.helpers import cache_object, datavc, git, run

PROJECT = Path(__file__).resolve().parents[2]
HOOK_IDS = ("datavc-pre-commit", "datavc-post-checkout", "datavc-post-merge",
            "datavc-post-rewrite", "datavc-pre-push")
HOOK_TYPES = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
THRESHOLD = {"DATAVC_CORE_THRESHOLD": "1k"}


def content(seed: str, size: int = 4096) -> bytes:
    return blake3.blake3(seed.encode()).digest(length=size)


def pointer_bytes(data: bytes) -> bytes:
    return b"version: datavc/1\nblake3: %s\nsize: %d\n" % (
        blake3.blake3(data).hexdigest().encode(), len(data))


def blob(repo: Path, rev_path: str) -> bytes:
    return subprocess.run(["git", "cat-file", "blob", rev_path], cwd=repo, check=True,
                          capture_output=True).stdout


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def commit(repo: Path, message: str, *paths: str, env: dict[str, str] | None = None) -> str:
    git(repo, "add", "-A", "--", *paths)
    git(repo, "commit", "-q", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="session")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> tuple[str, str]:
    """A clone-able git repository holding what pip needs to install this project, plus
    `.pre-commit-hooks.yaml`: (its path, its commit). One per session, so that pre-commit
    builds its environment once (PRE_COMMIT_HOME lives in the session's HOME)."""
    path = tmp_path_factory.mktemp("hooks-repo")
    for name in ("setup.cfg", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(PROJECT / name, path / name)
    shutil.copytree(PROJECT / "git_datavc", path / "git_datavc",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = _env(session_home)
    run(["git", "init", "-q"], path, env=env)
    run(["git", "add", "-A"], path, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", "hooks"], path, env=env)
    sha = run(["git", "rev-parse", "HEAD"], path, env=env).stdout.strip()
    return str(path), sha


def config_text(repo_path: str, rev: str) -> str:
    hooks = "\n".join(f"  - id: {hook_id}" for hook_id in HOOK_IDS)
    return (f"default_install_hook_types: [{', '.join(HOOK_TYPES)}]\n"
            f"repos:\n- repo: {repo_path}\n  rev: {rev}\n  hooks:\n{hooks}\n")


def new_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    git(path, "datavc", "track", "*.bin")
    return path


@pytest.fixture
def framework(tmp_path: Path, hooks_repo: tuple[str, str]) -> Path:
    """A repository whose hooks are the pre-commit framework's, with our hooks in it."""
    repo = new_repo(tmp_path / "framework")
    (repo / ".pre-commit-config.yaml").write_text(config_text(*hooks_repo))
    commit(repo, "pre-commit config")
    result = run(["pre-commit", "install", "--install-hooks"], repo)
    for hook_type in HOOK_TYPES:
        text = (repo / ".git" / "hooks" / hook_type).read_text()
        assert "pre-commit" in text and "git-datavc" not in text, hook_type
    assert "Traceback" not in result.stderr
    return repo


@pytest.fixture
def native(tmp_path: Path) -> Path:
    """The same repository with the hooks of `git datavc install`."""
    repo = new_repo(tmp_path / "native")
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")  # same files as above
    commit(repo, "pre-commit config")
    datavc(repo, "install", "--local")
    assert "git datavc hook pre-commit" in (repo / ".git" / "hooks" / "pre-commit").read_text()
    return repo


def test_pre_commit_autotracks_a_big_file_as_the_native_hook_does(
        framework: Path, native: Path) -> None:
    data, small = content("big"), b"small file\n"
    results = {}
    for repo in (framework, native):
        (repo / "sub").mkdir()
        (repo / "sub" / "big.dat").write_bytes(data)
        (repo / "small.txt").write_bytes(small)
        git(repo, "add", "sub/big.dat", "small.txt")
        results[repo] = git(repo, "commit", "-q", "-m", "big", env=THRESHOLD)

        stored = blob(repo, "HEAD:sub/big.dat")
        assert stored == pointer_bytes(data), stored[:200]
        assert cache_object(repo, blake3.blake3(data).hexdigest()).read_bytes() == data
        assert (repo / "sub" / "big.dat").read_bytes() == data
        assert blob(repo, "HEAD:small.txt") == small
        assert git(repo, "status", "--porcelain").stdout == ""
    # pre-commit shows a hook's output only when it fails (or with `verbose: true`).
    assert "sub/big.dat" in results[native].stderr

    def committed(repo: Path) -> list[str]:
        return [line for line in git(repo, "ls-tree", "-r", "HEAD").stdout.splitlines()
                if not line.endswith(".pre-commit-config.yaml")]

    assert committed(framework) == committed(native)
    assert (framework / ".gitattributes").read_text() == (native / ".gitattributes").read_text()


V1 = {f"f{i}.txt": content(f"v1-{i}", 100) for i in range(20)}
V2 = {**{k: v for k, v in V1.items() if k != "f0.txt"}, "f1.txt": b"changed", "new.txt": b"new"}


def two_versions(repo: Path) -> tuple[str, str]:
    (repo / "data").mkdir()
    for name, data in V1.items():
        (repo / "data" / name).write_bytes(data)
    datavc(repo, "add", "data")
    c1 = commit(repo, "v1", "data.datavc", ".gitignore")
    datavc(repo, "unprotect", "data/f1.txt")
    (repo / "data" / "f0.txt").unlink()
    (repo / "data" / "f1.txt").write_bytes(b"changed")
    (repo / "data" / "new.txt").write_bytes(b"new")
    datavc(repo, "add", "data")
    c2 = commit(repo, "v2", "data.datavc")
    return c1, c2


@pytest.fixture(params=["framework", "native"])
def hooked(request: pytest.FixtureRequest) -> Path:
    """Each test below runs with the framework's hooks and, for comparison, the native ones."""
    return request.getfixturevalue(request.param)


def test_post_checkout_and_merge_sync_a_tracked_directory(hooked: Path) -> None:
    repo = hooked
    c1, _ = two_versions(repo)
    assert read_tree(repo / "data") == V2

    git(repo, "checkout", "-q", "-b", "old", c1)
    assert read_tree(repo / "data") == V1, "post-checkout restored version 1"
    git(repo, "checkout", "-q", "main")
    assert read_tree(repo / "data") == V2, "post-checkout brought version 2 back"

    git(repo, "checkout", "-q", "old")
    assert read_tree(repo / "data") == V1
    git(repo, "merge", "-q", "--ff-only", "main")
    assert read_tree(repo / "data") == V2, "post-merge"


def test_post_rewrite_syncs_after_an_amend(hooked: Path) -> None:
    """`git commit --amend` runs no post-checkout: only post-rewrite can bring the data.
    An earlier fast-forward left ORIG_HEAD behind, as it is in most repositories."""
    repo = hooked
    c1, _ = two_versions(repo)
    git(repo, "checkout", "-q", "-b", "old", c1)
    git(repo, "merge", "-q", "--ff-only", "main")  # ORIG_HEAD = c1
    assert read_tree(repo / "data") == V2
    (repo / "data.datavc").write_text(git(repo, "show", f"{c1}:data.datavc").stdout)
    (repo / "notes.txt").write_text("back to version 1\n")
    git(repo, "add", "data.datavc", "notes.txt")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    assert read_tree(repo / "data") == V1


def test_post_rewrite_syncs_after_a_rebase(hooked: Path) -> None:
    repo = hooked
    c1, c2 = two_versions(repo)
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "notes.txt").write_text("notes\n")
    commit(repo, "notes", "notes.txt")
    git(repo, "rebase", "-q", "--onto", c1, c2, "topic")
    assert read_tree(repo / "data") == V1


def test_commit_with_unstaged_changes_to_a_filter_tracked_file(framework: Path) -> None:
    """pre-commit stashes unstaged changes as a patch (`git diff --binary`, which runs the
    clean filter), checks the files out, runs the hooks and re-applies the patch (pre-commit
    issue 776: with clean/smudge filters, other tools lose the user's changes here)."""
    repo = framework
    v1, v2 = content("model v1", 50_000), content("model v2", 60_000)
    (repo / "model.bin").write_bytes(v1)
    commit(repo, "model v1", "model.bin")
    assert blob(repo, "HEAD:model.bin") == pointer_bytes(v1)

    (repo / "model.bin").write_bytes(v2)          # unstaged
    (repo / "notes.txt").write_text("staged\n")
    git(repo, "add", "notes.txt")
    result = git(repo, "commit", "-m", "notes only", check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    assert git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split() == ["notes.txt"]
    assert blob(repo, "HEAD:model.bin") == pointer_bytes(v1), "the staged state"
    assert (repo / "model.bin").read_bytes() == v2, "the user's unstaged bytes are back"
    assert git(repo, "status", "--porcelain").stdout == " M model.bin\n"
    assert git(repo, "stash", "list").stdout == ""
