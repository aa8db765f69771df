"""Path patterns with .gitattributes semantics (what `--include`/`--exclude` of `migrate` take).

A pattern without a slash matches a file's name at any depth (`*.bin`); one with a slash is
anchored at the repository root (`data/*.bin`, `/top.bin`), where `*` and `?` stop at `/`,
`**/` matches any number of directories and a trailing `/**` everything below a directory.
See gitattributes(5) and gitignore(5) "PATTERN FORMAT".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .errors import UsageError

_CLASSES = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
            "lower": "a-z", "space": r"\s", "xdigit": "0-9a-fA-F", "punct": r"!-/:-@\[-`{-~"}


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression starting at pattern[i] == '['; (regex, next index)."""
    j = i + 1
    out = "["
    if j < len(pattern) and pattern[j] in "!^":
        out += "^"
        j += 1
    first = True
    while j < len(pattern) and (pattern[j] != "]" or first):
        first = False
        if pattern.startswith("[:", j):
            end = pattern.find(":]", j + 2)
            name = pattern[j + 2:end] if end > 0 else ""
            if name not in _CLASSES:
                raise UsageError(f"pattern {pattern!r}: unknown character class [:{name}:]")
            out += _CLASSES[name]
            j = end + 2
            continue
        c = pattern[j]
        out += "\\\\" if c == "\\" else ("\\" + c if c in "[]^" else c)
        j += 1
    if j >= len(pattern):
        raise UsageError(f"pattern {pattern!r}: unclosed [")
    return out + "]", j + 1


def _translate(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out += "/.*"
            i += 3
        elif pattern[i] == "*":
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            out += "[^/]*"
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            part, i = _class(pattern, i)
            out += part
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
        else:
            out += re.escape(pattern[i])
            i += 1
    return out


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]
    basename_only: bool

    def matches(self, path: str) -> bool:
        subject = path.rsplit("/", 1)[-1] if self.basename_only else path
        return bool(self.regex.fullmatch(subject))


def compile_pattern(text: str) -> Pattern:
    if not text or text.startswith("!") or text.endswith("/"):
        raise UsageError(f"pattern {text!r}: give a file pattern like '*.bin' or 'data/**'")
    body = text[1:] if text.startswith("/") else text
    basename_only = "/" not in text
    return Pattern(text, re.compile(_translate(body), re.DOTALL), basename_only)


def split_patterns(values: Sequence[str]) -> list[str]:
    """`-I '*.bin,*.pt' -I 'data/**'` → ['*.bin', '*.pt', 'data/**'] (commas separate, as in
    `git lfs migrate`)."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


@dataclass(frozen=True)
class PathFilter:
    include: tuple[Pattern, ...]
    exclude: tuple[Pattern, ...]

    def selects(self, path: str) -> bool:
        """Matched by an include (every path when there are none) and by no exclude."""
        if self.include and not any(p.matches(path) for p in self.include):
            return False
        return not any(p.matches(path) for p in self.exclude)


def path_filter(include: Sequence[str], exclude: Sequence[str]) -> PathFilter:
    return PathFilter(tuple(compile_pattern(p) for p in include),
                      tuple(compile_pattern(p) for p in exclude))
