"""`dag [TARGET] [--dot|--mermaid]`: the pipeline graph, as text, Graphviz dot or Mermaid."""

from __future__ import annotations

import json

from .. import git, pipeline


def render(pipe: pipeline.Pipeline, names: list[str], fmt: str) -> str:
    edges = [(up, name) for name in names for up in pipe.upstream[name] if up in names]
    if fmt == "dot":
        lines = ["strict digraph {"] + [f"\t{json.dumps(n)};" for n in names]
        lines += [f"\t{json.dumps(a)} -> {json.dumps(b)};" for a, b in edges]
        return "\n".join(lines + ["}"])
    if fmt == "mermaid":
        ids = {name: f"node{i + 1}" for i, name in enumerate(names)}
        lines = ["flowchart TD"] + [f"\t{ids[n]}[{json.dumps(n)}]" for n in names]
        lines += [f"\t{ids[a]}-->{ids[b]}" for a, b in edges]
        return "\n".join(lines)
    width = max((len(n) for n in names), default=0)
    return "\n".join(
        f"{name:<{width}}  <- {', '.join(u for u in pipe.upstream[name] if u in names)}"
        if any(u in names for u in pipe.upstream[name]) else name for name in names)


def run(target: str | None, fmt: str = "text") -> int:
    repo = git.find_repo()
    pipe = pipeline.load(repo.root)
    names = pipe.order(pipe.ancestors(pipe.select(target)) if target else None)
    text = render(pipe, names, fmt)
    if text:
        print(text)
    return 0
