"""`import-dvc`: convert a DVC repository for good.

`X.dvc` becomes `X.datavc`, `dvc.lock`'s stages become `datavc.lock` entries, and the bytes
they name enter the BLAKE3 cache: from the workspace when they still match DVC's md5, else
from DVC's cache (`.dvc/cache`, both layouts), else, when asked, from a DVC remote. Every
file, every object and every manifest is checked against its md5 first.

Order of work, so that a failure leaves the repository as it was: read and validate every
`.dvc` file and the whole dvc.lock (a malformed one stops everything, nothing written);
convert (objects into the cache); make the objects durable; only then write `.datavc`
files and `datavc.lock`, and remove the `.dvc` files and dvc.lock they replace. A dry run
does all the reading and checking and writes nothing.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field, replace

from . import dvcrepo, lockfile, metafile, pipeline
from .add import ignore_out
from .dvcobjects import ObjectSource, cache_source, remote_source
from .lockfile import StageLock
from .metafile import Out
from .pipeline import LOCK
from .takeover import Converter, ParsedStage, Stats, convert_stage, parse_stage, read_dvc_lock
from .workspace import Workspace


@dataclass
class Report:
    metafiles: list[tuple[str, str, list[Out]]] = field(default_factory=list)  # (.dvc, .datavc)
    stages: dict[str, StageLock] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)      # "what: why"
    stats: Stats = field(default_factory=Stats)
    lock_removed: bool = False
    remotes: dict[str, str] = field(default_factory=dict)  # DVC remotes: name -> url

    @property
    def converted(self) -> int:
        return len(self.metafiles) + len(self.stages)


def dvc_files(ws: Workspace) -> list[str]:
    """The `.dvc` files of the work tree (committed or not, ignored ones left out)."""
    return dvcrepo.dvc_files(ws.repo)


def import_dvc(ws: Workspace, dry_run: bool = False, fetch: bool = False,
               remote: str | None = None) -> Report:
    root = ws.repo.root
    report = Report()
    # 1. read and validate everything: any malformed file stops here, before any write
    config = dvcrepo.read_config(root)
    report.remotes = {n: v["url"] for n, v in dvcrepo.remotes(config).items()}
    files = [dvcrepo.load_dvcfile(root, rel) for rel in dvc_files(ws)]
    stages = _parse_stages(ws, report)
    sources: list[ObjectSource] = [cache_source(root, config)]
    if fetch:
        sources.append(remote_source(root, config, remote))
    # 2. convert: objects into the cache (nothing at all in a dry run)
    conv = Converter(ws, sources, store=not dry_run)
    report.stats = conv.stats
    for dvcfile in files:
        _convert_file(conv, dvcfile, report)
    existing = lockfile.read(root / LOCK)
    for name, (stage, parsed) in stages.items():
        if name in existing:
            report.skipped.append(f"stage {name!r}: {LOCK} has an entry for it already")
            continue
        result = convert_stage(conv, stage, parsed)
        if isinstance(result, str):
            report.skipped.append(f"stage {name!r}: {result}")
        else:
            report.stages[name] = result
    if dry_run:
        return report
    conv.finish()       # 3. the objects are durable: now the files that name them
    _write(ws, report, existing, stages)
    return report


def _parse_stages(ws: Workspace, report: Report) -> dict[str, tuple[pipeline.Stage, ParsedStage]]:
    dvc = read_dvc_lock(ws.repo.root)
    if not dvc:
        return {}
    if pipeline.find(ws.repo.root) is None:
        report.skipped += [f"stage {n!r}: no dvc.yaml defines it" for n in dvc]
        return {}
    pipe = pipeline.load(ws.repo.root)
    stages = {}
    for name, entry in dvc.items():
        if name not in pipe.stages:
            report.skipped.append(f"stage {name!r}: not in {pipe.file} any more")
            continue
        stages[name] = (pipe.stages[name], parse_stage(name, pipe.stages[name], entry))
    return stages


def _convert_file(conv: Converter, dvcfile: dvcrepo.DvcFile, report: Report) -> None:
    if dvcfile.unsupported:
        report.skipped.append(f"{dvcfile.path}: {dvcfile.unsupported}")
        return
    target = dvcfile.path[: -len(dvcrepo.SUFFIX)] + metafile.SUFFIX
    if (conv.root / target).exists():
        report.skipped.append(f"{dvcfile.path}: {target} exists already")
        return
    base = posixpath.dirname(dvcfile.path)
    outs = []
    for out in dvcfile.outs:
        rel = posixpath.relpath(out.path, base or ".")
        if rel.startswith("../"):
            report.skipped.append(f"{dvcfile.path}: out {out.path} is outside the folder of "
                                  "the .dvc file, which a .datavc file cannot express")
            return
        done = conv.convert(out, keep=True, link=out.cache)
        if isinstance(done, str):
            report.skipped.append(f"{dvcfile.path}: {done}")
            return
        outs.append(replace(done, path=rel))
    report.metafiles.append((dvcfile.path, target, outs))


def _write(ws: Workspace, report: Report, existing: dict[str, StageLock],
           stages: dict[str, tuple[pipeline.Stage, ParsedStage]]) -> None:
    root = ws.repo.root
    for source, target, outs in report.metafiles:
        metafile.write(root / target, outs)
        for out in outs:
            ignore_out(ws, (root / target).parent / out.path)
        os.unlink(root / source)
    if report.stages:
        merged = {**existing, **report.stages}
        order = list(stages) + [n for n in merged if n not in stages]
        lockfile.write(root / LOCK, {n: merged[n] for n in order if n in merged})
        for name, lock in report.stages.items():
            for out in lock.cached_outs():
                ignore_out(ws, root / out.path)
    dvc_stages = read_dvc_lock(root)
    if dvc_stages and all(n in report.stages or n in existing for n in dvc_stages):
        os.unlink(root / dvcrepo.LOCK)
        report.lock_removed = True
