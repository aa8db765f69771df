"""Compare what DVC and git-datavc showed, step by step, aspect by aspect, minus the
documented deviations (deviations.yaml). The result is a readable list of differences."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .runner import Observation

DEVIATIONS = Path(__file__).resolve().parent / "deviations.yaml"
ASPECTS = ("exit", "ran", "lock", "files", "answer")
# An entry's `when` narrows it to differences of one shape.
WHEN = {
    # DVC's list is part of git-datavc's (git-datavc names more stages, not other ones)
    "dvc_subset": lambda dvc, datavc: set(dvc or []) <= set(datavc or []),
    "always": lambda dvc, datavc: True,
}


@dataclass(frozen=True)
class Difference:
    step: int           # 1-based, as a reader counts the scenario's steps
    what: str           # the step, as written
    aspect: str         # exit, ran, lock, files, or the step's answer: dry, status, dag...
    dvc: Any
    datavc: Any

    def __str__(self) -> str:
        return (f"step {self.step} ({self.what}), {self.aspect}:\n"
                f"    dvc:    {_show(self.dvc)}\n    datavc: {_show(self.datavc)}")


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def deviations() -> list[dict[str, Any]]:
    return yaml.safe_load(DEVIATIONS.read_text()) or []


def differences(dvc: list[Observation], datavc: list[Observation]) -> list[Difference]:
    found = []
    for i, (a, b) in enumerate(zip(dvc, datavc), start=1):
        for aspect in ASPECTS:
            name = a.step.split()[0] if aspect == "answer" else aspect
            for x, y in _aspect_diffs(aspect, a, b):
                found.append(Difference(i, a.step, name, x, y))
    return found


def _aspect_diffs(aspect: str, a: Observation, b: Observation) -> list[tuple[Any, Any]]:
    if aspect == "exit":
        return [] if (a.exit == 0) == (b.exit == 0) else [(a.exit, b.exit)]
    if aspect in ("lock", "files"):
        # one difference per stage (lock) or per path (files), so each can be named alone
        x, y = getattr(a, aspect), getattr(b, aspect)
        return [({k: x.get(k)}, {k: y.get(k)}) for k in sorted(set(x) | set(y))
                if x.get(k) != y.get(k)]
    x, y = getattr(a, aspect), getattr(b, aspect)
    return [] if x == y else [(x, y)]


def _matches(dev: dict[str, Any], scenario: str, diff: Difference) -> bool:
    step = dev.get("step", "*")
    key = dev.get("key")       # the stage (lock) or the path (files) the deviation is about
    keys = [k for side in (diff.dvc, diff.datavc) if isinstance(side, dict) for k in side]
    return (fnmatch.fnmatch(scenario, dev["scenario"]) and dev["aspect"] == diff.aspect
            and (step == "*" or int(step) == diff.step)
            and (key is None or any(fnmatch.fnmatch(k, key) for k in keys))
            and WHEN[dev.get("when", "always")](diff.dvc, diff.datavc))


def undocumented(scenario: str, found: list[Difference]) -> list[Difference]:
    devs = deviations()
    return [d for d in found if not any(_matches(dev, scenario, d) for dev in devs)]
