"""DVC's own files, read as DVC 2 and DVC 3 write them: `.dvc` files, `dvc.lock`, `.dir`
manifests, `.dvc/config` and the md5 object layouts. Nothing here writes anything.

The two generations differ in one word and one folder:
- DVC 3 writes `hash: md5` beside each `md5:`; the md5 is of the file's bytes and the object
  lives at `.dvc/cache/files/md5/ab/cdef...` (same layout on a remote);
- DVC 2 writes no `hash:` key; its md5 ("md5-dos2unix" in DVC 3's source) is of the bytes
  with CRLF turned into LF, in each 1 MiB read, when the file's first 512 bytes look like
  text; the object lives at `.dvc/cache/ab/cdef...`.
A directory's md5 is the md5 of its manifest, `json.dumps(sorted entries, sort_keys=True)`
of `{"md5": ..., "relpath": ...}` mappings, followed by `.dir`.

Everything read is validated at the edge (DESIGN.md §3): hashes are 32 hex digits, and
every path, once joined to the folder it is relative to, is a safe repository path.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from . import safeyaml
from .errors import DatavcError
from .fsutil import expand_user
from .safepath import check_relpath

SUFFIX = ".dvc"
LOCK = "dvc.lock"
CHUNK = 1 << 20          # DVC 2 applies its text test and CRLF rewrite per 1 MiB read
TEXT_PROBE = 512         # ... looking at the first 512 bytes of each read
_MD5 = re.compile(r"[0-9a-f]{32}")
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


@dataclass(frozen=True)
class DvcOut:
    """One recorded path with its md5: an out of a `.dvc` file, a dep or out of a stage."""
    path: str                 # repository-relative
    md5: str                  # 32 hex, `.dir` appended for a directory
    size: int | None = None
    nfiles: int | None = None
    legacy: bool = False      # DVC 2: md5 of dos2unix'd text, cache without files/md5/
    cache: bool = True

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


@dataclass(frozen=True)
class DvcFile:
    """A `.dvc` file: its outs, and why it cannot be taken over when it cannot."""
    path: str                 # repository-relative path of the .dvc file
    outs: tuple[DvcOut, ...]
    unsupported: str = ""     # e.g. "made by `dvc import`": recorded, never converted


@dataclass(frozen=True)
class DvcStage:
    """A stage of `dvc.lock`, paths still relative to the stage's working directory."""
    cmds: tuple[str, ...]
    deps: tuple[tuple[str, dict[str, Any]], ...]   # (path as written, the raw mapping)
    outs: tuple[tuple[str, dict[str, Any]], ...]
    params: dict[str, dict[str, Any]]


# --- hashing -------------------------------------------------------------------------------

def is_text_block(block: bytes) -> bool:
    """DVC's guess of text: no NUL, at most 30 % of bytes outside printable ASCII."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


class Md5:
    """md5 the way DVC 3 (`legacy=False`) or DVC 2 (`legacy=True`) computes it, fed with the
    blocks of one read. DVC 2 (2.58's dvc-data) tells text from the first block and rewrites
    CRLF within each read of CHUNK bytes (a CRLF split across two reads stays), so the caller
    feeds blocks of exactly CHUNK bytes (the last one shorter). DVC 3 re-decides per block
    when it checks a DVC 2 hash; the hash DVC 2 wrote is what must match, so 2.x's rule."""

    def __init__(self, legacy: bool) -> None:
        self.legacy = legacy
        self.text: bool | None = None if legacy else False
        self.hasher = hashlib.md5(usedforsecurity=False)

    def update(self, block: bytes) -> None:
        if self.text is None and block:
            self.text = is_text_block(block[:TEXT_PROBE])
        if self.text:
            block = block.replace(b"\r\n", b"\n")
        self.hasher.update(block)

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


def manifest_md5(entries: Iterable[tuple[str, str]]) -> str:
    """The md5 id (with `.dir`) of a directory of (relpath, md5) files, as DVC computes it."""
    items = sorted(({"md5": md5, "relpath": rel} for rel, md5 in entries),
                   key=lambda item: item["relpath"])
    return hashlib.md5(json.dumps(items, sort_keys=True).encode(),
                       usedforsecurity=False).hexdigest() + ".dir"


def parse_manifest(data: bytes, source: str) -> list[tuple[str, str]]:
    """(relpath, md5) of a DVC `.dir` manifest, every path and hash checked."""
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
        rel = check_relpath(item.get("relpath"), source)  # type: ignore[arg-type]
        md5 = item.get("md5")
        if not isinstance(md5, str) or not _MD5.fullmatch(md5):
            raise DatavcError(f"{source}: bad md5 for {rel!r}")
        if rel in seen:
            raise DatavcError(f"{source}: {rel!r} is listed twice")
        seen.add(rel)
        entries.append((rel, md5))
    return entries


def object_key(md5: str, legacy: bool) -> str:
    """Where DVC keeps an object, below its cache or remote root."""
    return f"{md5[:2]}/{md5[2:]}" if legacy else f"files/md5/{md5[:2]}/{md5[2:]}"


# --- .dvc files ----------------------------------------------------------------------------

def _yaml_load(text: bytes, name: str) -> Any:
    return safeyaml.load(text, name)


def join(base: str, path: Any, where: str) -> str:
    """`path` (as DVC writes it, relative to the folder `base`) as a safe repository path."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path \
            or "\0" in path or re.match(r"[A-Za-z]:", path) or "://" in path:
        raise DatavcError(f"{where}: path {path!r} is not a path inside the repository")
    joined = posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)
    if joined == ".." or joined.startswith("../"):
        raise DatavcError(f"{where}: path {path!r} leaves the repository")
    return check_relpath(joined, where)


def parse_out(item: Any, base: str, where: str, hash_default: str = "md5-dos2unix") -> DvcOut:
    """One `{path, md5, size, nfiles, hash}` mapping; `hash_default` is what an entry
    without `hash:` means (DVC 2's md5, except for a dvc.lock deps' files read with 3.x)."""
    if not isinstance(item, dict):
        raise DatavcError(f"{where}: an entry is not a mapping")
    path = join(base, item.get("path"), where)
    md5, size, nfiles = item.get("md5"), item.get("size"), item.get("nfiles")
    hash_name = item.get("hash", hash_default)
    if hash_name not in ("md5", "md5-dos2unix"):
        raise DatavcError(f"{where}: {path!r} has hash {hash_name!r}; only md5 can be "
                          "taken over")
    base_md5 = md5[:-4] if isinstance(md5, str) and md5.endswith(".dir") else md5
    if not isinstance(base_md5, str) or not _MD5.fullmatch(base_md5):
        raise DatavcError(f"{where}: bad md5 for {path!r}")
    for key, value in (("size", size), ("nfiles", nfiles)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            raise DatavcError(f"{where}: bad {key} for {path!r}")
    return DvcOut(path, str(md5), size, nfiles, hash_name == "md5-dos2unix",
                  item.get("cache", True) is not False)


def load_dvcfile(root: Path, rel: str) -> DvcFile:
    """A `.dvc` file at repository path `rel`; malformed or escaping files are refused."""
    try:
        text = (root / rel).read_bytes()
    except OSError as e:
        raise DatavcError(f"cannot read {rel}: {e.strerror}") from None
    data = _yaml_load(text, rel)
    if not isinstance(data, dict) or not isinstance(data.get("outs"), list) or not data["outs"]:
        raise DatavcError(f"{rel} has no `outs:` list")
    base = posixpath.dirname(rel)
    unsupported = ""
    if data.get("deps"):
        # `dvc import` / `import-url` files record where the data comes from in deps
        unsupported = "made by `dvc import`/`import-url` (its source is another repository)"
    elif data.get("frozen") or data.get("cmd"):
        unsupported = "a stage file of DVC 1 (`cmd:` in a .dvc file)"
    outs = []
    for item in data["outs"]:
        if isinstance(item, dict) and "md5" not in item and not unsupported:
            unsupported = f"out {item.get('path')!r} has no md5 (never added, or cloud-versioned)"
        if isinstance(item, dict) and "md5" in item:
            outs.append(parse_out(item, base, rel))
        elif not isinstance(item, dict):
            raise DatavcError(f"{rel}: an entry of `outs` is not a mapping")
        else:
            join(base, item.get("path"), rel)   # still refuse a path outside the repository
    return DvcFile(rel, tuple(outs), unsupported)


# --- dvc.lock ------------------------------------------------------------------------------

def parse_lock(text: bytes, name: str = LOCK) -> dict[str, DvcStage]:
    """The stages of a DVC 2/3 `dvc.lock` (`schema: '2.0'`); anything else is refused."""
    data = _yaml_load(text, name)
    if data is None:
        return {}
    if not isinstance(data, dict) or str(data.get("schema")) != "2.0" \
            or not isinstance(data.get("stages"), dict):
        raise DatavcError(f"{name}: not a DVC 2/3 lock file (`schema: '2.0'` and `stages:`)",
                          "a DVC 1 lock: run `dvc repro` once with DVC 2 or later")
    stages = {}
    for stage, entry in data["stages"].items():
        where = f"{name}: stage {stage!r}"
        if not isinstance(entry, dict):
            raise DatavcError(f"{where}: expected a mapping")
        cmd = entry.get("cmd")
        if isinstance(cmd, str):
            cmds: tuple[str, ...] = (cmd,)
        elif isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd):
            cmds = tuple(cmd)
        else:
            raise DatavcError(f"{where}: `cmd` must be a command or a list of commands")
        params = entry.get("params") or {}
        if not isinstance(params, dict) or not all(
                isinstance(k, str) and isinstance(v, dict) for k, v in params.items()):
            raise DatavcError(f"{where}: `params` must map files to {{key: value}}")
        stages[str(stage)] = DvcStage(cmds, _entries(entry, "deps", where),
                                      _entries(entry, "outs", where), dict(params))
    return stages


def _entries(entry: dict[str, Any], key: str, where: str
             ) -> tuple[tuple[str, dict[str, Any]], ...]:
    items = entry.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DatavcError(f"{where}: `{key}` must be a list of mappings")
    for item in items:  # hashes and paths are checked against the stage's wdir later
        if not isinstance(item.get("path"), str):
            raise DatavcError(f"{where}: an entry of `{key}` has no path")
    return tuple((str(i["path"]), i) for i in items)


# --- .dvc/config ---------------------------------------------------------------------------

def read_config(root: Path) -> dict[str, dict[str, str]]:
    """`.dvc/config` then `.dvc/config.local` (INI, `['remote "name"']` sections) as
    {section: {key: value}}, section names like `core` or `remote "name"`."""
    merged: dict[str, dict[str, str]] = {}
    for name in ("config", "config.local"):
        path = root / ".dvc" / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(path.read_text(encoding="utf-8"), str(path))
        except (configparser.Error, UnicodeDecodeError) as e:
            first = (str(e).strip().splitlines() or ["syntax error"])[0]
            raise DatavcError(f".dvc/{name} cannot be read: {first}") from None
        for section in parser.sections():
            key = section.strip().strip("'").strip()
            merged.setdefault(key, {}).update(
                {k.strip().lower(): v.strip() for k, v in parser[section].items()})
    return merged


def remotes(config: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The remotes of a DVC config, by name."""
    found = {}
    for section, values in config.items():
        m = re.fullmatch(r'remote\s+"([^"]+)"', section)
        if m and values.get("url"):
            found[m.group(1)] = values
    return found


def cache_dir(root: Path, config: dict[str, dict[str, str]]) -> Path:
    """DVC's local cache: `cache.dir` (relative to `.dvc/`), else `.dvc/cache`."""
    configured = config.get("cache", {}).get("dir")
    if not configured:
        return root / ".dvc" / "cache"
    path = Path(expand_user(configured))
    return path if path.is_absolute() else root / ".dvc" / path


def dvc_files(repo: Any) -> list[str]:
    """The `.dvc` files of `repo`'s work tree (committed or not, ignored ones left out).
    Here, not in dvcimport: `status` asks, and must not import the converter (YAML)."""
    out = repo.git("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                   "*" + SUFFIX)
    names = sorted({p for p in out.decode().split("\0") if p.endswith(SUFFIX)})
    return [p for p in names if not p.startswith(".dvc/") and (repo.root / p).is_file()]
