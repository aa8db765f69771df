"""Each scenario of scenarios/ under real DVC and under git-datavc, side by side: the test
fails on any difference deviations.yaml does not document. A scenario with a known,
unfixed difference carries `xfail: <finding>` and is a strict expected failure."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from . import compare, runner


def _params() -> list[object]:
    marked = []
    for name in runner.names():
        reason = runner.load(name).get("xfail")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        marked.append(pytest.param(name, marks=marks, id=name))
    return marked


def _tools(dvc_bin: Path, tmp: Path) -> tuple[runner.Tool, runner.Tool]:
    # Stage commands say `python`: both tools must run the very interpreter of the tests.
    shim = tmp / "bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    (shim / "python3").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1"}
    env.pop("DATAVC_DEBUG", None)
    dvc = runner.Tool("dvc", [str(dvc_bin)], env, str(dvc_bin.parent / "python"))
    datavc = runner.Tool("datavc", ["git", "datavc"], env)
    return dvc, datavc


@pytest.mark.parametrize("name", _params())
def test_scenario(name: str, dvc_bin: Path, tmp_path: Path) -> None:
    scenario = runner.load(name)
    dvc, datavc = _tools(dvc_bin, tmp_path)
    # side by side: DVC's start-up time dominates, git-datavc runs meanwhile
    with ThreadPoolExecutor(2) as pool:
        dvc_run = pool.submit(runner.run, scenario, dvc, tmp_path / "dvc" / "repo")
        datavc_run = pool.submit(runner.run, scenario, datavc, tmp_path / "datavc" / "repo")
        seen_dvc, seen_datavc = dvc_run.result(), datavc_run.result()
    left = compare.undocumented(name, compare.differences(seen_dvc, seen_datavc))
    if left:
        outputs = "\n".join(
            f"--- step {i} ({a.step})\n[dvc, exit {a.exit}]\n{a.output.strip()}\n"
            f"[datavc, exit {b.exit}]\n{b.output.strip()}"
            for i, (a, b) in enumerate(zip(seen_dvc, seen_datavc), start=1)
            if any(d.step == i for d in left))
        pytest.fail(f"{name}: {len(left)} undocumented difference(s) from DVC\n"
                    + "\n".join(str(d) for d in left) + "\n\n" + outputs, pytrace=False)
