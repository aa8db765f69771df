"""`core.fsmonitor = watchman`: ask Watchman whether a directory out changed, instead of
walking it (what git's own `core.fsmonitor` hook does for the index).

A no-op `status` of a big directory out costs one lstat per file (treedigest). With
Watchman running, status keeps, beside the tree digest of an out found unchanged, the
Watchman clock taken before that walk; the next status asks Watchman for every name below
the out that changed since that clock (Watchman first syncs with the file system, so a write
made just before is seen). No name and the same cache folders (a removed object changes one)
mean the earlier answer stands; anything else, or any doubt (Watchman not installed, not
answering, restarted since: a "fresh instance"), means the usual walk. A wrong "unchanged"
can only come from Watchman missing an event, which it reports as a fresh instance.

Watchman is a separate program (https://facebook.github.io/watchman/, Debian package
`watchman`); it is run through its command line, `watchman -j`, a few ms per call.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from . import output

TIMEOUT = 10.0      # seconds for one call (the first watch of a big tree crawls it)


@dataclass(frozen=True)
class Watchman:
    root: str           # the watched root
    relative: str       # the repository's top below it ("" when it is the root)

    @classmethod
    def connect(cls, top: str) -> "Watchman | None":
        """Watch the repository (a no-op once watched); None when Watchman cannot be used."""
        reply = _call(["watch-project", top])
        if reply is None or not isinstance(reply.get("watch"), str):
            return None
        relative = reply.get("relative_path") or ""
        return cls(reply["watch"], relative if isinstance(relative, str) else "")

    def clock(self) -> str | None:
        reply = _call(["clock", self.root, {"sync_timeout": int(TIMEOUT * 1000)}])
        clock = reply.get("clock") if reply else None
        return clock if isinstance(clock, str) else None

    def changed(self, since: str, rel: str) -> tuple[bool | None, str | None]:
        """(whether anything below `rel`, repository-relative, changed since the clock
        `since`, None when Watchman cannot say; the clock of this answer)."""
        below = "/".join(p for p in (self.relative, rel) if p)
        reply = _call(["query", self.root, {"since": since, "relative_root": below,
                                            "fields": ["name"],
                                            "empty_on_fresh_instance": True}])
        if reply is None:
            return None, None
        clock = reply.get("clock") if isinstance(reply.get("clock"), str) else None
        files = reply.get("files")
        if reply.get("is_fresh_instance") is not False or not isinstance(files, list):
            return None, clock
        return bool(files), clock


def connect(top: str, setting: str | None) -> Watchman | None:
    """The monitor `core.fsmonitor` asks for, or None (off, or Watchman unusable: said once)."""
    if setting != "watchman":
        return None
    watch = Watchman.connect(top)
    if watch is None:
        output.warn("core.fsmonitor is watchman, but watchman "
                    + ("did not answer" if shutil.which("watchman") else "is not installed")
                    + ": status walks the directories")
    return watch


def _call(command: list[Any]) -> dict[str, Any] | None:
    exe = shutil.which("watchman")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-j", "--no-pretty"], input=json.dumps(command).encode(),
                              capture_output=True, timeout=TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        reply = json.loads(proc.stdout)
    except ValueError:
        return None
    if proc.returncode or not isinstance(reply, dict) or "error" in reply:
        return None
    return reply
