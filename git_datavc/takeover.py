"""Taking over what DVC recorded: an out of a `.dvc` file or a dep/out of a `dvc.lock` stage,
known by its md5, becomes a git-datavc out (BLAKE3) once bytes with that md5 are found.

The bytes come from the workspace first, else from DVC's cache or remote (`ObjectSource`s).
Each file is read once: md5 (to prove it is what DVC recorded) and BLAKE3 are computed from
the same blocks, and when the bytes must be kept they go into the cache in that same read.
Nothing is written when `store` is false (dry runs), and a workspace file is relinked to the
cache only after every object is durable (DESIGN.md §3).

`adopt_lock` is what `repro` calls: the stages that have no `datavc.lock` entry but a
`dvc.lock` entry whose md5s still match get a `datavc.lock` entry, so they are up to date
instead of running again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import dvcrepo, lockfile, output
from .cache import Writer
from .dvcobjects import ObjectSource, cache_source
from .dvcrepo import CHUNK, DvcOut, DvcStage, Md5
from .errors import DatavcError
from .hashing import hash_bytes, new_hasher
from .lockfile import StageLock
from .metafile import Entry, Out, encode_manifest
from .pipeline import LOCK, Pipeline, Stage
from .workspace import Workspace, check_inside


@dataclass
class Stats:
    files: int = 0
    bytes: int = 0
    from_workspace: int = 0                                  # files
    from_source: dict[str, int] = field(default_factory=dict)  # source name -> files


class _Mismatch(Exception):
    """Bytes whose md5 is not the one DVC recorded (raised inside a cache write: it is
    abandoned, nothing enters the cache)."""


@dataclass
class Converter:
    ws: Workspace
    sources: list[ObjectSource]
    store: bool                 # False: a dry run, nothing is written anywhere
    stats: Stats = field(default_factory=Stats)
    writer: Writer | None = None
    _memo: dict[tuple[str, str], tuple[Out, bool]] = field(default_factory=dict)
    _place: list[tuple[str, str, bool]] = field(default_factory=list)   # relink after flush
    _remember: list[tuple[str, str]] = field(default_factory=list)
    _records: dict[str, str] = field(default_factory=dict)
    _manifests: list[str] = field(default_factory=list)
    _last_md5: str = ""         # md5 of the file `_digest` read last

    def __post_init__(self) -> None:
        if self.store:
            self.writer = self.ws.cache.writer(auto_flush=True)

    @property
    def root(self) -> Path:
        return self.ws.repo.root

    def convert(self, out: DvcOut, keep: bool, link: bool = True) -> Out | str:
        """The out with BLAKE3 ids, or why it cannot be: `keep` puts its bytes in the cache,
        `link` then relinks the workspace files to the cache (not for `cache: false`)."""
        hit = self._memo.get((out.path, out.md5))
        if hit and (hit[1] or not keep):
            return hit[0]
        result = self._from_workspace(out, keep, link)
        if isinstance(result, str) and keep and self.sources:
            fetched = self._from_sources(out)
            result = fetched if isinstance(fetched, Out) else f"{result}; {fetched}"
        if isinstance(result, Out):
            self._memo[(out.path, out.md5)] = (result, keep)
        return result

    # --- the workspace -------------------------------------------------------------------

    def _from_workspace(self, out: DvcOut, keep: bool, link: bool) -> Out | str:
        full = self.root / out.path
        check_inside(self.root, full)
        if not full.exists():
            return f"{out.path} is not in the workspace"
        if full.is_dir() != out.is_dir:
            return f"{out.path} is a {'folder' if full.is_dir() else 'file'} in the workspace"
        if not out.is_dir:
            try:
                oid, size = self._hash(str(full), out.legacy, keep, out.md5)
            except _Mismatch:
                return f"{out.path} changed since DVC recorded it"
            self._took(str(full), out.path, oid, keep and link, False)
            self.stats.from_workspace += 1
            return Out(out.path, oid, size)
        files: list[tuple[str, str, bool, str, str, int]] = []
        for rel, abspath, st in self.ws.walk(full):
            oid, size = self._hash(abspath, out.legacy, keep, None)
            files.append((rel, abspath, bool(st.st_mode & 0o100), self._last_md5, oid, size))
        if dvcrepo.manifest_md5((f[0], f[3]) for f in files) != out.md5:
            return f"{out.path} changed since DVC recorded it"
        for rel, abspath, isexec, _, oid, _ in files:
            self._took(abspath, None, oid, keep and link, isexec)
        self.stats.from_workspace += len(files)
        result = self._dir_out(out.path, [Entry(f[0], f[4], f[5], f[2]) for f in files])
        if keep and link:
            self._records[out.path] = result.oid
        return result

    def _hash(self, path: str, legacy: bool, keep: bool, expect: str | None) -> tuple[str, int]:
        """(BLAKE3, size) of a file, its md5 left in `_last_md5`; in the cache when `keep`."""
        with open(path, "rb") as f:
            return self._digest(f, os.fstat(f.fileno()).st_size, legacy, keep, expect)

    def _digest(self, stream: Any, size: int, legacy: bool, keep: bool,
                expect: str | None) -> tuple[str, int]:
        md5 = Md5(legacy)

        def blocks() -> Iterator[bytes]:
            while block := stream.read(CHUNK):   # whole 1 MiB reads, as DVC 2 hashed them
                md5.update(block)
                yield block
            self._last_md5 = md5.hexdigest()
            if expect is not None and self._last_md5 != expect:
                raise _Mismatch()

        if keep and self.writer is not None:
            oid, total = self.writer.add_chunks(blocks(), size)
        else:
            hasher, total = new_hasher(size), 0
            for block in blocks():
                hasher.update(block)
                total += len(block)
            oid = str(hasher.hexdigest())
        self.stats.files += 1
        self.stats.bytes += total
        return oid, total

    def _took(self, abspath: str, rel: str | None, oid: str, link: bool, isexec: bool) -> None:
        if link and self.store:
            self._place.append((abspath, oid, isexec))
            if rel is not None:
                self._records[rel] = oid
        self._remember.append((abspath, oid))

    def _dir_out(self, path: str, entries: list[Entry]) -> Out:
        data = encode_manifest(entries)
        if self.writer is not None:
            oid = self.writer.add_chunks([data], len(data), suffix=".dir")[0]
            self._manifests.append(oid)
        else:
            oid = hash_bytes(data) + ".dir"
        return Out(path, oid, sum(e.size for e in entries), len(entries))

    # --- DVC's cache and remotes ---------------------------------------------------------

    def _from_sources(self, out: DvcOut) -> Out | str:
        if not out.is_dir:
            found = self._fetch(out.md5, out.legacy)
            return Out(out.path, *found) if found else \
                f"its md5 {out.md5} is not in {self._where()}"
        manifest = self._fetch_manifest(out.md5, out.legacy)
        if manifest is None:
            return f"its manifest {out.md5} is not in {self._where()}"
        entries = []
        for rel, md5 in manifest:
            found = self._fetch(md5, out.legacy)
            if found is None:
                return f"{out.path}/{rel} (md5 {md5}) is not in {self._where()}"
            entries.append(Entry(rel, found[0], found[1]))
        return self._dir_out(out.path, entries)

    def _where(self) -> str:
        return " or ".join(s.name for s in self.sources)

    def _fetch(self, md5: str, legacy: bool) -> tuple[str, int] | None:
        """(BLAKE3, size) of the first object with this md5 in the sources, in the cache."""
        for source in self.sources:
            stream = source.open(dvcrepo.object_key(md5, legacy))
            if stream is None:
                continue
            try:
                with stream:
                    found = self._digest(stream, 0, legacy, True, md5)
            except _Mismatch:
                output.warn(f"object {md5} in {source.name} is corrupt: not used")
                continue
            self.stats.from_source[source.name] = self.stats.from_source.get(source.name, 0) + 1
            return found
        return None

    def _fetch_manifest(self, md5: str, legacy: bool) -> list[tuple[str, str]] | None:
        for source in self.sources:
            stream = source.open(dvcrepo.object_key(md5, legacy))
            if stream is None:
                continue
            with stream:
                data = stream.read()
            if _md5(data) != md5[:-4]:
                output.warn(f"manifest {md5} in {source.name} is corrupt: not used")
                continue
            return dvcrepo.parse_manifest(data, f"DVC manifest {md5}")
        return None

    # --- the end -------------------------------------------------------------------------

    def finish(self) -> None:
        """Make the objects durable, then relink workspace files to them and remember what
        each file holds (no file is hashed again by later commands)."""
        if not self.store or self.writer is None:
            return
        self.writer.flush()
        for oid in self._manifests:
            self.ws.mark_manifest_checked(oid)
        for abspath, oid, isexec in self._place:
            if not self.ws.linker.links:     # plain copies: the workspace file is one already
                break
            self.ws.linker.place(self.ws.cache.path_str(oid), abspath, isexec)
        self.ws.remember_many(self._remember)
        if self._records:
            records = self.ws.records()
            records.update(self._records)
            self.ws.save_records(records)
        self.ws.state.commit()


def _md5(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# --- dvc.lock stages ---------------------------------------------------------------------

@dataclass(frozen=True)
class ParsedStage:
    deps: tuple[DvcOut | str, ...]   # a str: the path of an entry without md5
    outs: tuple[DvcOut | str, ...]
    params: dict[str, dict[str, Any]]
    cmds: tuple[str, ...]


def parse_stage(name: str, stage: Stage, dvc: DvcStage) -> ParsedStage:
    """A dvc.lock entry with its paths joined to the stage's wdir; bad entries refused."""
    where = f"{dvcrepo.LOCK}: stage {name!r}"

    def one(path: str, item: dict[str, Any]) -> DvcOut | str:
        if "md5" not in item:
            return dvcrepo.join(stage.wdir, path, where)
        return dvcrepo.parse_out(item, stage.wdir, where)

    params = {dvcrepo.join(stage.wdir, file, where): values
              for file, values in dvc.params.items()}
    return ParsedStage(tuple(one(p, i) for p, i in dvc.deps),
                       tuple(one(p, i) for p, i in dvc.outs), params, dvc.cmds)


def convert_stage(conv: Converter, stage: Stage, parsed: ParsedStage) -> StageLock | str:
    """The stage's datavc.lock entry, or why its dvc.lock entry no longer holds."""
    cached = {o.path for o in stage.outs if o.cache}
    outs, deps = [], []
    for item in parsed.outs:  # first: once in the cache, a stage that must run may replace them
        if isinstance(item, str):
            return f"out {item} has no md5 in dvc.lock"
        done = conv.convert(item, keep=True, link=item.path in cached)
        if isinstance(done, str):
            return done
        outs.append(done)
    for item in parsed.deps:
        if isinstance(item, str):
            return f"dep {item} has no md5 in dvc.lock"
        done = conv.convert(item, keep=False)
        if isinstance(done, str):
            return done
        deps.append(done)
    return StageLock(parsed.cmds, tuple(deps), parsed.params, tuple(outs),
                     frozenset(o.path for o in stage.outs if not o.cache))


def read_dvc_lock(root: Path) -> dict[str, DvcStage]:
    path = root / dvcrepo.LOCK
    try:
        return dvcrepo.parse_lock(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise DatavcError(f"cannot read {dvcrepo.LOCK}: {e.strerror}") from None


def adopt_lock(ws: Workspace, pipe: Pipeline, locks: dict[str, StageLock],
               write: bool) -> dict[str, StageLock]:
    """`locks` plus an entry for each stage that has none but whose dvc.lock entry still
    matches the workspace (md5 of every dep and out); with `write`, datavc.lock is
    rewritten with them. A malformed dvc.lock is refused before anything is written."""
    missing = [n for n in pipe.order() if n not in locks]
    if not missing or not (ws.repo.root / dvcrepo.LOCK).is_file():
        return locks
    dvc = read_dvc_lock(ws.repo.root)
    todo = {n: parse_stage(n, pipe.stages[n], dvc[n]) for n in missing if n in dvc}
    if not todo:
        return locks
    config = dvcrepo.read_config(ws.repo.root)
    conv = Converter(ws, [cache_source(ws.repo.root, config)], store=write)
    adopted: dict[str, StageLock] = {}
    for name, parsed in todo.items():
        result = convert_stage(conv, pipe.stages[name], parsed)
        if isinstance(result, str):
            output.info(f"Stage {name!r}: dvc.lock no longer matches ({result})")
            continue
        adopted[name] = result
        output.info(f"Stage {name!r}: taken over from dvc.lock (md5 verified)")
    conv.finish()
    merged = {**locks, **adopted}
    if adopted and write:
        lockfile.write(ws.repo.root / LOCK, {n: merged[n] for n in pipe.stages if n in merged})
    return merged
