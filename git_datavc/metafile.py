"""Metafile formats: `PATH.datavc` (YAML) and the canonical `.dir` manifest (JSON).

Everything read here is validated at the edge: hashes are 64 hex digits, paths are safe
relative paths (see safepath), so nothing later can be steered outside the repository.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from . import safeyaml
from .errors import DatavcError
from .hashing import is_oid
from .safepath import check_relpath

SUFFIX = ".datavc"


class Entry(NamedTuple):
    """One file of a directory manifest (a tuple: manifests hold 100,000s of them)."""
    relpath: str
    oid: str
    size: int
    isexec: bool = False


@dataclass(frozen=True)
class Out:
    """One output recorded in a metafile: a file (`oid`) or a directory (`oid` ends in .dir)."""
    path: str       # relative to the metafile's directory
    oid: str
    size: int
    nfiles: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.oid.endswith(".dir")


# --- manifests -----------------------------------------------------------------------

def encode_manifest(entries: Iterable[Entry]) -> bytes:
    """Canonical JSON: keys sorted, entries sorted by relpath, no whitespace, raw UTF-8."""
    # Keys are inserted in sorted order (blake3 < isexec < relpath < size), which is what
    # sort_keys=True would give, without sorting each of 100,000 small dicts.
    items = [{"blake3": e.oid, "isexec": True, "relpath": e.relpath, "size": e.size}
             if e.isexec else {"blake3": e.oid, "relpath": e.relpath, "size": e.size}
             for e in sorted(entries, key=lambda e: e.relpath)]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_items(data: bytes) -> list[dict[str, Any]]:
    """The raw mappings of a manifest already checked by `decode_manifest`."""
    items: list[dict[str, Any]] = json.loads(data)
    return items


def entries_from_items(items: Iterable[dict[str, Any]]) -> list[Entry]:
    return [Entry(i["relpath"], i["blake3"], i["size"], i.get("isexec") is True) for i in items]


def decode_manifest(data: bytes, source: str = "manifest") -> list[Entry]:
    """Entries of a manifest, every path and hash checked."""
    try:
        items = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatavcError(f"{source} is not valid JSON: {e}") from None
    if not isinstance(items, list):
        raise DatavcError(f"{source} is not a list of entries")
    entries, seen = [], set()
    for item in items:
        if not isinstance(item, dict):
            raise DatavcError(f"{source}: an entry is not a mapping")
        relpath = check_relpath(item.get("relpath"), source)  # type: ignore[arg-type]
        oid, size = item.get("blake3"), item.get("size")
        if not isinstance(oid, str) or not is_oid(oid):
            raise DatavcError(f"{source}: bad blake3 hash for {relpath!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DatavcError(f"{source}: bad size for {relpath!r}")
        if relpath in seen:
            raise DatavcError(f"{source}: {relpath!r} is listed twice")
        seen.add(relpath)
        entries.append(Entry(relpath, oid, size, item.get("isexec") is True))
    _check_no_prefix_clash(seen, source)
    return entries


def _check_no_prefix_clash(paths: set[str], source: str) -> None:
    """A path cannot be both a file and a directory (`a` and `a/b`)."""
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in paths:
                raise DatavcError(f"{source}: {'/'.join(parts[:i])!r} is both a file and a directory")


# --- metafiles -----------------------------------------------------------------------

def load(path: Path, text: str | bytes | None = None) -> list[Out]:
    """The outs of a metafile (read from `path`, or parsed from `text`)."""
    name = str(path)
    try:
        if text is None:
            text = path.read_bytes()
    except OSError as e:
        raise DatavcError(f"cannot read {name}: {e.strerror}") from None
    data = safeyaml.load(text, name)
    if not isinstance(data, dict) or not isinstance(data.get("outs"), list) or not data["outs"]:
        raise DatavcError(f"{name} has no `outs:` list")
    return [_parse_out(item, name) for item in data["outs"]]


def _parse_out(item: Any, name: str) -> Out:
    if not isinstance(item, dict):
        raise DatavcError(f"{name}: an entry of `outs` is not a mapping")
    rel = check_relpath(item.get("path"), name)  # type: ignore[arg-type]  # checked there
    oid, size, nfiles = item.get("blake3"), item.get("size"), item.get("nfiles")
    base = oid[:-4] if isinstance(oid, str) and oid.endswith(".dir") else oid
    if not isinstance(base, str) or not is_oid(base):
        raise DatavcError(f"{name}: bad blake3 hash for {rel!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise DatavcError(f"{name}: bad size for {rel!r}")
    if nfiles is not None and (not isinstance(nfiles, int) or nfiles < 0):
        raise DatavcError(f"{name}: bad nfiles for {rel!r}")
    return Out(rel, str(oid), size, nfiles)


def dump(outs: Iterable[Out]) -> str:
    lines = ["outs:"]
    for out in outs:
        lines.append(f"- path: {_quote(out.path)}")
        lines.append(f"  blake3: {out.oid}")
        lines.append(f"  size: {out.size}")
        if out.nfiles is not None:
            lines.append(f"  nfiles: {out.nfiles}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """Plain YAML scalar when safe, else a double-quoted one (JSON strings are valid YAML)."""
    plain_ok = text and text[0] not in "-?:,[]{}#&*!|>'\"%@`~ " and not any(
        s in text for s in (": ", " #", "\n", "\t")) and text[-1] not in " :" \
        and text.lower() not in ("null", "true", "false", "yes", "no", "on", "off", "~") \
        and not _looks_numeric(text) and text.isprintable()
    return text if plain_ok else json.dumps(text, ensure_ascii=False)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def write(path: Path, outs: Iterable[Out]) -> None:
    """Atomically (re)write a metafile."""
    tmp = path.with_name(f".{path.name}.tmp")   # one name: a rerun replaces a leftover
    tmp.write_text(dump(outs), encoding="utf-8")
    os.replace(tmp, path)


def out_path_for(metafile: Path) -> Path:
    """`data.datavc` -> `data` (the default out of a metafile)."""
    return metafile.with_name(metafile.name[: -len(SUFFIX)])
