"""`gc --cloud` on a layout-2 remote: two phases, safe beside pushes from other clones.

Phase 1 (`drop`, `mark`): the objects to delete leave the indexes: one new index holding
every other object of the indexes read (with the blobs it needs) is written, then the
indexes it replaces are deleted; the live blobs of packs more than half dead are copied
into new packs first, and the new index points at the copies. Packs that no index now refers to, and that are older
than the grace period, are *marked*: a file `gc/mark-….json` names them, with the time.
Nothing is deleted yet.

Phase 2 (`sweep_marks`, at the start of a later `gc --cloud`): a mark older than the grace
period is read again; of its packs, those that still no index refers to are deleted.

Why a push from another clone loses nothing: a push's index locates every blob its objects
need, including blobs it found on the remote (indexes are self-contained). A push that read
the indexes before phase 1 and reuses a blob of a pack phase 1 marked writes an index that
refers to that pack, and phase 2 sees it and keeps the pack, provided the push ended
within the grace period. A push still uploading has packs younger than the grace period,
which phase 1 never marks. And a push checks, before writing its index, that the packs it
reuses still exist (`packsync`). Indexes written after phase 1 listed them are never
deleted by it. The one assumption: no push runs longer than the grace period
(`remote.NAME.gcgrace`, seconds, default one hour).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ObjectMissing, RemoteError
from .packs import Index, encode_index, index_key, pack_key

if TYPE_CHECKING:
    from .config import Settings
    from .packed import PackedRemote

GRACE = 3600.0
REPACK_AT = 0.5     # a pack more than half dead has its live blobs copied to a new pack
MARKS = "gc"


@dataclass
class Swept:
    packs: int = 0
    bytes: int = 0


def grace(settings: Settings, name: str) -> float:
    text = settings.get(f"remote.{name}.gcgrace")
    if text is None:
        return GRACE
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise RemoteError(f"remote.{name}.gcgrace must be a number of seconds, not {text!r}")
    return value


def drop(remote: PackedRemote, oids: list[str]) -> None:
    """Phase 1, objects: rewrite the indexes without `oids`."""
    indexes = remote.indexes(refresh=True)
    doomed = set(oids)
    kept = Index(created=time.time())
    for name in sorted(indexes):
        index = indexes[name]
        for oid, chunks in index.objects.items():
            if oid in doomed or oid in kept.objects:
                continue
            kept.objects[oid] = chunks
            for blob in chunks or [oid.removesuffix(".dir")]:
                kept.blobs.setdefault(blob, index.blobs[blob])
    _repack(remote, kept)
    new = ""
    if kept.objects:
        new, data = encode_index(kept)
        remote.backend.put_bytes(index_key(new), data)
    remote.backend.delete_keys(index_key(name) for name in sorted(indexes) if name != new)
    remote.index(refresh=True)


def _repack(remote: PackedRemote, kept: Index) -> None:
    """Copy the live blobs of packs mostly dead (over REPACK_AT of their bytes) into new
    packs, and point `kept` at the copies; the old packs then lose their last reference
    and go the way of unreferenced packs (marked, later deleted, unless a concurrent push
    refers to them)."""
    from .packs import PACK_TARGET, Entry, build_pack, coalesce
    from .packsync import _read_span, retrying
    from .packs import blob_bytes

    sizes = {_name_of_key(k.key): k.size for k in remote.backend.list_keys("packs")}
    live: dict[str, int] = {}
    for entry in kept.blobs.values():
        live[entry.pack] = live.get(entry.pack, 0) + entry.length
    sparse = {p for p, n in live.items() if p in sizes and n < sizes[p] * (1 - REPACK_AT)}
    if not sparse:
        return
    moving = [(b, e) for b, e in kept.blobs.items() if e.pack in sparse]
    batch: list[tuple[str, bytes]] = []

    def flush() -> None:
        name, data, places = build_pack(batch)
        retrying(lambda: remote.backend.put_bytes(pack_key(name), data))
        for blob, (offset, length, size, packed) in places.items():
            kept.blobs[blob] = Entry(name, offset, length, size, packed)
        batch.clear()

    held = 0
    for span in coalesce(moving):
        data = _read_span(remote, span)
        for blob, entry in span.blobs:
            start = entry.offset - span.offset
            raw = blob_bytes(blob, entry, data[start:start + entry.length])
            batch.append((blob, raw))
            held += len(raw)
            if held >= PACK_TARGET:
                flush()
                held = 0
    if batch:
        flush()


def referenced(remote: PackedRemote) -> set[str]:
    """Packs that some index on the remote refers to, as listed now."""
    return remote.index(refresh=True).packs()


def mark(remote: PackedRemote, grace_s: float, dry: bool = False) -> Swept:
    """Phase 1, packs: name in a new mark the packs no index refers to that are older than
    the grace period (younger ones may belong to a push still running)."""
    live = referenced(remote)
    now = time.time()
    marked = [k for k in remote.backend.list_keys("packs")
              if k.key.endswith(".pack") and _name_of_key(k.key) not in live
              and now - k.mtime >= grace_s]
    if marked and not dry:
        body = {"created": now, "packs": [_name_of_key(k.key) for k in marked]}
        key = f"{MARKS}/mark-{int(now * 1000)}-{uuid.uuid4().hex[:8]}.json"
        remote.backend.put_bytes(key, json.dumps(body).encode())
    return Swept(len(marked), sum(k.size for k in marked))


def sweep_marks(remote: PackedRemote, grace_s: float, dry: bool = False) -> Swept:
    """Phase 2: delete the packs of marks older than the grace period that no index
    refers to now."""
    now = time.time()
    swept = Swept()
    marks = [k for k in remote.backend.list_keys(MARKS) if k.key.endswith(".json")]
    due = []
    for info in marks:
        try:
            body = json.loads(remote.backend.get_bytes(info.key))
            created, packs = float(body["created"]), [str(p) for p in body["packs"]]
        except ObjectMissing:
            continue            # another gc swept it meanwhile
        except (ValueError, KeyError, TypeError):
            raise RemoteError(f"gc mark {info.key} on remote {remote.name!r} is unreadable",
                              "delete it; its packs are marked again by the next gc --cloud")
        if now - created >= grace_s:
            due.append((info.key, packs))
    if not due:
        return swept
    live = referenced(remote)
    sizes = {_name_of_key(k.key): k.size for k in remote.backend.list_keys("packs")}
    doomed = sorted({p for _, packs in due for p in packs if p not in live and p in sizes})
    swept = Swept(len(doomed), sum(sizes[p] for p in doomed))
    if not dry:
        remote.backend.delete_keys(pack_key(p) for p in doomed)
        remote.backend.delete_keys(key for key, _ in due)
    return swept


def _name_of_key(key: str) -> str:
    return key[len("packs/"):-len(".pack")]
