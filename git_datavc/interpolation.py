"""`vars`, `${...}` interpolation and the `foreach`/`do` and `matrix` expansions of dvc.yaml.

A value that is exactly one `${key}` keeps its type (a list for `foreach`, a number for a
param); inside a longer string it is turned into text. `\\${` stays a literal `${`.
Inside `cmd` only, a mapping is unpacked into command-line options, as DVC does
(`${opts}` with `{a: 1, b: true, l: [1, 2]}` gives `--a 1 --b --l 1 2`); `Parsing` holds
DVC's `parsing.bool` and `parsing.list` settings that decide how booleans and lists look.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import params
from .errors import DatavcError

_VAR = re.compile(r"(?<!\\)\$\{\s*([^{}]*?)\s*\}")
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Parsing:
    """How a mapping unpacked into `cmd` spells booleans and lists (DVC's `[parsing]`)."""
    bool: str = "store_true"     # true: --flag, false: nothing; boolean_optional: --no-flag
    list: str = "nargs"          # --l 1 2; append: --l 1 --l 2

    def __post_init__(self) -> None:
        if self.bool not in ("store_true", "boolean_optional"):
            raise DatavcError(f"parsing.bool is {self.bool!r}: use store_true or "
                              "boolean_optional")
        if self.list not in ("nargs", "append"):
            raise DatavcError(f"parsing.list is {self.list!r}: use nargs or append")


def load_vars(entries: Any, base: Path, ctx: dict[str, Any], where: str) -> dict[str, Any]:
    """Merge a `vars:` list (files, `file:key1,key2`, or mappings) into a copy of `ctx`."""
    if entries is None:
        return ctx
    if not isinstance(entries, list):
        raise DatavcError(f"{where}: `vars` must be a list of files or mappings")
    merged = dict(ctx)
    for entry in entries:
        if isinstance(entry, dict):
            merged.update(entry)
        elif isinstance(entry, str):
            name, _, keys = entry.partition(":")
            data = params.load(base / name, name)
            if keys:
                for key in keys.split(","):
                    value = params.lookup(data, key.strip())
                    if value is params.MISSING:
                        raise DatavcError(f"{where}: vars file {name} has no key {key.strip()!r}")
                    merged[key.strip()] = value
            else:
                merged.update(data)
        else:
            raise DatavcError(f"{where}: a `vars` entry must be a file name or a mapping")
    return merged


def resolve(value: Any, ctx: dict[str, Any], where: str,
            unpack: Parsing | None = None) -> Any:
    """`value` with every `${...}` replaced from `ctx` (mappings and lists recursively);
    with `unpack` (for `cmd`), a mapping inside a string becomes command-line options."""
    if isinstance(value, str):
        return _resolve_str(value, ctx, where, unpack)
    if isinstance(value, list):
        return [resolve(v, ctx, where, unpack) for v in value]
    if isinstance(value, dict):
        return {resolve(k, ctx, where): resolve(v, ctx, where, unpack)
                for k, v in value.items()}
    return value


def _resolve_str(text: str, ctx: dict[str, Any], where: str, unpack: Parsing | None) -> Any:
    whole = _VAR.fullmatch(text)
    if whole and not (unpack and isinstance(_lookup(whole.group(1), ctx, where), dict)):
        return _lookup(whole.group(1), ctx, where)
    if "${" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        value = _lookup(m.group(1), ctx, where)
        if isinstance(value, dict) and unpack:
            return options(value, unpack, f"{where}: ${{{m.group(1)}}}")
        if isinstance(value, (dict, list)):
            hint = " (a mapping can be unpacked in `cmd` only)" if isinstance(value, dict) \
                else ""
            raise DatavcError(f"{where}: ${{{m.group(1)}}} is a {type(value).__name__}, "
                              f"which cannot be put inside a string{hint}")
        return _text(value)

    return _VAR.sub(sub, text).replace("\\${", "${")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "None" if value is None else str(value)


def options(mapping: dict[str, Any], parsing: Parsing, where: str) -> str:
    """A mapping as command-line options, DVC's way: nested keys joined with dots,
    strings shell-quoted, `None` as the word None, booleans and lists per `parsing`."""
    words: list[str] = []
    for key, value in params.flatten(mapping).items():
        if isinstance(value, bool):
            if value:
                words.append(f"--{key}")
            elif parsing.bool == "boolean_optional":
                words.append(f"--no-{key}")
        elif isinstance(value, str):
            words += [f"--{key}", shlex.quote(value)]
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, (list, dict)):
                    raise DatavcError(f"{where}: {key!r} holds a nested list or mapping, "
                                      "which cannot be unpacked into options")
                text = shlex.quote(item) if isinstance(item, str) else str(item)
                words += [f"--{key}", text] if i == 0 or parsing.list == "append" else [text]
        elif isinstance(value, dict):
            continue  # an empty mapping gives no option
        else:
            words += [f"--{key}", str(value)]
    return " ".join(words)


def _lookup(key: str, ctx: dict[str, Any], where: str) -> Any:
    value = params.lookup(ctx, _INDEX.sub(r".\1", key))
    if value is params.MISSING:
        raise DatavcError(f"{where}: unknown variable ${{{key}}}")
    return value


def expand(name: str, body: Any, ctx: dict[str, Any], where: str
           ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(stage name, raw body, context) for each stage a definition makes: one, or one per
    `foreach` item (`name@key`) or `matrix` combination (`name@v1-v2`)."""
    if not isinstance(body, dict):
        raise DatavcError(f"{where}: a stage must be a mapping")
    if "foreach" in body:
        extra = set(body) - {"foreach", "do"}
        if "do" not in body or extra:
            raise DatavcError(f"{where}: `foreach` needs `do` and nothing else beside it"
                              + (f" (found {', '.join(sorted(map(str, extra)))})" if extra else ""))
        items = resolve(body["foreach"], ctx, where)
        return [(f"{name}@{key}", body["do"], {**ctx, "item": item, "key": key})
                for key, item in _foreach_items(items, where)]
    if "matrix" in body:
        matrix = body["matrix"]
        if not isinstance(matrix, dict) or not matrix:
            raise DatavcError(f"{where}: `matrix` must map names to lists of values")
        rest = {k: v for k, v in body.items() if k != "matrix"}
        axes = []
        for axis, values in matrix.items():
            values = resolve(values, ctx, where)
            if not isinstance(values, list) or not values:
                raise DatavcError(f"{where}: matrix `{axis}` must be a non-empty list")
            axes.append([(axis, _key_of(v, f"{axis}{i}"), v) for i, v in enumerate(values)])
        stages = []
        for combo in itertools.product(*axes):
            key = "-".join(k for _, k, _ in combo)
            stages.append((f"{name}@{key}", rest,
                           {**ctx, "item": {axis: v for axis, _, v in combo}, "key": key}))
        return stages
    return [(name, body, ctx)]


def _foreach_items(items: Any, where: str) -> list[tuple[str, Any]]:
    if isinstance(items, dict):
        return [(str(k), v) for k, v in items.items()]
    if isinstance(items, list):
        scalar = all(_is_scalar(v) for v in items)
        return [(_key_of(v, str(i)) if scalar else str(i), v) for i, v in enumerate(items)]
    raise DatavcError(f"{where}: `foreach` must be a list or a mapping")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _key_of(value: Any, fallback: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if _is_scalar(value) else fallback
