"""A remote in layout v2: the one `Remote` protocol over packs and indexes.

`wrap(backend, settings)` reads the remote's version marker (`datavc-layout`): no marker
is layout 1 (whole objects under `files/`), and the backend is used as it is; layout 2
gives a `PackedRemote`, which answers the protocol's object questions from the union of
every index on the remote, then from `files/` (read both: objects an older git-datavc
pushed, or not yet converted by `remote upgrade`, stay readable). `remote.NAME.layout 2`
makes the first push to a remote without a marker write one. Pushes and fetches go
through `packsync`; `transfer` sends them there.

Indexes are immutable and named by their hash, so each is downloaded once and kept under
the cache (`remote-index/`); the remote's listing of `index/` is the truth, a local copy
of an index the remote no longer lists is not read.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Iterable, Iterator

from .errors import CorruptObject, ObjectMissing, RemoteError
from .packs import Index, decode_index

if TYPE_CHECKING:
    from .config import Settings
    from .remotes import KeyInfo, Remote

MARKER = "datavc-layout"
LAYOUT = 2          # the newest layout this version reads and writes


def wrap(backend: Remote, settings: Settings, index_cache: Path | None = None) -> Remote:
    """`backend` as it is for a layout-1 remote, else a `PackedRemote` over it."""
    wanted = (settings.get(f"remote.{backend.name}.layout") or "1").strip()
    if wanted not in ("1", "2"):
        raise RemoteError(f"remote.{backend.name}.layout must be 1 or 2, not {wanted!r}")
    try:
        found = read_layout(backend)
    except RemoteError as e:
        if wanted == "2" or "layout" in e.message:
            raise
        # Unreachable, no bucket, no access: the first real call reports it in its own
        # words (opening a remote itself never failed for these).
        return backend
    if found == 1 and wanted == "1":
        return backend
    return PackedRemote(backend, index_cache, marker_pending=found == 1)


def read_layout(backend: Remote) -> int:
    from .remotes.local import LocalRemote

    if isinstance(backend, LocalRemote) and not backend.root.is_dir():
        return 1                # a local remote not made yet: empty, layout 1 for now
    try:
        data = backend.get_bytes(MARKER)
    except ObjectMissing:
        return 1
    try:
        layout = int(json.loads(data)["layout"])
    except (ValueError, KeyError, TypeError):
        raise RemoteError(f"remote {backend.name!r} has an unreadable layout marker "
                          f"({MARKER}): {data[:60]!r}") from None
    if layout > LAYOUT:
        raise RemoteError(f"remote {backend.name!r} uses layout {layout}, newer than this "
                          "git-datavc reads", "upgrade git-datavc")
    return layout


def write_marker(backend: Remote) -> None:
    backend.put_bytes(MARKER, json.dumps({"layout": LAYOUT}).encode() + b"\n")


class PackedRemote:
    packed = True

    def __init__(self, backend: Remote, index_cache: Path | None = None,
                 marker_pending: bool = False) -> None:
        self.backend = backend
        self.name, self.url, self.jobs = backend.name, backend.url, backend.jobs
        self.index_cache = index_cache
        self.marker_pending = marker_pending    # layout 2 wanted, no marker yet
        self.index_bytes = 0                    # index bytes downloaded by this process
        self._index: Index | None = None
        self._indexes: dict[str, Index] = {}    # name -> index, as last listed
        self._lock = threading.Lock()           # the index
        self._count_lock = threading.Lock()     # index_bytes (counted by reader threads)

    # -- indexes ----------------------------------------------------------------------------

    def index(self, refresh: bool = False) -> Index:
        """The union of every index on the remote (read once, then kept up to date with
        what this process adds)."""
        with self._lock:
            if self._index is None or refresh:
                self._indexes = self._load()
                union = Index()
                for name in sorted(self._indexes):
                    union.merge(self._indexes[name])
                self._index = union
            return self._index

    def indexes(self, refresh: bool = False) -> dict[str, Index]:
        self.index(refresh)
        return dict(self._indexes)

    def added(self, name: str, index: Index) -> None:
        """An index this process just wrote."""
        with self._lock:
            self._indexes[name] = index
            if self._index is not None:
                self._index.merge(index)

    def list_indexes(self) -> list[KeyInfo]:
        return [k for k in self.backend.list_keys("index") if k.key.endswith(".idx")]

    def _load(self) -> dict[str, Index]:
        for attempt in range(3):    # an index gc replaced between listing and reading
            infos = self.list_indexes()
            try:
                if len(infos) <= 1:
                    loaded = [self._read_index(k.key) for k in infos]
                else:
                    with ThreadPoolExecutor(max_workers=min(8, len(infos))) as pool:
                        loaded = list(pool.map(self._read_index, [k.key for k in infos]))
            except ObjectMissing:
                if attempt == 2:
                    raise RemoteError(f"the indexes of remote {self.name!r} keep changing "
                                      "while being read", "rerun the command",
                                      retriable=True) from None
                continue
            return {name: index for name, index in loaded}
        raise AssertionError("unreachable")

    def _read_index(self, key: str) -> tuple[str, Index]:
        name = key[len("index/"):-len(".idx")]
        local = self.index_cache / name if self.index_cache else None
        if local is not None and local.is_file():
            try:
                return name, decode_index(local.read_bytes(), name)
            except CorruptObject:
                pass        # a damaged local copy: read the remote's
        data = self.backend.get_bytes(key)
        with self._count_lock:
            self.index_bytes += len(data)
        try:
            index = decode_index(data, name)
        except CorruptObject as e:
            raise RemoteError(e.message, "the remote's index is damaged: restore it from a "
                              "backup, or delete it (its objects then look missing)") from None
        if local is not None:
            _save(local, data)
        return name, index

    # -- the Remote protocol ----------------------------------------------------------------

    def missing(self, oids: Collection[str]) -> set[str]:
        known = self.index().objects
        rest = [oid for oid in oids if oid not in known]
        return self.backend.missing(rest) if rest else set()

    def read_small(self, oid: str, limit: int) -> bytes | None:
        index = self.index()
        if oid not in index.objects:
            return self.backend.read_small(oid, limit)
        if index.size_of(oid) >= limit:
            return None
        from .packsync import read_object

        return read_object(self, index, oid)

    def download(self, oid: str, dst: Path) -> None:
        index = self.index()
        if oid not in index.objects:
            self.backend.download(oid, dst)
            return
        from .packsync import read_object_to

        read_object_to(self, index, oid, dst)

    def upload(self, oid: str, src: str) -> None:
        from .packsync import push_files

        push_files(self, [(oid, src)])

    def flush(self) -> None:
        self.backend.flush()

    def delete(self, oids: Iterable[str]) -> None:
        """Objects stored whole under `files/` go at once; packed ones leave the indexes
        (gc --cloud's first phase, `packgc.drop`)."""
        oids = list(oids)
        known = self.index().objects
        self.backend.delete([o for o in oids if o not in known])
        packed = [o for o in oids if o in known]
        if packed:
            from .packgc import drop

            drop(self, packed)

    def iter_oids(self) -> Iterator[str]:
        known = self.index().objects
        yield from sorted(known)
        yield from (oid for oid in self.backend.iter_oids() if oid not in known)

    def sweep(self, older_than: float) -> int:
        return self.backend.sweep(older_than)

    def close(self) -> None:
        self.backend.close()

    def put_bytes(self, key: str, data: bytes | memoryview) -> None:
        self.backend.put_bytes(key, data)

    def get_bytes(self, key: str) -> bytes:
        return self.backend.get_bytes(key)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        return self.backend.read_range(key, offset, length)

    def list_keys(self, folder: str) -> list[KeyInfo]:
        return self.backend.list_keys(folder)

    def delete_keys(self, keys: Iterable[str]) -> None:
        self.backend.delete_keys(keys)


def _save(path: Path, data: bytes) -> None:
    """Keep a copy of an index (best effort: a cache that cannot hold it reads it again)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass
