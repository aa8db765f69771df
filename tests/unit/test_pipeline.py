"""datavc.yaml / dvc.yaml: schema, interpolation, foreach/matrix, the graph and its errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from git_datavc import params, pipeline
from git_datavc.errors import DatavcError, UnsafePath
from git_datavc.pipeline import OutSpec


def load(tmp_path: Path, text: str, files: dict[str, str] | None = None,
         name: str = "datavc.yaml") -> pipeline.Pipeline:
    for rel, content in (files or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(content))
    (tmp_path / name).write_text(textwrap.dedent(text))
    return pipeline.load(tmp_path)


def error_of(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> str:
    with pytest.raises(DatavcError) as info:
        load(tmp_path, text, files)
    return info.value.message


def test_full_stage_schema(tmp_path: Path) -> None:
    pipe = load(tmp_path, """
        stages:
          train:
            desc: fit the model
            cmd: [python train.py, echo done]
            wdir: src
            deps: [train.py, ../data/features]
            params: [lr, {../other.json: [a.b]}, {../all.toml: }]
            outs:
            - ../model.pkl
            - ../ckpt: {persist: true}
            metrics:
            - ../eval/metrics.json: {cache: false}
            plots:
            - ../eval/roc.csv: {x: fpr, y: tpr, cache: false}
            frozen: true
            always_changed: false
            meta: {owner: me}
        """)
    stage = pipe.stages["train"]
    assert stage.cmds == ("python train.py", "echo done")
    assert stage.wdir == "src"
    assert stage.deps == ("src/train.py", "data/features")
    assert stage.params == (("src/params.yaml", ("lr",)), ("other.json", ("a.b",)),
                            ("all.toml", None))
    assert stage.outs == (OutSpec("model.pkl"), OutSpec("ckpt", persist=True),
                          OutSpec("eval/metrics.json", cache=False, kind="metrics"),
                          OutSpec("eval/roc.csv", cache=False, kind="plots"))
    assert stage.frozen and not stage.always_changed and stage.desc == "fit the model"


def test_dvc_yaml_is_read_when_there_is_no_datavc_yaml(tmp_path: Path) -> None:
    pipe = load(tmp_path, "stages:\n  a:\n    cmd: echo\n", name="dvc.yaml")
    assert pipe.file == "dvc.yaml" and list(pipe.stages) == ["a"]
    (tmp_path / "datavc.yaml").write_text("stages:\n  b:\n    cmd: echo\n")
    assert list(pipeline.load(tmp_path).stages) == ["b"]


def test_vars_and_params_yaml_interpolation(tmp_path: Path) -> None:
    pipe = load(tmp_path, """
        vars:
        - conf.yaml
        - sizes.json:small
        - {name: resnet, flag: true}
        stages:
          train:
            cmd: python train.py --lr ${train.lr} --model ${name} --size ${small} --f ${flag}
            deps: ["${data_dir}/x.csv"]
            outs: ["models/${name}.pkl"]
            params: [train.lr]
        """, {"params.yaml": "train:\n  lr: 0.01\n", "conf.yaml": "data_dir: data\n",
              "sizes.json": json.dumps({"small": 8, "big": 64})})
    stage = pipe.stages["train"]
    assert stage.cmds == ("python train.py --lr 0.01 --model resnet --size 8 --f true",)
    assert stage.deps == ("data/x.csv",)
    assert stage.outs[0].path == "models/resnet.pkl"


def test_whole_value_interpolation_keeps_the_type_and_escapes(tmp_path: Path) -> None:
    pipe = load(tmp_path, r"""
        vars: [{frozen_: true, models: [a, b]}]
        stages:
          s:
            cmd: echo \${literal} ${models[1]}
            frozen: ${frozen_}
        """)
    assert pipe.stages["s"].frozen is True
    assert pipe.stages["s"].cmds == ("echo ${literal} b",)


def test_foreach_list_dict_and_matrix(tmp_path: Path) -> None:
    pipe = load(tmp_path, """
        vars: [{sets: [train, test]}]
        stages:
          clean:
            foreach: ${sets}
            do:
              cmd: python clean.py ${item}
              outs: ["clean/${item}.csv"]
          fit:
            foreach:
              small: {size: 1}
              large: {size: 9}
            do:
              cmd: python fit.py ${key} ${item.size}
          records:
            foreach: [{a: 1}, {a: 2}]
            do:
              cmd: echo ${item.a}
          grid:
            matrix:
              model: [cnn, rnn]
              lr: [0.1, 1]
            cmd: python grid.py ${item.model} ${item.lr}
            outs: ["grid/${item.model}-${item.lr}"]
        """)
    assert list(pipe.stages) == [
        "clean@train", "clean@test", "fit@small", "fit@large", "records@0", "records@1",
        "grid@cnn-0.1", "grid@cnn-1", "grid@rnn-0.1", "grid@rnn-1"]
    assert pipe.stages["clean@test"].outs[0].path == "clean/test.csv"
    assert pipe.stages["fit@large"].cmds == ("python fit.py large 9",)
    assert pipe.stages["records@1"].cmds == ("echo 2",)
    assert pipe.stages["grid@rnn-0.1"].outs[0].path == "grid/rnn-0.1"
    assert pipe.select("clean") == ["clean@train", "clean@test"]
    assert pipe.select("datavc.yaml") == list(pipe.stages)


def test_graph_from_outs_feeding_deps(tmp_path: Path) -> None:
    pipe = load(tmp_path, """
        stages:
          evaluate: {cmd: e, deps: [model.pkl, data/features/test.csv], metrics: [m.json]}
          train: {cmd: t, deps: [data/features], outs: [model.pkl]}
          featurize: {cmd: f, deps: [data/prepared], outs: [data/features]}
          prepare: {cmd: p, deps: [data/raw], outs: [data/prepared]}
          report: {cmd: r, deps: [data]}
        """)
    assert pipe.order() == ["prepare", "featurize", "train", "evaluate", "report"]
    assert set(pipe.upstream["evaluate"]) == {"train", "featurize"}  # dep inside an out
    assert set(pipe.upstream["report"]) == {"prepare", "featurize"}  # outs inside a dep
    assert pipe.ancestors(["train"]) == {"train", "featurize", "prepare"}
    assert pipe.descendants(["featurize"]) == {"featurize", "train", "evaluate", "report"}


@pytest.mark.parametrize("text, expected", [
    ("stages:\n  a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n"
     "  b: {cmd: y, deps: [a.txt], outs: [b.txt]}\n", "cycle: a -> b -> a"),
    ("stages:\n  a: {cmd: x, deps: [a.txt], outs: [a.txt]}\n", "'a' depends on its own out"),
    ("stages:\n  a: {cmd: x, outs: [o]}\n  b: {cmd: y, outs: [o]}\n",
     "'o' is an out of both stage 'a' and stage 'b'"),
    ("stages:\n  a: {cmd: x, outs: [d]}\n  b: {cmd: y, outs: [d/e]}\n",
     "out 'd/e' of stage 'b' is inside out 'd' of stage 'a'"),
    ("stages:\n  a:\n    cmd: echo ${nope}\n", "stage 'a': unknown variable ${nope}"),
    ("stages:\n  a: {cmd: x, depz: [y]}\n", "stage 'a': unknown key 'depz'"),
    ("stages:\n  a: {deps: [y]}\n", "stage 'a': `cmd` is missing"),
    ("stages:\n  a: {cmd: x, outs: [{o: {cache: maybe}}]}\n", "`cache` must be true or false"),
    ("stages:\n  a: {cmd: x, outs: [{o: {colour: red}}]}\n", "'o': unknown key 'colour'"),
    ("stages:\n  a: {cmd: x, frozen: yes please}\n", "`frozen` must be true or false"),
    ("stages:\n  a b: {cmd: x}\n", "a stage name cannot"),
    ("stages:\n  a:\n    foreach: [1]\n    do: {cmd: x}\n    cmd: y\n", "`foreach` needs `do`"),
    ("stages:\n  a:\n    matrix: {m: []}\n    cmd: x\n", "matrix `m` must be a non-empty list"),
    ("stagez: {}\n", "unknown top-level key 'stagez'"),
    ("stages: [a]\n", "`stages` must map"),
    ("stages: {a: {cmd: [x, 1]}}\n", "`cmd` must be a command or a list"),
    ("stages: {a: {cmd: 'echo ${l}'}}\nvars: [{l: [1, 2]}]\n", "cannot be put inside a string"),
    ("stages: {a: {cmd: x\n", "is not valid YAML"),
])
def test_errors_name_the_file_stage_and_key(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert expected in message and message.startswith("datavc.yaml"), message


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", "a/../../b", ".git/config",
                                  "a\\b"])
def test_unsafe_paths_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UnsafePath):
        load(tmp_path, f"stages:\n  a: {{cmd: x, outs: [{json.dumps(path)}]}}\n")


def test_no_pipeline_file(tmp_path: Path) -> None:
    with pytest.raises(DatavcError, match="no datavc.yaml or dvc.yaml"):
        pipeline.load(tmp_path)


def test_unknown_target(tmp_path: Path) -> None:
    pipe = load(tmp_path, "stages:\n  a: {cmd: x}\n")
    with pytest.raises(DatavcError, match="no stage named 'b'"):
        pipe.select("b")


# --- params files ---------------------------------------------------------------------

def test_params_formats_and_dotted_keys(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("train:\n  lr: 0.1\n  layers: [8, 16]\n")
    (tmp_path / "p.json").write_text('{"train": {"lr": 0.2}}')
    (tmp_path / "p.toml").write_text("[train]\nlr = 0.3\n")
    (tmp_path / "p.py").write_text("LR = 0.4\nNAME: str = 'x'\nCOMPUTED = f()\n"
                                   "class Train:\n    lr = 0.5\n")
    assert params.lookup(params.load(tmp_path / "p.yaml"), "train.lr") == 0.1
    assert params.lookup(params.load(tmp_path / "p.yaml"), "train.layers.1") == 16
    assert params.lookup(params.load(tmp_path / "p.json"), "train.lr") == 0.2
    assert params.lookup(params.load(tmp_path / "p.toml"), "train.lr") == 0.3
    py = params.load(tmp_path / "p.py")
    assert py == {"LR": 0.4, "NAME": "x", "Train": {"lr": 0.5}}
    assert params.lookup(py, "Train.lr") == 0.5
    assert params.lookup(py, "Train.nope") is params.MISSING
    assert params.flatten({"a": {"b": 1, "c": [1]}, "d": {}}) == {"a.b": 1, "a.c": [1], "d": {}}


@pytest.mark.parametrize("name, content, expected", [
    ("bad.yaml", "a: [", "cannot be parsed"),
    ("bad.json", "{", "cannot be parsed"),
    ("bad.ini", "a=1", "unknown format"),
    ("list.yaml", "- 1\n", "does not hold a mapping"),
])
def test_params_errors(tmp_path: Path, name: str, content: str, expected: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(DatavcError, match=expected):
        params.load(tmp_path / name)
    with pytest.raises(DatavcError, match="does not exist"):
        params.load(tmp_path / "missing.yaml")
