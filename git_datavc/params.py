"""Parameters files: YAML, JSON, TOML and Python, addressed with dotted keys (`train.lr`).

Python files are read, never run: top-level assignments of literals and the literal
attributes of top-level classes (`class Train: lr = 0.1` gives `Train.lr`), as DVC does.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from .errors import DatavcError

DEFAULT = "params.yaml"
MISSING = object()


def load(path: Path, name: str = "") -> dict[str, Any]:
    """The parameters in `path` as a mapping; `name` is how messages call the file."""
    name = name or path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatavcError(f"params file {name} does not exist") from None
    except OSError as e:
        raise DatavcError(f"cannot read params file {name}: {e.strerror}") from None
    return parse(data, path.suffix.lower(), name)


def parse(data: bytes, suffix: str, name: str) -> dict[str, Any]:
    try:
        if suffix in (".yaml", ".yml", ""):
            value = _load_yaml(data)
        elif suffix == ".json":
            value = json.loads(data)
        elif suffix == ".toml":
            value = _load_toml(data)
        elif suffix == ".py":
            value = _load_python(data)
        else:
            raise DatavcError(f"params file {name}: unknown format {suffix!r} "
                              "(use .yaml, .json, .toml or .py)")
    except DatavcError:
        raise
    except Exception as e:  # each parser has its own error types
        first = (str(e).strip().splitlines() or ["syntax error"])[0]
        raise DatavcError(f"params file {name} cannot be parsed: {first}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DatavcError(f"params file {name} does not hold a mapping of parameters")
    return value


def _load_yaml(data: bytes) -> Any:
    import yaml

    return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _load_toml(data: bytes) -> Any:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(data.decode())


def _load_python(data: bytes) -> dict[str, Any]:
    tree = ast.parse(data)
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            attrs = _literal_assignments(node.body)
            if attrs:
                values[node.name] = attrs
        else:
            values.update(_literal_assignments([node]))
    return values


def _literal_assignments(body: list[ast.stmt]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            continue  # computed values are not parameters
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = literal
    return found


def lookup(data: Any, key: str) -> Any:
    """The value at dotted `key` (list items by index: `layers.0`), or MISSING."""
    if isinstance(data, dict) and key in data:  # a key that itself holds dots
        return data[key]
    current = data
    for part in key.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted key: leaf value}: how params and metrics are compared and shown."""
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: data} if prefix else {}
