"""Layered settings: defaults < .datavc/config < .datavc/config.local < DATAVC_* env < flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from . import git
from .errors import DatavcError
from .fsutil import expand_user

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULTS = {
    "core.autotrack": "on",
    "core.threshold": "10M",
    "cache.type": "reflink,copy",
    "cache.protected": "false",
    "cache.chunked": "false",
    "core.locktimeout": "5",
    "core.fsmonitor": "false",
}
# Environment overrides for the simple keys: DATAVC_CORE_THRESHOLD=1M sets core.threshold.
ENV_KEYS = ("core.remote", "core.autotrack", "core.threshold", "core.locktimeout",
            "core.fsmonitor", "cache.dir", "cache.type", "cache.protected", "cache.chunked")
# Credentials are read from config.local (or the environment), never from the committed file.
SECRET_KEYS = ("accesskeyid", "secretaccesskey")
_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class Settings:
    root: Path                      # repository work tree
    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(normalise_key(key), default)

    @property
    def autotrack(self) -> str:
        value = (self.get("core.autotrack") or "on").lower()
        if value not in ("on", "off", "refuse"):
            raise DatavcError(f"core.autotrack must be on, off or refuse, not {value!r}")
        return value

    @property
    def threshold(self) -> int:
        return parse_size(self.get("core.threshold") or "10M", "core.threshold")

    @property
    def cache_types(self) -> tuple[str, ...]:
        types = tuple(t.strip().lower() for t in (self.get("cache.type") or "").split(",") if t.strip())
        bad = [t for t in types if t not in LINK_TYPES]
        if bad or not types:
            raise DatavcError(f"cache.type must list some of {', '.join(LINK_TYPES)}, "
                              f"not {self.get('cache.type')!r}")
        return types

    @property
    def protected(self) -> bool:
        return parse_bool(self.get("cache.protected") or "false", "cache.protected")

    @property
    def chunked(self) -> bool:
        """gc keeps large versions the workspace does not use as chunk lists (cachechunks)."""
        return parse_bool(self.get("cache.chunked") or "false", "cache.chunked")

    @property
    def fsmonitor(self) -> str | None:
        """"watchman" when status may ask Watchman what changed (fsmonitor), else None."""
        value = (self.get("core.fsmonitor") or "false").strip().lower()
        if value == "watchman":
            return value
        try:
            on = parse_bool(value, "core.fsmonitor")
        except DatavcError:
            raise DatavcError(f"core.fsmonitor must be watchman, true or false, not "
                              f"{self.get('core.fsmonitor')!r}") from None
        return "watchman" if on else None

    @property
    def lock_timeout(self) -> float:
        """Seconds a writer waits for the repository lock; negative: as long as it takes."""
        text = self.get("core.lockTimeout") or "5"
        try:
            return float(text)
        except ValueError:
            raise DatavcError(f"core.lockTimeout must be a number of seconds, not {text!r}"
                              ) from None

    def cache_dir(self, default: Path) -> Path:
        value = self.get("cache.dir")
        if not value:
            return default
        path = Path(expand_user(value))
        return path if path.is_absolute() else self.root / path


def _refuse_committed_secrets(values: Mapping[str, str]) -> None:
    for key in values:
        if key.startswith("remote.") and key.rsplit(".", 1)[-1] in SECRET_KEYS:
            raise DatavcError(f".datavc/config holds the credential {key}: it is committed with "
                              "the repository", "move it to .datavc/config.local")


def normalise_key(key: str) -> str:
    """git-config key case: section and name fold to lower case, a subsection keeps its own."""
    section, _, rest = key.partition(".")
    middle, _, name = rest.rpartition(".")
    return ".".join(p for p in (section.lower(), middle, name.lower()) if p)


def parse_size(text: str, key: str = "size") -> int:
    match = re.fullmatch(r"([0-9]+)([kmgt]?)(?:i?b)?", text.strip().lower())
    if not match:
        raise DatavcError(f"{key}: {text!r} is not a size (use bytes or a k/M/G suffix)")
    return int(match.group(1)) * _SUFFIXES[match.group(2)]


def parse_bool(text: str, key: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "yes", "on", "1"):
        return True
    if t in ("false", "no", "off", "0", ""):
        return False
    raise DatavcError(f"{key} must be true or false, not {text!r}")


def load(root: Path, overrides: Mapping[str, str] | None = None) -> Settings:
    values = dict(DEFAULTS)
    for name in ("config", "config.local"):
        path = root / ".datavc" / name
        if path.is_file():
            found = git.config_file(path)
            if name == "config":
                _refuse_committed_secrets(found)
            values.update(found)
    for key in ENV_KEYS:
        env = os.environ.get("DATAVC_" + key.replace(".", "_").upper())
        if env is not None:
            values[key] = env
    values.update({normalise_key(k): v for k, v in (overrides or {}).items()})
    return Settings(root, values)


def cache_root(repo: "git.Repo", settings: Settings) -> Path:
    """`cache.dir`, or the cache shared by every worktree under the git common dir."""
    return settings.cache_dir(repo.datavc_dir / "cache")
