"""`repro`: bring the stages' outs up to date, running only what must run (DESIGN.md §6).

A stage runs when it never ran, or its cmd, a dep's hash, a tracked param or its declared
outs changed (or it is `always_changed`). Before running, the run-cache is asked whether
this exact (cmd, deps, params) ran before; if so its outs are restored instead. An out that
is missing or replaced by other cached bytes is restored from the lock. An out whose bytes
differ from the lock and are in no cache was edited by hand: repro stops and names it,
unless `force`. Frozen stages never run and their lock entries are never rewritten.

All bookkeeping (hashing, cache, lock) happens in the calling thread; with `jobs` > 1 only
the stage commands run in worker threads, so independent stages overlap.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from . import git, lockfile, output, params, runcache
from .add import ignore_out, snapshot
from .checkout import Report, checkout_outs, remove_path
from .errors import DatavcError
from .hashing import hash_bytes
from .links import Linker, unprotect
from .lockfile import StageLock
from .metafile import Entry, Out, encode_manifest
from .pipeline import LOCK, Pipeline, Stage, producers_of
from .workspace import Workspace, walk_files


@dataclass
class Result:
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)     # outs put back from the lock
    run_cache: list[str] = field(default_factory=list)    # outs put back from the run-cache
    unchanged: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    would_run: list[str] = field(default_factory=list)    # --dry


@dataclass
class _Current:
    out: Out
    entries: list[Entry]


@dataclass
class _Run:
    ws: Workspace
    pipe: Pipeline
    locks: dict[str, StageLock]
    force: bool
    dry: bool
    allow_missing: bool = False
    interactive: bool = False
    prefix: bool = False           # -j > 1: each line of a stage's output names the stage
    result: Result = field(default_factory=Result)
    memo: dict[str, _Current | None] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.ws.repo.root


def select(pipe: Pipeline, targets: Sequence[str], single: bool, downstream: bool,
           whole_pipeline: bool = False) -> list[str]:
    """The stages a `repro` command means, in graph order. As in DVC, the walk does not
    go through a frozen stage to its upstream; `whole_pipeline` (-p) takes every stage
    connected to a target; `single` (-s) the targets alone, in the order given."""
    names: set[str] = set()
    for target in targets:
        names.update(pipe.select(target))
    if not targets:
        names = set(pipe.stages)
    elif whole_pipeline:
        names = pipe.component(names)
    elif single:
        if pipe.problem is not None:  # no graph to order by: the order given
            return list(dict.fromkeys(n for t in targets for n in pipe.select(t)))
    elif downstream:
        names = pipe.descendants(names, active=True)
    else:
        names = pipe.ancestors(names, active=True)
    return pipe.order(names)


def reproduce(ws: Workspace, pipe: Pipeline, names: list[str], force: bool = False,
              dry: bool = False, jobs: int = 1, *, pull: bool = False,
              allow_missing: bool = False, interactive: bool = False) -> Result:
    """Run `names` (in graph order). `pull`: fetch the locked outs the cache lacks from the
    default remote first; `allow_missing`: a stage whose only change is data missing from
    the workspace and the cache is left alone; `interactive`: ask before each stage runs."""
    locks = lockfile.read(ws.repo.root / LOCK)
    if any(name not in locks for name in pipe.stages):
        from .takeover import adopt_lock  # a DVC project: stages dvc.lock still vouches for

        locks = adopt_lock(ws, pipe, locks, write=not dry)
    for name in names:  # said, not skipped silently
        for spec in pipe.stages[name].outs:
            for key in spec.unobeyed:
                output.warn(f"stage {name!r}: out {spec.path!r}: `{key}` is not obeyed yet: "
                            "`git datavc push` sends it to the default remote")
    run = _Run(ws, pipe, locks, force, dry)
    run.allow_missing, run.interactive, run.prefix = allow_missing, interactive, jobs > 1
    if pull and not dry:
        _pull(run, names)
    ws.preload_state()
    _check_deps_exist(run, names)
    if not dry:
        _keep_leftovers_of_killed_runs(run)
    if not force:
        _check_hand_edits(run, names)
    try:
        _schedule(run, names, max(1, jobs))
    finally:
        ws.state.commit()
        if not dry:
            _drop_removed_stages(run)
    return run.result


# --- what the workspace holds ---------------------------------------------------------

def _current(run: _Run, path: str) -> _Current | None:
    """The file or directory at repo-relative `path` as an out; None when missing."""
    if path in run.memo:
        return run.memo[path]
    full = str(run.root / path)
    try:
        st = os.stat(full)
    except (FileNotFoundError, NotADirectoryError):
        run.memo[path] = None
        return None
    if os.path.isdir(full):
        entries = [Entry(rel, run.ws.file_oid(p, s), s.st_size, bool(s.st_mode & 0o100))
                   for rel, p, s in walk_files(full)]
        oid = hash_bytes(encode_manifest(entries)) + ".dir"
        current = _Current(Out(path, oid, sum(e.size for e in entries), len(entries)), entries)
    else:
        oid = run.ws.file_oid(full, st)
        current = _Current(Out(path, oid, st.st_size), [Entry("", oid, st.st_size)])
    run.memo[path] = current
    return current


def _forget(run: _Run, paths: Sequence[str]) -> None:
    for key in list(run.memo):
        if any(key == p or key.startswith(p + "/") or p.startswith(key + "/") for p in paths):
            del run.memo[key]


def _in_cache(run: _Run, out: Out) -> bool:
    """Are all of an out's bytes in the cache (so it can be placed)?"""
    entries = run.ws.entries_of(out)
    return entries is not None and all(run.ws.cache.has(e.oid) for e in entries)


def _edited_files(run: _Run, locked: Out, current: _Current) -> list[str]:
    """Files of an out that differ from the lock and whose bytes are in no cache."""
    known = {(e.relpath, e.oid) for e in (run.ws.entries_of(locked) or [])}
    return [f"{locked.path}/{e.relpath}" if e.relpath else locked.path
            for e in current.entries
            if (e.relpath, e.oid) not in known and not run.ws.cache.has(e.oid)]


# --- checks before anything runs ------------------------------------------------------

def _pull(run: _Run, names: list[str]) -> None:
    """Fetch what the lock says the selected stages' deps and outs hold, when the cache
    lacks it, so that they are restored instead of run (DVC's `repro --pull`)."""
    from . import sync
    from .needs import Needed

    wanted = Needed()
    for name in names:
        lock = run.locks.get(name)
        for out in (lock.deps + tuple(lock.cached_outs())) if lock else ():
            if not run.ws.cache.has(out.oid):
                wanted.add(out.oid, out.path)
    if not wanted.oids:
        return
    _, cache, remote = sync.open_named(run.ws.repo, None)
    try:
        result = sync.fetch_needed(cache, remote, wanted)
    finally:
        remote.close()
    if result.error or result.failures:  # what could not come is run instead, as in DVC
        output.warn(f"--pull: {result.error or result.failures[0][1]}")
    output.info(f"datavc: pulled {result.transferred} objects for the locked deps and outs")


def _check_deps_exist(run: _Run, names: list[str]) -> None:
    for name in names:
        if run.pipe.stages[name].frozen:
            continue  # its deps are not looked at (DVC: no error either)
        lock = run.locks.get(name)
        locked = {d.path for d in lock.deps} if lock and run.allow_missing else set()
        for dep in run.pipe.stages[name].deps:
            if dep in locked:
                continue
            if not os.path.lexists(run.root / dep) and not producers_of(run.pipe, dep):
                raise DatavcError(f"stage {name!r}: dep {dep!r} does not exist and no stage "
                                  "makes it")


def _check_hand_edits(run: _Run, names: list[str]) -> None:
    edited: list[str] = []
    for name in names:
        stage, lock = run.pipe.stages[name], run.locks.get(name)
        if stage.frozen or lock is None:
            continue
        locked = {o.path: o for o in lock.outs}
        for spec in stage.outs:
            current = _current(run, spec.path) if spec.path in locked else None
            if current and not spec.persist and current.out.oid != locked[spec.path].oid:
                edited += [f"{path} (stage {name!r})"
                           for path in _edited_files(run, locked[spec.path], current)]
    if edited:
        more = f" and {len(edited) - 1} more" if len(edited) > 1 else ""
        raise DatavcError(f"{edited[0]}{more} changed since the stage made it, and is in no "
                          "cache: repro would overwrite it",
                          "`git datavc repro --force` discards the change; or move the file away")


# --- deciding one stage ---------------------------------------------------------------

def _params_of(run: _Run, stage: Stage) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for file, keys in stage.params:
        data = params.load(run.root / file, file)
        if keys is None:
            values[file] = dict(data)
            continue
        values[file] = {}
        for key in keys:
            value = params.lookup(data, key)
            if value is params.MISSING:
                raise DatavcError(f"stage {stage.name!r}: param {key!r} is not in {file}")
            values[file][key] = value
    return values


def _deps_of(run: _Run, stage: Stage) -> list[Out]:
    lock = run.locks.get(stage.name)
    locked = {d.path: d for d in lock.deps} if lock and run.allow_missing else {}
    deps = []
    for dep in stage.deps:
        current = _current(run, dep)
        if current is None and dep in locked:
            deps.append(locked[dep])  # --allow-missing: a missing dep is taken as locked
            continue
        if current is None:
            makers = producers_of(run.pipe, dep)
            raise DatavcError(f"stage {stage.name!r}: dep {dep!r} is missing" +
                              (f" (stage {makers[0]!r} did not make it)" if makers else ""))
        deps.append(current.out)
    return deps


def _why_run(run: _Run, stage: Stage, deps: list[Out], values: dict[str, Any]) -> str | None:
    lock = run.locks.get(stage.name)
    if run.force:
        return "forced"
    if lock is None:
        return "never ran"
    if stage.always_changed or not (stage.deps or stage.outs or stage.params):
        return "always changed"  # DVC: a stage with neither deps nor outs always runs
    if lock.cmds != stage.cmds:
        return "cmd changed"
    locked_deps = {d.path: d.oid for d in lock.deps}
    for dep in deps:
        if locked_deps.get(dep.path) != dep.oid:
            return f"dep {dep.path} changed"
    if set(locked_deps) != {d.path for d in deps}:
        return "deps changed"
    if lock.params != values:
        return "params changed"
    if {o.path for o in lock.outs} != {o.path for o in stage.outs} or \
            lock.uncached != {o.path for o in stage.outs if not o.cache}:
        return "outs changed"
    return None


def _to_restore(run: _Run, stage: Stage) -> tuple[list[Out], str | None]:
    """Outs of an unchanged stage that differ from the lock, or why it must run anyway."""
    lock = run.locks[stage.name]
    locked = {o.path: o for o in lock.outs}
    restore = []
    for spec in stage.outs:
        out, current = locked[spec.path], _current(run, spec.path)
        if current is not None and current.out.oid == out.oid:
            continue
        if spec.persist and current is not None:
            return [], f"out {spec.path} changed"
        if not spec.cache:  # git, not the cache, holds it: remade as in DVC
            return [], f"out {spec.path} {'missing' if current is None else 'changed'}"
        if not _in_cache(run, out):
            if current is None and run.allow_missing:
                continue  # --allow-missing: missing data alone is no reason to run
            return [], f"out {spec.path} {'missing' if current is None else 'changed'}"
        restore.append(out)
    return restore, None


# --- doing it -------------------------------------------------------------------------

def _schedule(run: _Run, names: list[str], jobs: int) -> None:
    position = {name: i for i, name in enumerate(names)}
    pending = list(names)
    done: set[str] = set()
    must_run: set[str] = set()     # --dry: stages that would run
    running: dict[Future[tuple[int, str]], tuple[str, dict[str, Any]]] = {}
    failure: DatavcError | None = None
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            progressed = False
            for name in list(pending):
                if failure or len(running) >= jobs:
                    break
                # wait only for selected stages earlier in the order: with `-s` on a
                # pipeline with a cycle, the order given is all there is
                ups = [u for u in run.pipe.upstream[name]
                       if position.get(u, len(names)) < position[name]]
                if not all(u in done for u in ups):
                    continue
                pending.remove(name)
                progressed = True
                try:
                    job = _start(run, name, any(u in must_run for u in ups))
                except DatavcError as e:
                    failure = e
                    break
                if job is None or job == "dry-always":
                    done.add(name)
                elif job == "dry":
                    must_run.add(name)
                    done.add(name)
                elif isinstance(job, dict):
                    running[pool.submit(_run_cmds, run, run.pipe.stages[name])] = (name, job)
                break  # look again from the top: a finished stage may free earlier ones
            if failure and not running:
                break
            if progressed:
                continue
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                name, job = running.pop(fut)
                try:
                    _finish(run, name, job, fut.result())
                    done.add(name)
                except DatavcError as e:
                    failure = failure or e
    if failure:
        raise failure


def _start(run: _Run, name: str, upstream_runs: bool) -> dict[str, Any] | str | None:
    """Decide one stage and do what needs no command; returns the job to run, "dry" when
    it would run ("dry-always" when only because it is always changed), or None when it
    is done."""
    stage = run.pipe.stages[name]
    if stage.frozen:
        _restore_frozen(run, stage)
        return None
    if run.dry and upstream_runs:
        _say_would(run, name, "upstream changed")
        return "dry"
    deps, values = _deps_of(run, stage), _params_of(run, stage)
    reason = _why_run(run, stage, deps, values)
    if reason is None:
        restore, reason = _to_restore(run, stage)
        if reason is None:
            if restore:
                _restore(run, stage, restore, from_run_cache=False)
            else:
                run.result.unchanged.append(name)
                output.info(f"Stage {name!r} didn't change, skipping")
            return None
    if run.dry:
        _say_would(run, name, reason)
        # an always-changed stage usually remakes the same outs, so what depends on it is
        # judged on the workspace as it is (DVC's --dry does the same)
        return "dry-always" if reason == "always changed" else "dry"
    if run.interactive and not _confirm(name):
        output.info(f"Stage {name!r}: skipped")
        return None
    run_key = _run_key(stage, deps, values)
    cached = runcache.get(run.ws.cache.root, run_key) if run_key and not run.force else None
    if cached is not None and all(_in_cache(run, o) for o in cached):
        _restore(run, stage, cached, from_run_cache=True)
        _record(run, stage, deps, values, cached)
        return None
    _running_marker(run, name).touch()
    _clear_outs(run, stage)
    output.info(f"Running stage {name!r} ({reason}):")
    return {"deps": deps, "params": values, "key": run_key}


def _confirm(name: str) -> bool:
    """`repro -i`: one answer per stage from stdin; no answer (end of input) is a no."""
    import sys

    print(f"Going to reproduce stage {name!r}. Are you sure you want to continue? [y/n] ",
          end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not sys.stdin.isatty():  # the answer was not echoed: end the prompt's line
        print(file=sys.stderr)
    return answer.strip().lower() in ("y", "yes")


def _say_would(run: _Run, name: str, reason: str) -> None:
    run.result.would_run.append(name)
    output.info(f"Would run stage {name!r} ({reason})")


def _run_key(stage: Stage, deps: list[Out], values: dict[str, Any]) -> str | None:
    """The run-cache key, or None when the run-cache does not apply (as in DVC: no deps,
    no outs, persistent outs, or a stage that always changes)."""
    if not (stage.deps or stage.params) or not stage.outs or stage.always_changed or \
            any(o.persist for o in stage.outs):
        return None
    return runcache.key(stage.cmds, stage.wdir, deps, values,
                        [(o.path, o.cache) for o in stage.outs])


def _restore_frozen(run: _Run, stage: Stage) -> None:
    run.result.frozen.append(stage.name)
    lock = run.locks.get(stage.name)
    if lock is None:  # as DVC: take the workspace's outs as the stage's, run nothing
        output.info(f"Verifying outputs in frozen stage {stage.name!r}")
        missing = [o.path for o in stage.outs if not os.path.lexists(run.root / o.path)]
        if missing:
            raise DatavcError(f"frozen stage {stage.name!r} never ran and its out "
                              f"{missing[0]!r} does not exist", "unfreeze it to run it")
        for dep in stage.deps:
            if _current(run, dep) is None:
                raise DatavcError(f"frozen stage {stage.name!r}: dep {dep!r} does not exist")
        if not run.dry:
            outs = [snapshot(run.ws, run.root / spec.path, link=spec.cache)
                    for spec in stage.outs]
            _forget(run, [o.path for o in stage.outs])
            _record(run, stage, _deps_of(run, stage), _params_of(run, stage), outs)
        return
    restore = []
    for out in lock.outs:  # put back what is missing or replaced by other cached bytes
        current = _current(run, out.path)
        if current is not None and current.out.oid == out.oid:
            continue
        edited = _edited_files(run, out, current) if current else []
        if edited:
            output.warn(f"{edited[0]}: out of the frozen stage {stage.name!r} was changed")
        elif _in_cache(run, out):
            restore.append(out)
    if restore and not run.dry:
        _place(run, restore, lock.uncached)


def _restore(run: _Run, stage: Stage, outs: list[Out], from_run_cache: bool) -> None:
    (run.result.run_cache if from_run_cache else run.result.restored).append(stage.name)
    where = "the run-cache" if from_run_cache else "the cache"
    if run.dry:  # write nothing; later stages see the outs as they would be
        for out in outs:
            entries = run.ws.entries_of(out) or []
            run.memo[out.path] = _Current(out, entries)
        output.info(f"Stage {stage.name!r}: outs would be restored from {where}")
        return
    _place(run, outs, frozenset(o.path for o in stage.outs if not o.cache))
    output.info(f"Stage {stage.name!r}: outs restored from {where}")


def _place(run: _Run, outs: list[Out], uncached: frozenset[str] = frozenset()) -> None:
    """Put outs back from the cache; outs with `cache: false` as plain copies, since
    they are usually committed to git and edited like any file."""
    records = run.ws.records()
    for out in outs:  # compare every file again: the workspace no longer matches the record
        records.pop(out.path, None)
    run.ws.save_records(records)
    copies = replace(run.ws, linker=Linker(("copy",)))
    report = checkout_outs(run.ws, [(run.root / o.path, o) for o in outs
                                    if o.path not in uncached], force=run.force)
    more = checkout_outs(copies, [(run.root / o.path, o) for o in outs if o.path in uncached],
                         force=run.force)
    _forget(run, [o.path for o in outs])
    problems = report.missing + report.kept + more.missing + more.kept
    if problems:
        raise DatavcError(f"could not restore {problems[0]}")


def _as_locked(run: _Run, name: str, path: str) -> bool:
    """An out exactly as the stage's lock entry records it: the stage made these bytes, so
    removing them before it runs again loses nothing (DVC removes such outs as well). This
    is what lets a `cache: false` out run again after `gc` dropped its cache copy."""
    lock = run.locks.get(name)
    locked = {o.path: o for o in lock.outs} if lock else {}
    current = _current(run, path) if path in locked else None
    return current is not None and current.out.oid == locked[path].oid


def _clear_outs(run: _Run, stage: Stage) -> None:
    """Remove outs before the command runs (their bytes are cached, or `force` said so);
    persistent outs stay, as writable copies."""
    for spec in stage.outs:
        path = run.root / spec.path
        if spec.persist:
            files = [p for _, p, _ in walk_files(path)] if path.is_dir() else \
                [str(path)] if path.is_file() else []
            for file in files:
                unprotect(file)
            continue
        report = Report()
        force = run.force or not spec.cache and _as_locked(run, stage.name, spec.path)
        if not remove_path(run.ws, path, spec.path, force, report):
            raise DatavcError(f"{report.kept[0]} (stage {stage.name!r}) is in no cache: "
                              "repro would overwrite it", "`--force` discards it")
        path.parent.mkdir(parents=True, exist_ok=True)
    _forget(run, [o.path for o in stage.outs])


def _run_cmds(run: _Run, stage: Stage) -> tuple[int, str]:
    """Runs in a worker thread: the stage's commands, one after the other."""
    # DVC's names too: tools such as dvclive look for DVC_ROOT to know that a pipeline runs
    # them (and, without it, open the project as a DVC repository themselves)
    env = {**os.environ, "DATAVC_ROOT": str(run.root), "DATAVC_STAGE": stage.name,
           "DVC_ROOT": str(run.root), "DVC_STAGE": stage.name}
    cwd = run.root / stage.wdir
    prefix = f"[{stage.name}] " if run.prefix else ""
    for cmd in stage.cmds:
        output.info(f"{prefix}> {cmd}")
        code = git.run_command(cmd, cwd, env, prefix)
        if code != 0:
            return code, cmd
    return 0, ""


def _finish(run: _Run, name: str, job: dict[str, Any], outcome: tuple[int, str]) -> None:
    stage = run.pipe.stages[name]
    code, cmd = outcome
    missing = [o.path for o in stage.outs if not os.path.lexists(run.root / o.path)]
    if code != 0 or missing:
        _keep_leftovers(run, stage)
        _running_marker(run, name).unlink(missing_ok=True)
        if code != 0:
            raise DatavcError(f"stage {name!r} failed: `{cmd}` exited with {code}")
        raise DatavcError(f"stage {name!r} did not make its out {missing[0]!r}")
    outs = [snapshot(run.ws, run.root / spec.path, link=spec.cache) for spec in stage.outs]
    _forget(run, [o.path for o in stage.outs])
    if job["key"]:
        runcache.put(run.ws.cache.root, job["key"], outs)
    _record(run, stage, job["deps"], job["params"], outs)
    _running_marker(run, name).unlink(missing_ok=True)
    run.result.ran.append(name)


def _running_marker(run: _Run, name: str) -> Path:
    """`.git/datavc/repro-running/<hash of the stage name>`: there while the stage's outs
    are cleared and its commands run. One left by a killed repro says the outs hold that
    run's half-made output, not the user's edits."""
    folder = run.ws.repo.git_dir / "datavc" / "repro-running"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / hash_bytes(name.encode())[:32]


def _keep_leftovers_of_killed_runs(run: _Run) -> None:
    """Outs a killed repro left half-made go into the cache, as a failed run's do, so the
    rerun can clear them as the stage's own instead of refusing them as hand edits."""
    for name, stage in run.pipe.stages.items():
        marker = _running_marker(run, name)
        if marker.exists():
            _keep_leftovers(run, stage)
            marker.unlink()


def _keep_leftovers(run: _Run, stage: Stage) -> None:
    """What a failed run left at its outs goes into the cache, as it is: the next repro
    may then clear it as the stage's own (DVC removes outs before every run), and no byte
    is lost if it was worth keeping. The workspace files stay for the user to look at."""
    for spec in stage.outs:
        if os.path.lexists(run.root / spec.path):
            snapshot(run.ws, run.root / spec.path, link=False)
    _forget(run, [o.path for o in stage.outs])


def _record(run: _Run, stage: Stage, deps: list[Out], values: dict[str, Any],
            outs: list[Out]) -> None:
    """Write the stage's lock entry, keeping the lock in pipeline order."""
    run.locks[stage.name] = StageLock(stage.cmds, tuple(deps), values, tuple(outs),
                                      frozenset(o.path for o in stage.outs if not o.cache),
                                      stage.cmd_list)
    for spec in stage.outs:
        if spec.cache:
            ignore_out(run.ws, run.root / spec.path)
    _write_lock(run)


def _write_lock(run: _Run) -> None:
    ordered = {n: run.locks[n] for n in run.pipe.stages if n in run.locks}
    lockfile.write(run.root / LOCK, ordered)


def _drop_removed_stages(run: _Run) -> None:
    if any(name not in run.pipe.stages for name in run.locks):
        _write_lock(run)


# --- `git datavc status` of stages ----------------------------------------------------

def stage_changes(ws: Workspace, pipe: Pipeline) -> dict[str, list[Any]]:
    """What `status` says about each stage, in DVC's shape: for each stage whose own cmd,
    deps, params or outs differ from its lock entry, a list of `"changed command"`,
    `"always changed"`, `{"changed deps": {path: new|modified|deleted, params file: {key:
    ...}}}` and `{"changed outs": {path: ...}}`. Each stage is judged on the workspace as
    it is (a stage downstream of a changed one is not listed until its deps change), as
    DVC's status does; nothing runs and nothing is written."""
    run = _Run(ws, pipe, lockfile.read(ws.repo.root / LOCK), force=False, dry=True)
    found: dict[str, list[Any]] = {}
    for name in pipe.order(set(pipe.stages)):
        stage, lock = pipe.stages[name], run.locks.get(name)
        changes: list[Any] = []
        if stage.always_changed or not (stage.deps or stage.outs or stage.params):
            changes.append("always changed")
        if lock is not None and lock.cmds != stage.cmds and not stage.frozen:
            changes.append("changed command")
        deps = {} if stage.frozen else _changed_deps(run, stage, lock)
        if deps:
            changes.append({"changed deps": deps})
        outs = _changed_outs(run, stage, lock)
        if outs:
            changes.append({"changed outs": outs})
        if changes:
            found[name] = changes
    return found


def _changed_deps(run: _Run, stage: Stage, lock: StageLock | None) -> dict[str, Any]:
    locked = {d.path: d.oid for d in lock.deps} if lock else {}
    changed: dict[str, Any] = {}
    for dep in stage.deps:
        current = _current(run, dep)
        if current is None:
            changed[dep] = "deleted"
        elif dep not in locked:
            changed[dep] = "new"
        elif locked[dep] != current.out.oid:
            changed[dep] = "modified"
    try:
        values = _params_of(run, stage)
    except DatavcError:
        values = {}
    for file, keys in values.items():
        before = lock.params.get(file, {}) if lock else {}
        diff = {k: "new" if k not in before else "modified"
                for k, v in keys.items() if before.get(k, _ABSENT) != v}
        diff.update({k: "deleted" for k in before if k not in keys})
        if diff:
            changed[file] = diff
    return changed


def _changed_outs(run: _Run, stage: Stage, lock: StageLock | None) -> dict[str, str]:
    locked = {o.path: o for o in lock.outs} if lock else {}
    changed: dict[str, str] = {}
    for spec in stage.outs:
        current = _current(run, spec.path)
        if current is None:
            changed[spec.path] = "deleted"
        elif spec.path not in locked:
            changed[spec.path] = "new" if lock else "not in cache"
        elif current.out.oid != locked[spec.path].oid:
            changed[spec.path] = "modified"
        elif spec.cache and not _in_cache(run, locked[spec.path]):
            changed[spec.path] = "not in cache"
    return changed


_ABSENT = object()


# --- `git datavc commit` of stages ------------------------------------------------------

def commit_stages(ws: Workspace, pipe: Pipeline, names: list[str]) -> list[str]:
    """Record the workspace's deps, params and outs of `names` in the lock without running
    anything (DVC's `dvc commit` of a stage): after fixing an out by hand, or after running
    a stage's command yourself. Returns the stages whose lock entry changed. A frozen stage
    is committed too: committing is asked for by name."""
    run = _Run(ws, pipe, lockfile.read(ws.repo.root / LOCK), force=False, dry=False)
    ws.preload_state()
    changed = []
    try:
        for name in names:
            stage = pipe.stages[name]
            missing = [o.path for o in stage.outs if not os.path.lexists(run.root / o.path)]
            if missing:
                raise DatavcError(f"stage {name!r}: out {missing[0]!r} does not exist; nothing "
                                  "to record", f"run `git datavc repro {name}` instead")
            deps, values = _deps_of(run, stage), _params_of(run, stage)
            before = run.locks.get(name)
            outs = [snapshot(ws, run.root / spec.path, link=spec.cache) for spec in stage.outs]
            _forget(run, [o.path for o in stage.outs])
            _record(run, stage, deps, values, outs)
            if before != run.locks[name]:
                changed.append(name)
    finally:
        ws.state.commit()
    return changed
