"""The top-level `plots`, `artifacts` and `datasets` sections of dvc.yaml: every form DVC's
reference gives, read into the dataclasses of git_datavc.sections; bad entries refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from git_datavc import pipeline
from git_datavc.errors import DatavcError, UnsafePath
from git_datavc.sections import Artifact, Dataset, Plot, PlotFile


def load(tmp_path: Path, text: str) -> pipeline.Pipeline:
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent(text))
    return pipeline.load(tmp_path)


def test_every_plot_form(tmp_path: Path) -> None:
    pipe = load(tmp_path, """
        plots:
        - eval/importance.png
        - eval/loss.tsv
        - eval/prc.json:
            x: recall
            y: precision
            title: PRC
        - ROC:
            template: simple
            x: fpr
            y:
              eval/roc/train.json: tpr
              eval/roc/test.json: [tpr, threshold]
            x_label: False positive rate
            y_label: True positive rate
        - Mixed:
            x: {a.json: step, b.json: epoch}
            y: {a.json: acc, b.json: acc}
        stages:
          train:
            cmd: python train.py
            wdir: src
            plots:
            - ../out/acc.csv:
                x: step
                y: [acc, val_acc]
                template: linear
            - ../out/cm.png
    """)
    assert pipe.plots == [
        Plot("eval/importance.png", (PlotFile("eval/importance.png"),), image=True),
        Plot("eval/loss.tsv", (PlotFile("eval/loss.tsv"),)),
        Plot("eval/prc.json", (PlotFile("eval/prc.json", "recall", ("precision",)),),
             title="PRC"),
        Plot("ROC", (PlotFile("eval/roc/train.json", "fpr", ("tpr",)),
                     PlotFile("eval/roc/test.json", "fpr", ("tpr", "threshold"))),
             template="simple", x_label="False positive rate", y_label="True positive rate"),
        Plot("Mixed", (PlotFile("a.json", "step", ("acc",)), PlotFile("b.json", "epoch", ("acc",)))),
        Plot("out/acc.csv", (PlotFile("out/acc.csv", "step", ("acc", "val_acc")),),
             template="linear"),
        Plot("out/cm.png", (PlotFile("out/cm.png"),), image=True),
    ]


def test_artifacts_and_datasets_are_kept(tmp_path: Path) -> None:
    pipe = load(tmp_path, """
        artifacts:
          text-classification:
            path: model.pkl
            type: model
            desc: Detect R questions
            labels: [nlp, classification]
            meta: {framework: sklearn}
        datasets:
        - name: posts
          type: dvc
          url: git@example.com:org/registry.git
          path: data/posts.xml
          rev: v1
        - name: page
          type: url
          url: https://example.com/data.csv
    """)
    assert pipe.artifacts == (Artifact("text-classification", "model.pkl", "model",
                                       "Detect R questions", ("nlp", "classification"),
                                       {"framework": "sklearn"}),)
    assert pipe.datasets == (
        Dataset("posts", "dvc", "git@example.com:org/registry.git",
                {"path": "data/posts.xml", "rev": "v1"}),
        Dataset("page", "url", "https://example.com/data.csv"))


@pytest.mark.parametrize("text, expected", [
    ("plots:\n- ROC:\n    x: fpr\n    colour: red\n", "plot 'ROC': unknown key 'colour'"),
    ("plots:\n- ../outside.csv\n", "leaves the repository"),
    ("plots: eval.csv\n", "plots: must be a list"),
    ("artifacts:\n  m:\n    type: model\n", "'m': an artifact needs at least `path`"),
    ("artifacts:\n  m:\n    path: m.pkl\n    stage: x\n", "unknown key 'stage'"),
    ("datasets:\n- name: d\n  url: x\n  type: ftp\n", "'d': `type` must be one of"),
    ("datasets:\n- name: d\n", "each dataset needs `name` and `url`"),
])
def test_bad_entries_are_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises((DatavcError, UnsafePath)) as info:
        load(tmp_path, text)
    assert expected in info.value.message and "\n" not in info.value.message
