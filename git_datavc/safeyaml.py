"""Reading YAML: every way a document can fail becomes one DatavcError naming the file."""

from __future__ import annotations

from typing import Any

from .errors import DatavcError


def load(text: str | bytes, name: str) -> Any:
    """The document in `text` (safe loader; C one when built), or DatavcError."""
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        first = (str(e).strip().splitlines() or ["syntax error"])[0]
        raise DatavcError(f"{name} is not valid YAML: {first}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        # PyYAML's scalar constructors fail this way on a value they cannot build:
        # `2001-02-30`, `!!int abc`, `!!float x`, `!!bool maybe`, a bare `!!timestamp`
        raise DatavcError(f"{name} is not valid YAML: a value cannot be read "
                          f"({type(e).__name__}: {e})") from None
