"""`git datavc uninstall` (issue 11): removes exactly what `install` and `init` added,
scope by scope, and puts back the hooks it had chained. Each test starts in a fresh HOME
(no drivers anywhere), as a new user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from git_datavc.install import MARKER
from tests.e2e.test_clone_pointers import fresh_home
from tests.helpers import datavc, git

HOOKS = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
USER_HOOK = "#!/bin/sh\necho mine >> .git/user-hook-ran\n"


def config(repo: Path, scope: str, env: dict[str, str]) -> list[str]:
    out = git(repo, "config", scope, "--list", check=False, env=env).stdout
    return sorted(out.splitlines())


def config_text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def hooks(repo: Path) -> dict[str, str]:
    folder = repo / ".git" / "hooks"
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if not p.name.endswith(".sample")}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository in a fresh HOME with a global setting and a pre-commit hook of the
    user's own, before any git-datavc command."""
    env = fresh_home(tmp_path)
    git(tmp_path, "config", "--global", "user.name", "Someone", env=env)
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo), env=env)
    git(repo, "config", "core.autocrlf", "false", env=env)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(USER_HOOK)
    hook.chmod(0o755)
    return repo, env


def test_uninstall_in_a_repository_undoes_install_and_init(setup: tuple[Path, dict[str, str]]
                                                            ) -> None:
    repo, env = setup
    before = (config(repo, "--global", env), config(repo, "--local", env), hooks(repo))
    datavc(repo, "install", env=env)
    datavc(repo, "init", env=env)
    assert any(k.startswith("filter.datavc.process=") for k in config(repo, "--global", env))
    assert any(k.startswith("filter.datavc.process=") for k in config(repo, "--local", env))
    assert MARKER in (repo / ".git" / "hooks" / "pre-commit").read_text()

    out = datavc(repo, "uninstall", env=env).stderr
    assert "global git config" in out and "local git config" in out
    assert "restored your pre-commit hook" in out
    assert (config(repo, "--global", env), config(repo, "--local", env), hooks(repo)) == before
    home = Path(env["HOME"])
    assert "datavc" not in config_text(home / ".gitconfig")     # no empty section left
    assert "datavc" not in config_text(repo / ".git" / "config")
    assert (repo / ".datavc" / "config").exists(), ".datavc/ is the project's, kept"

    # git works as before: the user's hook runs, a *.bin file is plain content
    datavc(repo, "track", "*.bin", env=env)
    (repo / "x.bin").write_bytes(b"\0payload")
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "x", env=env)
    assert (repo / ".git" / "user-hook-ran").read_text() == "mine\n"
    assert git(repo, "cat-file", "-p", "HEAD:x.bin", env=env).stdout == "\0payload"

    again = datavc(repo, "uninstall", env=env)
    assert "nothing to uninstall" in again.stderr


def test_local_and_global_scopes_apart(setup: tuple[Path, dict[str, str]]) -> None:
    repo, env = setup
    global_before = config(repo, "--global", env)
    datavc(repo, "install", env=env)
    datavc(repo, "init", env=env)
    local_shims = hooks(repo)

    datavc(repo, "uninstall", "--global", env=env)
    assert config(repo, "--global", env) == global_before
    assert any(k.startswith("filter.datavc.") for k in config(repo, "--local", env))
    assert hooks(repo) == local_shims, "--global alone leaves the repository set up"
    datavc(repo, "track", "*.bin", env=env)
    (repo / "y.bin").write_bytes(b"data" * 100)
    git(repo, "add", "y.bin", env=env)
    assert git(repo, "cat-file", "-p", ":y.bin", env=env).stdout.startswith("version: datavc/1")
    git(repo, "reset", "-q", env=env)

    datavc(repo, "install", env=env)           # the global drivers back
    datavc(repo, "uninstall", "--local", env=env)
    assert not [k for k in config(repo, "--local", env) if "datavc" in k]
    assert hooks(repo) == {"pre-commit": USER_HOOK}
    assert any(k.startswith("filter.datavc.") for k in config(repo, "--global", env))


def test_a_value_the_user_changed_is_kept(setup: tuple[Path, dict[str, str]]) -> None:
    repo, env = setup
    datavc(repo, "init", env=env)
    git(repo, "config", "filter.datavc.required", "false", env=env)
    result = datavc(repo, "uninstall", "--local", env=env)
    assert "kept filter.datavc.required = false" in result.stderr
    assert [k for k in config(repo, "--local", env) if "datavc" in k] == \
        ["filter.datavc.required=false"]
    assert not [k for k in config(repo, "--local", env) if k.startswith(("diff.datavc",
                                                                         "merge.datavc"))]


def test_a_foreign_hook_over_a_chained_one_is_left_alone(setup: tuple[Path, dict[str, str]]
                                                         ) -> None:
    repo, env = setup
    datavc(repo, "init", env=env)
    folder = repo / ".git" / "hooks"
    (folder / "pre-commit").write_text("#!/bin/sh\n# another tool\n")   # replaced our shim
    result = datavc(repo, "uninstall", "--local", env=env)
    assert "left" in result.stderr and "pre-commit.pre-datavc" in result.stderr
    assert (folder / "pre-commit").read_text() == "#!/bin/sh\n# another tool\n"
    assert (folder / "pre-commit.pre-datavc").read_text() == USER_HOOK
    assert not (folder / "post-checkout").exists()


def test_outside_a_repository(tmp_path: Path) -> None:
    env = fresh_home(tmp_path)
    outside = tmp_path / "nowhere"
    outside.mkdir()
    env = {**env, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    datavc(outside, "install", env=env)
    assert any(k.startswith("filter.datavc.") for k in config(outside, "--global", env))
    datavc(outside, "uninstall", env=env)
    assert not [k for k in config(outside, "--global", env) if "datavc" in k]
    result = datavc(outside, "uninstall", "--local", check=False, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == \
        ["error: uninstall --local must run inside a git repository"]
