"""Experiments as git refs (issue 14): what `exp run` records and `exp show|diff|apply|
branch|remove|push|pull` read.

An experiment is a commit whose parent is the commit it started from (its baseline) and
whose tree is the workspace after the pipeline ran in it: params, datavc.lock, metrics
and whatever else git tracks; the outs' bytes are in the shared cache, named by the lock.
It lives at DVC's ref layout, `refs/exps/<baseline[:2]>/<baseline[2:]>/<name>`, so
`git push REMOTE 'refs/exps/*:refs/exps/*'` carries it like any ref. Its commit message
ends in trailers: `Datavc-Exp-Status: success|failed`, one `Datavc-Exp-Set: FILE:KEY=VALUE`
per -S, and for a failed run `Datavc-Exp-Error: ...` (the first error line it printed).

Queued experiments are specs in `<git-common-dir>/datavc/exps/queue/NAME.json`, each with
the snapshot commit of the workspace taken when it was queued, kept alive by the ref
`refs/datavc/exp-queue/NAME` until it runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import git
from .errors import DatavcError

REFS = "refs/exps/"
QUEUE_REFS = "refs/datavc/exp-queue/"
STATUS, SET, ERROR = "Datavc-Exp-Status", "Datavc-Exp-Set", "Datavc-Exp-Error"


@dataclass
class Experiment:
    name: str
    rev: str                 # the commit (queued: the workspace snapshot)
    baseline: str
    state: str               # success | failed | queued
    created: str             # ISO 8601
    sets: list[str] = field(default_factory=list)
    error: str = ""
    ref: str = ""


@dataclass
class Spec:
    """A queued experiment (or one about to run)."""
    name: str
    baseline: str
    snapshot: str
    sets: list[str]
    set_new: bool = False
    created: str = ""
    targets: list[str] = field(default_factory=list)   # stages for repro (none: all)


def exps_dir(repo: git.Repo) -> Path:
    return repo.datavc_dir / "exps"


def ref_for(baseline: str, name: str) -> str:
    return f"{REFS}{baseline[:2]}/{baseline[2:]}/{name}"


def check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name) or name.endswith(".lock") \
            or ".." in name:
        raise DatavcError(f"experiment name {name!r} is not valid",
                          "use letters, digits, '.', '_' and '-' (up to 100)")


def head(repo: git.Repo) -> str:
    sha = repo.git("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).decode().strip()
    if not sha:
        raise DatavcError("experiments start from a commit, and HEAD has none yet",
                          "commit the pipeline first")
    return sha


# --- reading ------------------------------------------------------------------------------

_FORMAT = "%(refname)%00%(objectname)%00%(creatordate:iso-strict)%00%(contents)%01"


def recorded(repo: git.Repo) -> list[Experiment]:
    """Every experiment ref, oldest first."""
    out = repo.git("for-each-ref", "--sort=creatordate", f"--format={_FORMAT}", REFS)
    found = []
    for record in out.decode(errors="replace").split("\x01"):
        parts = record.lstrip("\n").split("\x00")
        if len(parts) != 4:
            continue
        ref, sha, created, message = parts
        pieces = ref[len(REFS):].split("/")
        if len(pieces) != 3:
            continue  # not a layout this tool writes (DVC's exec or celery refs)
        trailers = _trailers(message)
        found.append(Experiment(pieces[2], sha, pieces[0] + pieces[1],
                                (trailers.get(STATUS) or ["success"])[0], created,
                                trailers.get(SET, []), (trailers.get(ERROR) or [""])[0], ref))
    return found


def _trailers(message: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in message.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in (STATUS, SET, ERROR):
            found.setdefault(key, []).append(value.strip())
    return found


def queued(repo: git.Repo) -> list[Spec]:
    folder = exps_dir(repo) / "queue"
    specs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            specs.append(Spec(**json.loads(path.read_text())))
        except (ValueError, TypeError):
            raise DatavcError(f"queued experiment {path.name} cannot be read") from None
    return sorted(specs, key=lambda s: s.created)


def as_experiment(spec: Spec) -> Experiment:
    return Experiment(spec.name, spec.snapshot, spec.baseline, "queued", spec.created,
                      spec.sets)


def everything(repo: git.Repo) -> list[Experiment]:
    return recorded(repo) + [as_experiment(s) for s in queued(repo)]


def resolve(repo: git.Repo, name: str, include_queued: bool = False) -> Experiment:
    """The experiment called `name` (or its full ref): of HEAD's baseline first, else
    the only one of that name."""
    found = everything(repo) if include_queued else recorded(repo)
    matches = [e for e in found if name in (e.name, e.ref)]
    if len(matches) > 1:
        base = repo.git("rev-parse", "-q", "--verify", "HEAD", check=False).decode().strip()
        ours = [e for e in matches if e.baseline == base]
        if len(ours) == 1:
            return ours[0]
        raise DatavcError(f"{len(matches)} experiments are called {name!r}",
                          f"name one by its ref: {matches[0].ref}")
    if not matches:
        raise DatavcError(f"no experiment called {name!r}", "`git datavc exp show -A` lists them")
    return matches[0]


def name_taken(repo: git.Repo, name: str) -> bool:
    return any(e.name == name for e in everything(repo))


# --- writing ------------------------------------------------------------------------------

def save_spec(repo: git.Repo, spec: Spec) -> None:
    folder = exps_dir(repo) / "queue"
    folder.mkdir(parents=True, exist_ok=True)
    repo.git("update-ref", QUEUE_REFS + spec.name, spec.snapshot)
    tmp = folder / f".{spec.name}.json.tmp"
    tmp.write_text(json.dumps(asdict(spec), indent=2) + "\n")
    tmp.replace(folder / f"{spec.name}.json")


def drop_spec(repo: git.Repo, name: str) -> None:
    (exps_dir(repo) / "queue" / f"{name}.json").unlink(missing_ok=True)
    repo.git("update-ref", "-d", QUEUE_REFS + name, check=False)


def remove(repo: git.Repo, names: list[str], every: bool = False) -> list[str]:
    """Delete experiments (refs) and queued specs; returns the names removed."""
    if every:
        targets = everything(repo)
    else:
        targets = [resolve(repo, name, include_queued=True) for name in names]
    for exp in targets:
        if exp.state == "queued":
            drop_spec(repo, exp.name)
        else:
            repo.git("update-ref", "-d", exp.ref, exp.rev)
    return [e.name for e in targets]


def branch(repo: git.Repo, name: str, new_branch: str) -> Experiment:
    exp = resolve(repo, name)
    if repo.git("check-ref-format", "--branch", new_branch, check=False).strip() == b"":
        raise DatavcError(f"{new_branch!r} is not a valid branch name")
    if repo.git("rev-parse", "-q", "--verify", f"refs/heads/{new_branch}", check=False).strip():
        raise DatavcError(f"branch {new_branch!r} already exists")
    repo.git("branch", new_branch, exp.rev)
    return exp
