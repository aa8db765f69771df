"""`exp run -S [FILE:]KEY=VALUE`: the parameter changes of an experiment, parsed (the value
as YAML, as DVC does) and written into the params files of its worktree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import params
from .errors import DatavcError
from .safepath import check_relpath


@dataclass(frozen=True)
class ParamSet:
    file: str
    key: str
    value: Any
    text: str        # as given, normalised to FILE:KEY=VALUE


def parse_set(text: str) -> ParamSet:
    target, sep, raw = text.partition("=")
    if not sep or not target:
        raise DatavcError(f"-S {text!r}: expected [FILE:]KEY=VALUE")
    file, colon, key = target.rpartition(":")
    file = file if colon else params.DEFAULT
    if not key:
        raise DatavcError(f"-S {text!r}: no key")
    check_relpath(file, f"-S {text}")
    import yaml

    try:  # as DVC: the value is YAML (0.1 a float, [8, 16] a list, on a bool)
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return ParamSet(file, key, value, f"{file}:{key}={raw}")


def apply_sets(root: Path, sets: Sequence[ParamSet], set_new: bool) -> None:
    """Write the -S values into the params files below `root`."""
    by_file: dict[str, list[ParamSet]] = {}
    for item in sets:
        by_file.setdefault(item.file, []).append(item)
    for file, items in by_file.items():
        path = root / file
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise DatavcError(f"-S {items[0].text}: only YAML and JSON params files can be "
                              f"changed, not {file}")
        if not path.exists() and not set_new:
            raise DatavcError(f"-S {items[0].text}: params file {file} does not exist",
                              "--set-new creates it")
        data = params.load(path, file) if path.exists() else {}
        for item in items:
            _assign(data, item, set_new)
        _write(path, data)


def _assign(data: dict[str, Any], item: ParamSet, set_new: bool) -> None:
    if params.lookup(data, item.key) is params.MISSING and not set_new:
        raise DatavcError(f"-S {item.text}: {item.key!r} is not in {item.file}",
                          "--set-new adds keys that are not there yet")
    if item.key in data:  # a key that itself holds dots
        data[item.key] = item.value
        return
    parts = item.key.split(".")
    current: Any = data
    for part in parts[:-1]:
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
            continue
        if not isinstance(current, dict):
            raise DatavcError(f"-S {item.text}: {part!r} in {item.file} is not a mapping")
        current = current.setdefault(part, {})
    last = parts[-1]
    if isinstance(current, list) and last.isdigit() and int(last) < len(current):
        current[int(last)] = item.value
    elif isinstance(current, dict):
        current[last] = item.value
    else:
        raise DatavcError(f"-S {item.text}: the parent of {last!r} in {item.file} is not a "
                          "mapping")


def _write(path: Path, data: dict[str, Any]) -> None:
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.datavc-tmp")
    tmp.write_text(text)
    tmp.replace(path)


def check_sets(root: Path, parsed: list[ParamSet], set_new: bool) -> None:
    """Fail before anything runs: apply the changes to copies read from the workspace."""
    for item in parsed:
        path = root / item.file
        if not path.exists():
            if not set_new:
                raise DatavcError(f"-S {item.text}: params file {item.file} does not exist",
                                  "--set-new creates it")
            continue
        if params.lookup(params.load(path, item.file), item.key) is params.MISSING \
                and not set_new:
            raise DatavcError(f"-S {item.text}: {item.key!r} is not in {item.file}",
                              "--set-new adds keys that are not there yet")
