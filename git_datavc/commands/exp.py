"""`exp run|show|diff|apply|branch|remove|push|pull`: experiments (see experiments.py for
how they are stored, exp_run.py for how they run)."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any, Sequence

from typing import TYPE_CHECKING

from .. import exp_run, experiments, git, output
from ..errors import UsageError
from ..experiments import Experiment

if TYPE_CHECKING:  # the rest is imported by the actions that need it: `exp run` starts light
    from ..workspace import Workspace


# --- run ------------------------------------------------------------------------------

def run(sets: Sequence[str], set_new: bool, name: str | None, queue: bool, run_all: bool,
        jobs: int, targets: Sequence[str] = ()) -> int:
    if jobs < 1:
        raise UsageError("-j must be at least 1")
    repo = git.find_repo()
    if run_all:
        if sets or name or queue or targets:
            raise UsageError("--run-all runs the queue: -S, --name, --queue and stages do "
                             "not apply")
        return _run_all(repo, jobs)
    spec = exp_run.prepare(repo, sets, name, set_new, targets)
    if queue:
        experiments.save_spec(repo, spec)
        print(f"Queued experiment {spec.name!r} for future execution.")
        return 0
    exp = exp_run.run_one(repo, spec, sys.stderr)
    if exp.state == "failed":
        output.error(f"experiment {exp.name!r} failed: {exp.error}",
                     f"kept as {exp.ref}; `git datavc exp show` lists it")
        return 1
    print(f"Ran experiment {exp.name!r} ({exp.ref}); the workspace is unchanged.")
    output.info(f"`git datavc exp apply {exp.name}` brings its results into the workspace")
    return 0


def _run_all(repo: git.Repo, jobs: int) -> int:
    if not experiments.queued(repo):
        print("no queued experiments")
        return 0
    lines = _Progress()
    try:
        done = exp_run.run_queue(repo, jobs, lines.update)
    finally:
        lines.close()
    failed = [e for e in done if e.state == "failed"]
    print(f"{len(done) - len(failed)} experiments succeeded, {len(failed)} failed")
    for exp in failed:
        output.warn(f"{exp.name}: {exp.error} (log: .git/datavc/exps/logs/{exp.name}.log)")
    return 1 if failed else 0


class _Progress:
    """One line per experiment: a tqdm line each on a terminal, else a printed line at
    each change of state."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}
        self.states: dict[str, str] = {}
        self.tty = sys.stderr.isatty()

    def update(self, name: str, state: str, elapsed: float) -> None:
        text = f"{name:<20} {state:<8} {elapsed:7.1f}s"
        if self.tty:
            from tqdm import tqdm

            if name not in self.bars:
                columns, rows = _tty_size()
                self.bars[name] = tqdm(total=0, bar_format="{desc}", position=len(self.bars),
                                       file=sys.stderr, leave=True, ncols=columns,
                                       nrows=rows)
            self.bars[name].set_description_str(text)
        elif self.states.get(name) != state:
            print(text.rstrip(), file=sys.stderr, flush=True)
        self.states[name] = state

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _tty_size() -> tuple[int, int]:
    """The terminal's (columns, rows); 80 x 24 where it reports none (a pty nobody sized),
    on which tqdm would draw empty lines."""
    import os

    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except OSError:
        return 80, 24
    return (size.columns if size.columns > 0 else 80), (size.lines if size.lines > 0 else 24)


# --- show -----------------------------------------------------------------------------

def show(every: bool, fmt: str, sort_by: str | None, sort_order: str) -> int:
    from ..workspace import Workspace

    ws = Workspace.open()
    try:
        rows, columns = _rows(ws, every)
    finally:
        ws.close()
    if sort_by:
        rows = rows[:2] + _sorted(rows[2:], columns, sort_by, sort_order)
    if fmt == "json":
        print(json.dumps([{k: v for k, v in r.items() if k != "cells"} for r in rows],
                         indent=2, default=str))
        return 0
    headers = ["Experiment", "Created", "State"] + [c[2] for c in columns]
    body = [[r["name"], r["created"], r["state"]] +
            [r["cells"].get((kind, file, key)) for kind, file, key, _ in columns]
            for r in rows]
    print(_format(fmt, headers, body))
    return 0


def _rows(ws: Workspace, every: bool) -> tuple[list[dict[str, Any]], list[tuple[str, ...]]]:
    from .. import exp_workspace

    files = exp_workspace.files_of(ws)
    base = ws.repo.git("rev-parse", "-q", "--verify", "HEAD", check=False).decode().strip()
    branch = ws.repo.git("branch", "--show-current", check=False).decode().strip()
    rows = [_row(ws, files, None, "workspace", "-", "-", {})]
    if base:
        date = ws.repo.git("log", "-1", "--format=%cI", base).decode().strip()
        rows.append(_row(ws, files, base, branch or base[:7], date, "-", {"rev": base}))
    for exp in experiments.everything(ws.repo):
        if every or exp.baseline == base:
            rows.append(_row(ws, files, None if exp.state == "queued" else exp.rev, exp.name,
                             exp.created, exp.state, _about(exp)))
    return rows, _columns(rows)


def _about(exp: Experiment) -> dict[str, Any]:
    return {"rev": exp.rev, "baseline": exp.baseline, "ref": exp.ref, "sets": exp.sets,
            "error": exp.error}


def _row(ws: Workspace, files: Any, rev: str | None, name: str, created: str,
         state: str, about: dict[str, Any]) -> dict[str, Any]:
    from .. import exp_workspace

    if state == "queued":  # not run yet: only what -S will set is known
        from ..exp_params import parse_set

        sets = [parse_set(s) for s in about["sets"]]
        params: exp_workspace.Values = {}
        for s in sets:
            params.setdefault(s.file, {})[s.key] = s.value
        metrics: exp_workspace.Values = {}
    else:
        params, metrics = exp_workspace.values_at(ws, files, rev)
    cells = {("metrics", f, k): v for f, keys in metrics.items() for k, v in keys.items()}
    cells.update({("params", f, k): v for f, keys in params.items() for k, v in keys.items()})
    return {"name": name, "created": created[:16].replace("T", " "), "state": state, **about,
            "metrics": metrics, "params": params, "cells": cells}


def _columns(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """(kind, file, key, label): metrics first, then params; a key is labelled FILE:KEY
    only where two files of its kind have it."""
    keys = list(dict.fromkeys(c for r in rows for c in r["cells"]))
    keys.sort(key=lambda c: c[0] != "metrics")
    columns: list[tuple[str, ...]] = []
    for kind, file, key in keys:
        shared = sum(1 for k, _, other in keys if k == kind and other == key) > 1
        columns.append((kind, file, key, f"{file}:{key}" if shared else key))
    return columns


def _sorted(rows: list[dict[str, Any]], columns: list[tuple[str, ...]], sort_by: str,
            order: str) -> list[dict[str, Any]]:
    matches = [c for c in columns if sort_by in (c[3], f"{c[1]}:{c[2]}", c[2])]
    if not matches:
        raise UsageError(f"--sort-by {sort_by!r}: no such param or metric")
    column = matches[0][:3]
    have = [r for r in rows if isinstance(r["cells"].get(column), (int, float, str))]
    lacking = [r for r in rows if r not in have]
    try:
        have.sort(key=lambda r: r["cells"][column], reverse=order == "desc")
    except TypeError:  # numbers and text mixed: compare as text
        have.sort(key=lambda r: str(r["cells"][column]), reverse=order == "desc")
    return have + lacking


def _format(fmt: str, headers: list[str], body: list[list[Any]]) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([["" if v is None else v for v in row] for row in body])
        return buf.getvalue().rstrip("\n")
    if fmt == "md":
        cells = [[_md(v) for v in row] for row in body]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
    from .metrics import table

    return table(headers, body)


def _md(value: Any) -> str:
    text = "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|")


# --- diff, apply, branch, remove ------------------------------------------------------

def diff(a: str | None, b: str | None, as_json: bool) -> int:
    from .. import exp_workspace
    from ..workspace import Workspace
    from .metrics import print_diff

    ws = Workspace.open()
    try:
        if a is None:
            a = "HEAD"
        old_rev, old_label = exp_workspace.revision(ws, a)
        new_rev, new_label = exp_workspace.revision(ws, b)
        files = exp_workspace.files_of(ws)
        old_p, old_m = exp_workspace.values_at(ws, files, old_rev)
        new_p, new_m = exp_workspace.values_at(ws, files, new_rev)
    finally:
        ws.close()
    from .. import compare

    params, metrics = compare.diff(old_p, new_p), compare.diff(old_m, new_m)
    if as_json:
        print(json.dumps({"params": params, "metrics": metrics}, indent=2, default=str))
        return 0
    print_diff(params, old_label, False, "Param", new_label)
    print()
    print_diff(metrics, old_label, False, "Metric", new_label)
    return 0


def apply(name: str, force: bool) -> int:
    from .. import exp_workspace
    from ..workspace import Workspace
    from .checkout import print_report

    ws = Workspace.open()
    try:
        exp, changed, report = exp_workspace.apply(ws, name, force)
    finally:
        ws.close()
    print_report(report)
    if exp.state == "failed":
        output.warn(f"{exp.name} is a failed experiment: {exp.error}")
    print(f"Applied experiment {exp.name!r}: {len(changed)} files changed, "
          f"{report.placed} data files placed")
    return 1 if report.missing else 0


def branch(name: str, new_branch: str) -> int:
    exp = experiments.branch(git.find_repo(), name, new_branch)
    print(f"Branch {new_branch!r} created from experiment {exp.name!r} ({exp.rev[:7]})")
    return 0


def remove(names: Sequence[str], every: bool) -> int:
    if not names and not every:
        raise UsageError("name the experiments to remove, or pass --all")
    if names and every:
        raise UsageError("--all removes every experiment: name none")
    gone = experiments.remove(git.find_repo(), list(names), every)
    print(f"Removed {len(gone)} experiments" + (f": {', '.join(gone)}" if gone else ""))
    return 0


def push(git_remote: str, names: Sequence[str], data_remote: str | None, force: bool) -> int:
    from .. import exp_sync

    moved = exp_sync.push(git.find_repo(), git_remote, list(names), data_remote, force)
    print(f"Pushed {len(moved.refs)} experiments to {git_remote} ({moved.objects} data "
          f"objects uploaded, {moved.present} already there)")
    return 0


def pull(git_remote: str, names: Sequence[str], data_remote: str | None, force: bool) -> int:
    from .. import exp_sync

    moved = exp_sync.pull(git.find_repo(), git_remote, list(names), data_remote, force)
    print(f"Pulled {len(moved.refs)} experiments from {git_remote} ({moved.objects} data "
          f"objects fetched, {moved.present} already there)")
    return 0
