"""Hypothesis strategies for the parser fuzzers: raw bytes and text, arbitrary YAML
structures, documents shaped like each format (the right keys, wrong or hostile values),
and valid documents with random edits, so the fuzzers reach past the first check."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

OID = "a" * 64
HOSTILE_PATHS = ["../x", "a/../../x", "/etc/passwd", ".git/config", "a/.git/hooks", ".GIT/x",
                 "a//b", "a/", ".", "..", "", "C:/x", "c:x", "a\\b", "x\x00y", "~/x", "./x",
                 "a/./b", "${d}", "${../x}", "data", "a/b/c", "päth", "sp ace", "-x", "#x"]
VOCAB = ["stages", "cmd", "deps", "outs", "path", "blake3", "size", "nfiles", "isexec",
         "relpath", "wdir", "params", "vars", "metrics", "plots", "artifacts", "datasets",
         "cache", "persist", "frozen", "always_changed", "foreach", "do", "matrix", "x", "y",
         "template", "title", "name", "url", "type", "schema", "desc", "meta", "labels",
         "remote", "push", "item", "key", "value"]

paths = st.sampled_from(HOSTILE_PATHS) | st.text(max_size=12)
oids = (st.sampled_from([OID, OID + ".dir", "A" * 64, OID[:63], OID + "\n", "md5:x"])
        | st.text(alphabet="0123456789abcdef", min_size=60, max_size=68))
scalars = (st.none() | st.booleans() | st.integers(-2, 2**70) | st.floats()
           | st.text(max_size=16) | paths | oids | st.dates())
keys = st.sampled_from(VOCAB) | paths | st.integers(-3, 3) | st.none() | st.booleans()
trees: st.SearchStrategy[Any] = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(keys, inner, max_size=5), max_leaves=25)

# YAML that safe_dump cannot make: aliases (also self-referencing), tags, merges, odd scalars
SNIPPETS = ["&a [*a]", "a: &x {b: *x}", "outs: &o\n- *o\n", "!!python/object:os.system x",
            "!!binary aGk=", "? [a, b]\n: c\n", "<<: {a: 1}", "outs:\n- path: !!str 1\n",
            "%YAML 1.1\n---\nx: 1\n...\n---\ny: 2\n", "\ufeffouts: []", "outs: [{<<: *u}]",
            "2020-01-01: x", "{.inf: .nan}", "stages: {s: {cmd: [[]]}}", "\t", "- -", "'",
            "stages:\n  s: !!set {a, b}\n", "x: !!timestamp 2001-12-14", "x: 2001-02-30",
            "x: !!int abc", "x: !!float .", "x: !!bool maybe", "!!timestamp"]


def dump(value: Any) -> str:
    try:
        return str(yaml.safe_dump(value, allow_unicode=True, sort_keys=False))
    except yaml.YAMLError:  # e.g. keys safe_dump refuses
        return json.dumps(value, default=str)


@st.composite
def edited(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A document with a few random insertions, deletions or duplicated spans."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "repeat"]))
        if op == "insert":
            text = text[:pos] + draw(st.text(max_size=6) | st.sampled_from(
                [":", "- ", "\n", "  ", "{", "[", "&a", "*a", "!!", "#", "'", '"', "\x00"])) \
                + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        else:
            text = text[:pos] + text[max(0, pos - 20):pos] + text[pos:]
    return text


def documents(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Bytes of a document: raw bytes, text, a random YAML tree, a snippet, a document of
    the right shape, or any of those with random edits."""
    texts = (st.text() | st.sampled_from(SNIPPETS) | trees.map(dump) | shaped.map(dump))
    return st.binary(max_size=300) | (texts | edited(texts)).map(
        lambda t: t.encode("utf-8", "surrogatepass"))


def value_or_junk(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return good | trees


out_entries = st.fixed_dictionaries(
    {"path": value_or_junk(paths), "blake3": value_or_junk(oids)},
    optional={"size": value_or_junk(st.integers(-1, 2**40)),
              "nfiles": value_or_junk(st.integers(-1, 10)),
              "cache": value_or_junk(st.booleans()), "isexec": st.booleans()})
metafiles = st.fixed_dictionaries({"outs": value_or_junk(st.lists(out_entries, max_size=3))},
                                  optional={"meta": trees})
manifests = st.lists(value_or_junk(st.fixed_dictionaries(
    {"relpath": value_or_junk(paths), "blake3": value_or_junk(oids),
     "size": value_or_junk(st.integers(-1, 2**40))},
    optional={"isexec": value_or_junk(st.booleans())})), max_size=6)
stage_names = st.sampled_from(["train", "prep", "a@b", "x y", "", "s:1"]) | st.text(max_size=6)
cmds = value_or_junk(st.text(max_size=20) | st.lists(st.text(max_size=10), max_size=3))
lock_stages = st.fixed_dictionaries(
    {"cmd": cmds},
    optional={"deps": value_or_junk(st.lists(out_entries, max_size=3)),
              "outs": value_or_junk(st.lists(out_entries, max_size=3)),
              "params": value_or_junk(st.dictionaries(paths, st.dictionaries(
                  st.text(max_size=5), scalars, max_size=2), max_size=2))})
locks = st.fixed_dictionaries({"stages": value_or_junk(st.dictionaries(
    stage_names, value_or_junk(lock_stages), max_size=3))},
    optional={"schema": value_or_junk(st.just("datavc/1"))})
out_specs = value_or_junk(st.lists(paths | st.dictionaries(paths, value_or_junk(
    st.fixed_dictionaries({}, optional={"cache": st.booleans(), "persist": st.booleans(),
                                        "x": st.text(max_size=4), "y": trees})),
    min_size=1, max_size=1), max_size=3))
pipeline_stages = st.fixed_dictionaries(
    {"cmd": cmds},
    optional={"deps": value_or_junk(st.lists(paths, max_size=3)), "outs": out_specs,
              "metrics": out_specs, "plots": out_specs, "wdir": value_or_junk(paths),
              "params": value_or_junk(st.lists(st.text(max_size=5) | st.dictionaries(
                  paths, st.none() | st.lists(st.text(max_size=5), max_size=2), max_size=2),
                  max_size=3)),
              "foreach": value_or_junk(st.lists(scalars, max_size=3)),
              "do": trees, "matrix": value_or_junk(st.dictionaries(
                  st.text(max_size=4), st.lists(scalars, max_size=2), max_size=2)),
              "vars": value_or_junk(st.lists(st.dictionaries(
                  st.text(max_size=4), scalars, max_size=2), max_size=2)),
              "frozen": value_or_junk(st.booleans())})
pipelines = st.fixed_dictionaries(
    {"stages": value_or_junk(st.dictionaries(stage_names, value_or_junk(pipeline_stages),
                                             max_size=3))},
    optional={"vars": value_or_junk(st.lists(st.dictionaries(
        st.text(max_size=4), scalars, max_size=3), max_size=2)),
        "metrics": value_or_junk(st.lists(paths, max_size=2)),
        "params": value_or_junk(st.lists(paths, max_size=2)),
        "plots": value_or_junk(st.lists(paths | st.dictionaries(
            st.text(max_size=8) | paths, trees, max_size=1), max_size=2)),
        "artifacts": value_or_junk(st.dictionaries(st.text(max_size=6), value_or_junk(
            st.fixed_dictionaries({"path": paths}, optional={"type": scalars, "labels": trees,
                                                             "meta": trees})), max_size=2)),
        "datasets": value_or_junk(st.lists(value_or_junk(st.fixed_dictionaries(
            {"name": scalars, "url": scalars}, optional={"type": scalars})), max_size=2))})
CONFIG_KEYS = ["core.remote", "core.autotrack", "core.threshold", "cache.dir", "cache.type",
               "cache.protected", 'remote "r".url', 'remote "r".jobs', "parsing.bool"]
configs = st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), st.text(max_size=12)), max_size=5)
urls = (st.text(max_size=40) | st.sampled_from(
    ["s3://", "s3://b", "s3://bucket/p", "s3://Bu/x", "s3://b:99/x", "ssh://", "ssh://h",
     "ssh://h/", "ssh://u@h:x/p", "ssh://h:70000/p", "ssh://[::1/p", "file://", "file://h/p",
     "file:///p", "http://x/y", "host:path", "C:\\x", "~/x", "s3://b/p?x#y", "ssh://h/~/"])
    | st.builds(lambda a, b: a + b, st.sampled_from(["s3://", "ssh://", "file://", ""]),
                st.text(max_size=20)))


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


def git_config(entries: list[tuple[str, str]]) -> bytes:
    """A git-config file setting `entries` (section.key or section "sub".key = value)."""
    lines = []
    for key, value in entries:
        section, _, name = key.rpartition(".")
        head, _, sub = section.partition(" ")
        lines.append(f"[{head} {sub}]" if sub else f"[{head}]")
        lines.append(f"\t{name} = {json.dumps(value)[1:-1]}")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


md5s = st.sampled_from(["d" * 32, "d" * 32 + ".dir", "D" * 32, "d" * 31]) | st.text(max_size=34)
dvc_outs = st.fixed_dictionaries(
    {"path": value_or_junk(paths)},
    optional={"md5": value_or_junk(md5s), "size": value_or_junk(st.integers(-1, 99)),
              "nfiles": value_or_junk(st.integers(-1, 9)), "cache": trees,
              "hash": value_or_junk(st.sampled_from(["md5", "md5-dos2unix", "sha256"]))})
dvcfiles = st.fixed_dictionaries({"outs": value_or_junk(st.lists(dvc_outs, max_size=3))},
                                 optional={"deps": trees, "cmd": trees, "frozen": trees})
dvclocks = st.fixed_dictionaries(
    {"schema": value_or_junk(st.sampled_from(["2.0", 2.0])),
     "stages": value_or_junk(st.dictionaries(stage_names, value_or_junk(st.fixed_dictionaries(
         {"cmd": cmds}, optional={"deps": value_or_junk(st.lists(dvc_outs, max_size=2)),
                                  "outs": value_or_junk(st.lists(dvc_outs, max_size=2)),
                                  "params": trees})), max_size=3))})
dvcmanifests = st.lists(value_or_junk(st.fixed_dictionaries(
    {"relpath": value_or_junk(paths), "md5": value_or_junk(md5s)})), max_size=5)
dvcconfigs = st.lists(st.tuples(
    st.sampled_from(["core", "cache", "'remote \"r\"'", 'remote "s"', "parsing", "[x"]),
    st.sampled_from(["remote", "dir", "url", "bool", "=", "%(x)s"]),
    st.text(max_size=10)), max_size=4).map(lambda entries: "".join(
        f"[{sec}]\n{key} = {value}\n" for sec, key, value in entries).encode(
            "utf-8", "surrogatepass"))
