"""Run one scenario under one tool (real DVC or git-datavc) in a fresh git repository and
record, after every step, what a user can observe: exit status, the stages that really ran
(in order), the lock (hash names aside), the workspace's files, and the step's own answer
(`--dry`, `status`, `dag`, `metrics`, `params`) in a tool-neutral form.

A scenario is data (scenarios/*.yaml):

    about: what it covers and what it is modelled on
    files: {path: text}            # written, then committed, before the first step
    steps:
    - repro: [ARGS]                # dvc repro ARGS / git datavc repro ARGS
    - dry: [ARGS]                  # repro --dry ARGS: the stages that would run
    - write: {path: text}          # edit a dep or a params file, hand-edit an out...
    - replace: {path: [old, new]}  # an in-place edit (dvc.yaml, params)
    - delete: [path, ...]
    - commit: message              # git add -A && git commit
    - checkout: REV                # git checkout REV (DVC: then `dvc checkout`, what its
                                   # post-checkout hook would do; git-datavc's hooks do it)
    - status: []                   # which stages changed
    - dag: []                      # the graph's edges
    - metrics: [show] | [diff, REV]
    - params: [diff, REV]
    - remote: []                   # a local default remote (../remote), for push/--pull
    - push: []
    - clear_cache: []              # empty the tool's cache (and with it its run-cache)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
STAGE_SCRIPT = HERE / "stage.py"
# Files that are each tool's own bookkeeping, not something a stage produced.
OWN_FILES = {"dvc.lock", "datavc.lock", "stage.py", ".dvcignore"}
OWN_DIRS = {".git", ".dvc", ".datavc"}
TIMEOUT = 120


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())


def names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


@dataclass
class Observation:
    """What one step showed; `answer` is the step's own output, parsed (None: none)."""
    step: str
    exit: int
    ran: list[str]
    lock: dict[str, Any]
    files: dict[str, str]
    answer: Any = None
    output: str = ""


@dataclass
class Tool:
    name: str                   # "dvc" or "datavc"
    argv: list[str]             # how to call it: [dvc] or [git, datavc]
    env: dict[str, str] = field(default_factory=dict)
    dvc_python: str | None = None   # DVC's interpreter, to ask for its stages' wdir

    def cli(self, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        # `repro -i` asks before each stage: answer yes, as a user would (DVC asks only
        # on a terminal, so it gets one)
        if self.name == "dvc" and "-i" in args:
            return on_a_terminal([*self.argv, *args], repo, self.env, "y\n" * 50)
        return subprocess.run([*self.argv, *args], cwd=repo, env=self.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              input="y\n" * 50, timeout=TIMEOUT)


def on_a_terminal(argv: list[str], repo: Path, env: dict[str, str],
                  answers: str) -> subprocess.CompletedProcess[str]:
    """Run `argv` with a pseudo-terminal as stdin, stdout and stderr, `answers` typed
    ahead; its output without the terminal's colours and carriage returns."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=repo, env={**env, "TERM": "dumb"}, stdin=slave,
                            stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    os.write(master, answers.encode())
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=TIMEOUT)
    text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(argv, proc.returncode,
                                       re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text))


def git(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, env=env, text=True, timeout=TIMEOUT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run(scenario: dict[str, Any], tool: Tool, repo: Path) -> list[Observation]:
    repo.mkdir(parents=True)
    log = repo.parent / f"{tool.name}.log"
    log.write_text("")
    env = {**tool.env, "PARITY_LOG": str(log)}
    tool = Tool(tool.name, tool.argv, env, tool.dvc_python)
    git(repo, env, "init", "-q")
    init = tool.cli(repo, "init", *(["-q"] if tool.name == "dvc" else []))
    assert init.returncode == 0, init.stdout
    shutil.copy(STAGE_SCRIPT, repo / "stage.py")
    for path, text in (scenario.get("files") or {}).items():
        _write(repo / path, text)
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "scenario files")
    observations = []
    for step in scenario["steps"]:
        (kind, arg), = step.items()
        seen = len(log.read_text().splitlines())
        exit, output, answer = _do(tool, repo, kind, arg)
        observations.append(Observation(
            step=f"{kind} {arg if arg is not None else ''}".strip(), exit=exit,
            ran=log.read_text().splitlines()[seen:], lock=read_lock(tool, repo),
            files=workspace_files(repo), answer=answer, output=output))
    return observations


def _write(path: Path, text: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if isinstance(text, str) else yaml.safe_dump(text))


def _do(tool: Tool, repo: Path, kind: str, arg: Any) -> tuple[int, str, Any]:
    """Run one step: (exit status, the tool's output, the step's parsed answer)."""
    args = [str(a) for a in arg] if isinstance(arg, list) else []
    if kind == "repro":
        done = tool.cli(repo, "repro", *args)
        return done.returncode, done.stdout, None
    if kind == "dry":
        done = tool.cli(repo, "repro", "--dry", *args)
        return done.returncode, done.stdout, would_run(tool.name, done.stdout)
    if kind in ("write", "replace", "delete"):
        for path, value in (arg.items() if isinstance(arg, dict) else ((p, None) for p in arg)):
            target = repo / path
            if kind == "write":
                if target.exists():
                    target.chmod(0o644)     # a cached out may be linked read-only
                    target.unlink()
                _write(target, value)
            elif kind == "replace":
                text = target.read_text()
                assert value[0] in text, f"{path} has no {value[0]!r} to replace"
                target.write_text(text.replace(value[0], value[1]))
            elif target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            else:   # not there: the tools already differ; the files aspect shows it
                return 1, f"{path}: no such file to delete", None
        return 0, "", None
    if kind == "commit":
        git(repo, tool.env, "add", "-A")
        done = git(repo, tool.env, "commit", "-q", "-m", str(arg))
        return done.returncode, done.stdout, None
    if kind == "checkout":
        done = git(repo, tool.env, "checkout", "-q", str(arg))
        if done.returncode == 0 and tool.name == "dvc":
            done = tool.cli(repo, "checkout")
        return done.returncode, done.stdout, None
    if kind == "status":
        done = tool.cli(repo, "status", "--json")
        return done.returncode, done.stdout, changed_stages(tool.name, done.stdout)
    if kind == "dag":
        done = tool.cli(repo, "dag", "--dot", *args)
        return done.returncode, done.stdout, dag_edges(done.stdout)
    if kind in ("metrics", "params"):
        done = tool.cli(repo, kind, *args, "--json")
        return done.returncode, done.stdout, _json_answer(tool.name, kind, args, done)
    if kind == "remote":
        store = repo.parent / "remote"
        store.mkdir(exist_ok=True)
        add = ["remote", "add", "-d", "store", str(store)] if tool.name == "dvc" else \
            ["remote", "add", "store", str(store)]
        done = tool.cli(repo, *add)
        if done.returncode == 0 and tool.name == "datavc":
            done = tool.cli(repo, "remote", "default", "store")
        return done.returncode, done.stdout, None
    if kind == "push":
        done = tool.cli(repo, "push", *args)
        return done.returncode, done.stdout, None
    if kind == "clear_cache":
        shutil.rmtree(repo / (".dvc/cache" if tool.name == "dvc" else ".git/datavc/cache"),
                      ignore_errors=True)
        return 0, "", None
    raise ValueError(f"unknown step {kind!r}")


# -- parsing each tool's answers into one form ------------------------------------------

def would_run(tool: str, out: str) -> list[str]:
    pattern = r"^Running stage '([^']+)'" if tool == "dvc" else r"^Would run stage '([^']+)'"
    return re.findall(pattern, out, re.M)


def changed_stages(tool: str, out: str) -> list[str] | None:
    try:
        data = json.loads(out[out.index("{"):])
    except ValueError:
        return None
    if tool == "datavc":
        data = data.get("stages")     # git-datavc's status: stages under "stages", if any
        if data is None:
            return None
    return sorted(k.split(":", 1)[-1] for k in data)


def dag_edges(out: str) -> list[list[str]]:
    return sorted([a.split(":")[-1], b.split(":")[-1]]
                  for a, b in re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', out))


def _json_answer(tool: str, kind: str, args: list[str],
                 done: subprocess.CompletedProcess[str]) -> Any:
    if done.returncode != 0:
        return None
    text = done.stdout
    try:
        data = json.loads(text[text.index("{"):]) if "{" in text else {}
    except ValueError:
        return {"unparsed": text}
    if tool == "dvc" and kind == "metrics" and args[:1] == ["show"]:
        # {"workspace": {"data": {file: {"data": {nested}}}}} -> {file: {flat key: value}}
        files = (next(iter(data.values()), None) or {}).get("data") or {}
        return {f: flatten(v.get("data") or {}) for f, v in files.items()}
    if args[:1] == ["diff"]:
        return {f: {k: {"old": c.get("old"), "new": c.get("new")} for k, c in keys.items()}
                for f, keys in data.items() if keys}
    return {f: flatten(v) if isinstance(v, dict) else v for f, v in data.items()}


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            flat.update(flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


# -- the lock and the workspace, hash names aside ----------------------------------------

def read_lock(tool: Tool, repo: Path) -> dict[str, Any]:
    """{stage: {cmd, deps: {path: size/nfiles}, params: {file: {key: value}}, outs: ...}},
    paths from the repository root (DVC's are relative to the stage's wdir)."""
    path = repo / ("dvc.lock" if tool.name == "dvc" else "datavc.lock")
    if not path.exists():
        return {}
    stages = (yaml.safe_load(path.read_text()) or {}).get("stages") or {}
    wdirs = dvc_wdirs(tool, repo) if tool.name == "dvc" else {}
    lock = {}
    for name, entry in stages.items():
        wdir = wdirs.get(name, ".")
        lock[name] = {
            "cmd": entry.get("cmd"),
            "deps": {_join(wdir, d["path"]): _sizes(d) for d in entry.get("deps") or []},
            "params": {_join(wdir, f): v for f, v in (entry.get("params") or {}).items()},
            "outs": {_join(wdir, o["path"]): _sizes(o) for o in entry.get("outs") or []},
        }
    return lock


def _join(wdir: str, path: str) -> str:
    return os.path.normpath(os.path.join(wdir, path))


def _sizes(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("size", "nfiles") if k in entry}


def dvc_wdirs(tool: Tool, repo: Path) -> dict[str, str]:
    """DVC's lock paths are relative to each stage's wdir: ask DVC itself where that is."""
    if "wdir" not in (repo / "dvc.yaml").read_text() or tool.dvc_python is None:
        return {}
    code = ("import json, os; from dvc.repo import Repo; r = Repo();"
            "print(json.dumps({s.addressing.split(':')[-1]: os.path.relpath(s.wdir, r.root_dir)"
            " for s in r.index.stages}))")
    done = subprocess.run([tool.dvc_python, "-c", code], cwd=repo, env=tool.env, text=True,
                          capture_output=True, timeout=TIMEOUT)
    try:
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {}


def workspace_files(repo: Path) -> dict[str, str]:
    """{path: short sha256} of every file a stage or a step made (not the tools' own)."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in OWN_DIRS)
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), repo)
            if rel in OWN_FILES or f == ".gitignore":
                continue
            with open(os.path.join(dirpath, f), "rb") as fh:
                files[rel] = hashlib.sha256(fh.read()).hexdigest()[:12]
    return files
