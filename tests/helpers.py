"""Helpers for tests that drive real `git` and `git datavc` processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def run(args: list[str], cwd: Path, input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **(env or {})})
    result = subprocess.CompletedProcess(
        args, proc.returncode, proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"))
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\nstdout: {result.stdout}\n"
                             f"stderr: {result.stderr}")
    return result


def git(cwd: Path, *args: str, check: bool = True, input: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(["git", *args], cwd, input=input, check=check, env=env)


def datavc(cwd: Path, *args: str, check: bool = True, input: bytes | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(["git", "datavc", *args], cwd, input=input, check=check, env=env)


def cache_object(repo: Path, oid: str) -> Path:
    return repo / ".git" / "datavc" / "cache" / "files" / "blake3" / oid[:2] / oid[2:]


def pointer_of(repo: Path, rev_path: str) -> dict[str, str]:
    """The pointer git stores at REV:PATH, as a dict."""
    text = git(repo, "cat-file", "blob", rev_path).stdout
    return dict(line.split(": ", 1) for line in text.splitlines())
