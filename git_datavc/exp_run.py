"""`exp run`: run the pipeline on a copy of the workspace, in a worktree of its own.

1. The workspace as it is (HEAD plus the edits to files git tracks, staged or not) becomes
   a snapshot commit, built in a temporary index: the user's index and files are only read.
   Untracked files are not in it (as in DVC; a warning names how many).
2. `git worktree add --detach` checks the snapshot out under
   `<git-common-dir>/datavc/exps/run/`; its data comes from the shared cache (metafiles,
   lock outs; filter-tracked files through the smudge filter); the -S changes
   (exp_params.py) are written to its params files.
3. `git datavc repro` runs there in a child process (its output streamed, or logged to
   `exps/logs/NAME.log`); outs go to the shared cache, as any repro's.
4. `git add -A` there, and a commit whose parent is the baseline becomes the experiment's
   ref; a failed run is recorded the same way, marked failed. The worktree is removed.

Several queued experiments run this way side by side (`run_queue`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from . import config, experiments, git, output
from .exp_params import apply_sets, check_sets, parse_set
from .errors import DatavcError
from .experiments import Experiment, Spec
from .safepath import check_relpath


# --- the spec -------------------------------------------------------------------------

def prepare(repo: git.Repo, sets: Sequence[str], name: str | None, set_new: bool,
            targets: Sequence[str] = ()) -> Spec:
    """Check the -S changes against the workspace's params and take its snapshot."""
    baseline = experiments.head(repo)
    parsed = [parse_set(s) for s in sets]
    check_sets(repo.root, parsed, set_new)
    if name:
        experiments.check_name(name)
        if experiments.name_taken(repo, name):
            raise DatavcError(f"an experiment called {name!r} exists already",
                              "`git datavc exp remove` it, or choose another --name")
    else:
        name = _new_name(repo)
    snapshot = _snapshot(repo, baseline)
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return Spec(name, baseline, snapshot, [p.text for p in parsed], set_new, created,
                list(targets))


def _new_name(repo: git.Repo) -> str:
    while True:
        name = "exp-" + secrets.token_hex(3)
        if not experiments.name_taken(repo, name):
            return name


def _snapshot(repo: git.Repo, baseline: str) -> str:
    """A commit of the workspace's tracked files as they are, through a temporary index."""
    tmp = experiments.exps_dir(repo) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    index = tmp / f"index-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        if (repo.git_dir / "index").exists():
            shutil.copyfile(repo.git_dir / "index", index)
        env = {"GIT_INDEX_FILE": str(index)}
        repo.git("add", "-u", "--", ":/", env=env)
        tree = repo.git("write-tree", env=env).decode().strip()
    finally:
        index.unlink(missing_ok=True)
    untracked = repo.git("ls-files", "-z", "--others", "--exclude-standard", "--", ":/")
    count = len([p for p in untracked.split(b"\0") if p])
    if count:
        output.warn(f"{count} untracked files are not part of the experiment "
                    "(`git add` them to include them)")
    return repo.git("commit-tree", tree, "-p", baseline,
                    "-m", "datavc exp: workspace snapshot").decode().strip()


# --- running --------------------------------------------------------------------------

@dataclass
class Job:
    spec: Spec
    worktree: Path
    log: Path
    started: float
    proc: Any = None                       # subprocess.Popen[bytes]
    copier: threading.Thread | None = None
    setup_error: str = ""
    lines: list[str] = field(default_factory=list)


def start(repo: git.Repo, spec: Spec, stream: IO[str] | None) -> Job:
    """Make the experiment's worktree and start its pipeline; `stream` also gets the
    pipeline's output as it comes (else only the log does)."""
    base = experiments.exps_dir(repo)
    worktree = base / "run" / f"{spec.name}-{secrets.token_hex(3)}"
    log = base / "logs" / f"{spec.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worktree.parent.mkdir(parents=True, exist_ok=True)
    job = Job(spec, worktree, log, time.monotonic())
    # no hooks: post-checkout would start a git-datavc only to be told to skip; the data
    # is placed below, from the shared cache
    cache_root = config.cache_root(repo, config.load(repo.root))
    repo.git("-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "-q",
             str(worktree), spec.snapshot, env=_git_env(cache_root))
    try:
        local = repo.root / ".datavc" / "config.local"
        if local.is_file():
            shutil.copyfile(local, worktree / ".datavc" / "config.local")
        _place_data(git.find_repo(worktree), cache_root)
        apply_sets(worktree, [parse_set(s) for s in spec.sets], spec.set_new)
    except DatavcError as e:
        job.setup_error = e.message
        log.write_text(f"error: {e.message}\n")
        return job
    except BaseException:
        remove_worktree(repo, worktree)
        raise
    env = {"DATAVC_CACHE_DIR": str(cache_root), "DVC_EXP_NAME": spec.name,
           "DVC_EXP_BASELINE_REV": spec.baseline}
    job.proc = git.start_datavc(["repro", *spec.targets], worktree, env)
    job.copier = threading.Thread(target=_copy, args=(job, stream), daemon=True)
    job.copier.start()
    return job


def _git_env(cache_root: Path) -> dict[str, str]:
    """For git in an experiment's worktree: its filters use the user's cache (a relative
    cache.dir would otherwise be read from the worktree), no hooks."""
    return {"DATAVC_SKIP_HOOKS": "1", "DATAVC_CACHE_DIR": str(cache_root)}


def _place_data(repo: git.Repo, cache_root: Path) -> None:
    """Check out the metafiles' and the lock's outs in the new worktree, from the cache."""
    from .cache import Cache
    from .checkout import checkout, checkout_outs
    from .links import Linker
    from .state import State
    from .workspace import Workspace, lock_outs, targets_to_metafiles

    settings = config.load(repo.root, {"cache.dir": str(cache_root)})
    ws = Workspace(repo, settings, Cache(cache_root), State(repo.datavc_dir / "state.db"),
                   Linker(settings.cache_types, settings.protected))
    try:
        report = checkout(ws, targets_to_metafiles(ws, []))
        more = checkout_outs(ws, lock_outs(ws))
        _cache_git_outs(ws)
    finally:
        ws.close()
    missing = report.missing + more.missing
    if missing:  # a stage that needs it says so; an out it remakes needs nothing
        output.warn(f"experiment: {missing[0]}" + (f" and {len(missing) - 1} more"
                    if len(missing) > 1 else "") + " not in the cache")


def _cache_git_outs(ws: Any) -> None:
    """Outs with `cache: false` came from the snapshot commit: git has their bytes. repro
    clears an out before its stage runs only when the cache has its bytes (gc may have
    dropped them), so put them there: the stage may then remake them."""
    from . import lockfile
    from .add import snapshot

    lock = ws.repo.root / "datavc.lock"
    for stage in lockfile.read(lock).values() if lock.is_file() else []:
        for path in sorted(stage.uncached):
            full = ws.repo.root / check_relpath(path, "datavc.lock")
            if full.is_file() or full.is_dir():
                snapshot(ws, full, link=False)


def _copy(job: Job, stream: IO[str] | None) -> None:
    with open(job.log, "w", encoding="utf-8", errors="replace") as log:
        for raw in job.proc.stdout:
            line = raw.decode(errors="replace")
            log.write(line)
            log.flush()
            if line.startswith("error: "):
                job.lines.append(line[len("error: "):].strip())
            if stream is not None:
                stream.write(line)
                stream.flush()


def poll(job: Job) -> int | None:
    if job.setup_error:
        return 1
    return job.proc.poll()


def finish(repo: git.Repo, job: Job) -> Experiment:
    """Record what the worktree holds now as the experiment's commit and ref; remove it."""
    code = 1 if job.setup_error else job.proc.wait()
    if job.copier is not None:
        job.copier.join()
    spec = job.spec
    failed = code != 0
    error = job.setup_error or (job.lines[0] if job.lines else
                                f"repro exited with {code}" if failed else "")
    try:
        wt = git.find_repo(job.worktree)
        cache_root = config.cache_root(repo, config.load(repo.root))
        wt.git("add", "-A", "--", ":/", env=_git_env(cache_root))
        outs = _cached_outs(wt)
        if outs:  # a failed run never reached the .gitignore lines: keep its outs out of git
            wt.git("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *outs)
        tree = wt.git("write-tree").decode().strip()
        message = [f"datavc exp: {spec.name}", ""]
        message.append(f"{experiments.STATUS}: {'failed' if failed else 'success'}")
        message += [f"{experiments.SET}: {s}" for s in spec.sets]
        if failed:
            message.append(f"{experiments.ERROR}: {error.splitlines()[0] if error else ''}")
        sha = repo.git("commit-tree", tree, "-p", spec.baseline,
                       "-m", "\n".join(message)).decode().strip()
        ref = experiments.ref_for(spec.baseline, spec.name)
        repo.git("update-ref", ref, sha, "")  # "": only if no such ref yet
    finally:
        remove_worktree(repo, job.worktree)
    experiments.drop_spec(repo, spec.name)  # (kept queued if it could not be recorded)
    return Experiment(spec.name, sha, spec.baseline, "failed" if failed else "success",
                      spec.created, spec.sets, error, ref)


def _cached_outs(repo: git.Repo) -> list[str]:
    from . import pipeline

    try:
        pipe = pipeline.load(repo.root, strict=False)
    except DatavcError:
        return []
    return [o.path for stage in pipe.stages.values() for o in stage.outs if o.cache]


def remove_worktree(repo: git.Repo, path: Path) -> None:
    repo.git("worktree", "remove", "--force", str(path), check=False)
    if path.exists():  # read-only cache links inside: remove what git left
        shutil.rmtree(path, ignore_errors=True)
    repo.git("worktree", "prune", check=False)


def abandon(repo: git.Repo, job: Job) -> None:
    """Interrupted: stop the pipeline, remove its worktree; a queued spec stays queued."""
    if job.proc is not None:
        git.stop(job.proc)
    remove_worktree(repo, job.worktree)


def run_one(repo: git.Repo, spec: Spec, stream: IO[str] | None) -> Experiment:
    job = start(repo, spec, stream)
    try:
        while poll(job) is None:
            time.sleep(0.05)
    except BaseException:
        abandon(repo, job)
        raise
    return finish(repo, job)


Progress = Callable[[str, str, float], None]   # (name, state, elapsed seconds)


def run_queue(repo: git.Repo, jobs: int, progress: Progress) -> list[Experiment]:
    """Run every queued experiment, `jobs` at a time; `progress` hears of each change of
    state (queued, running, success, failed) and, while one runs, about every second."""
    waiting = experiments.queued(repo)
    for spec in waiting:
        progress(spec.name, "queued", 0.0)
    running: list[Job] = []
    done: list[Experiment] = []
    try:
        _drive(repo, jobs, waiting, running, done, progress)
    except BaseException:
        for job in running:
            abandon(repo, job)
        raise
    return done


def _drive(repo: git.Repo, jobs: int, waiting: list[Spec], running: list[Job],
           done: list[Experiment], progress: Progress) -> None:
    last_tick = 0.0
    while waiting or running:
        while waiting and len(running) < jobs:
            spec = waiting.pop(0)
            running.append(start(repo, spec, None))
            progress(spec.name, "running", 0.0)
        for job in list(running):
            if poll(job) is not None:
                running.remove(job)
                exp = finish(repo, job)
                done.append(exp)
                progress(exp.name, exp.state, time.monotonic() - job.started)
        now = time.monotonic()
        if now - last_tick >= 1.0:
            last_tick = now
            for job in running:
                progress(job.spec.name, "running", now - job.started)
        time.sleep(0.05)
