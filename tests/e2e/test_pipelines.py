"""Pipelines end to end: real `git`, real `git datavc repro` processes, small Python stages.

Every stage script appends its name to `runs.log` (git-ignored), so each test can say
exactly which stages ran after each kind of change.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.helpers import datavc, git

SCRIPTS = {
    "src/prepare.py": """
        import os, sys, yaml
        open("runs.log", "a").write("prepare\\n")
        p = yaml.safe_load(open("params.yaml"))["prepare"]
        rows = open(sys.argv[1]).read().splitlines()
        cut = max(1, int(len(rows) * (1 - p["split"])))
        os.makedirs("data/prepared", exist_ok=True)
        open("data/prepared/train.tsv", "w").write("\\n".join(rows[:cut]) + "\\n")
        open("data/prepared/test.tsv", "w").write("\\n".join(rows[cut:]) + f"\\n{p['seed']}\\n")
    """,
    "src/featurize.py": """
        import os, sys, yaml
        open("runs.log", "a").write("featurize\\n")
        n = yaml.safe_load(open("params.yaml"))["featurize"]["max_features"]
        os.makedirs(sys.argv[2], exist_ok=True)
        for name in ("train", "test"):
            words = open(f"{sys.argv[1]}/{name}.tsv").read().split()
            open(f"{sys.argv[2]}/{name}.txt", "w").write(" ".join(sorted(words)[:n]))
    """,
    "src/train.py": """
        import sys, yaml
        open("runs.log", "a").write("train\\n")
        p = yaml.safe_load(open("params.yaml"))["train"]
        features = open(sys.argv[1] + "/train.txt").read()
        open(sys.argv[2], "w").write(f"model n_est={p['n_est']} on {len(features)} chars\\n")
    """,
    "src/evaluate.py": """
        import json, os, sys
        open("runs.log", "a").write("evaluate\\n")
        model = open(sys.argv[1]).read()
        os.makedirs("eval", exist_ok=True)
        score = len(model) / 100 + len(open(sys.argv[2] + "/test.txt").read()) / 1000
        json.dump({"avg_prec": round(score, 4), "roc_auc": 0.5}, open("eval/metrics.json", "w"))
    """,
}
PARAMS = {"prepare": {"split": 0.25, "seed": 20170428},
          "featurize": {"max_features": 50},
          "train": {"n_est": 50, "min_split": 2}}
RAW = "".join(f"row{i} word{i % 7} text{i % 3}\n" for i in range(40))

PIPELINE = """
stages:
  prepare:
    cmd: python src/prepare.py data/raw.txt
    deps: [data/raw.txt, src/prepare.py]
    params: [prepare.seed, prepare.split]
    outs: [data/prepared]
  featurize:
    cmd: python src/featurize.py data/prepared data/features
    deps: [data/prepared, src/featurize.py]
    params: [featurize.max_features]
    outs: [data/features]
  train:
    cmd: python src/train.py data/features model.pkl
    deps: [data/features, src/train.py]
    params: [train.n_est, train.min_split]
    outs: [model.pkl]
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps: [data/features, model.pkl, src/evaluate.py]
    metrics:
    - eval/metrics.json:
        cache: false
"""
ALL = ["prepare", "featurize", "train", "evaluate"]


# --- helpers -------------------------------------------------------------------------

def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o644)
    path.write_text(text)


def ran(repo: Path) -> list[str]:
    """The stages that ran since the last call."""
    log = repo / "runs.log"
    if not log.exists():
        return []
    names = log.read_text().split()
    log.write_text("")
    return names


def repro(repo: Path, *args: str, check: bool = True) -> list[str]:
    result = datavc(repo, "repro", *args, check=check)
    assert "Traceback" not in result.stderr, result.stderr
    return ran(repo)


def set_params(repo: Path, **changes: dict[str, object]) -> None:
    data = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    write(repo, "params.yaml", yaml.safe_dump(data, sort_keys=False))


def lock(repo: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((repo / "datavc.lock").read_text())["stages"]


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def project(repo: Path) -> Path:
    for rel, text in SCRIPTS.items():
        write(repo, rel, textwrap.dedent(text).lstrip())
    write(repo, "params.yaml", yaml.safe_dump(PARAMS, sort_keys=False))
    write(repo, "data/raw.txt", RAW)
    write(repo, "datavc.yaml", PIPELINE)
    write(repo, ".gitignore", "runs.log\n")
    return repo


# --- which stages run ----------------------------------------------------------------

def test_exactly_the_changed_stages_run(project: Path) -> None:
    repo = project
    assert repro(repo) == ALL
    assert list(lock(repo)) == ALL
    assert repro(repo) == []
    assert "up to date" in datavc(repo, "repro").stdout
    commit(repo, "pipeline")
    assert git(repo, "status", "--porcelain").stdout == ""  # outs are git-ignored

    pipeline = (repo / "datavc.yaml").read_text()
    write(repo, "datavc.yaml", pipeline.replace("model.pkl\n    deps", "model.pkl --quiet\n"
                                                "    deps"))
    assert repro(repo) == ["train"], "same model bytes: evaluate does not run"

    write(repo, "src/featurize.py", (repo / "src/featurize.py").read_text() + "# comment\n")
    assert repro(repo) == ["featurize"], "same features: nothing downstream runs"

    set_params(repo, train={"n_est": 100})
    assert repro(repo) == ["train", "evaluate"]

    set_params(repo, unused={"x": 1})
    assert repro(repo) == []

    write(repo, "data/raw.txt", RAW + "row40 word5 text1\n")
    assert repro(repo) == ALL

    model = (repo / "model.pkl").read_text()
    (repo / "model.pkl").unlink()
    (repo / "data/features/test.txt").unlink()
    result = datavc(repo, "repro")
    assert ran(repo) == [], "deleted outs that are cached are restored, not re-run"
    assert "restored" in result.stderr
    assert (repo / "model.pkl").read_text() == model
    assert (repo / "data/features/test.txt").exists()

    (repo / "eval/metrics.json").unlink()  # cache: false, yet kept for the run-cache
    assert repro(repo) == []
    assert json.loads((repo / "eval/metrics.json").read_text())["roc_auc"] == 0.5


def test_targets_single_item_downstream_and_dry(project: Path) -> None:
    repo = project
    repro(repo)
    write(repo, "data/raw.txt", RAW + "more words here\n")
    assert repro(repo, "--dry") == []
    assert "Would run stage 'prepare'" in datavc(repo, "repro", "--dry").stderr
    assert repro(repo, "featurize") == ["prepare", "featurize"]
    set_params(repo, train={"n_est": 7})
    assert repro(repo, "train", "-s") == ["train"]
    set_params(repo, train={"n_est": 8})
    assert repro(repo, "--downstream", "train") == ["train", "evaluate"]
    assert repro(repo, "-f", "evaluate", "-s") == ["evaluate"]
    result = datavc(repo, "repro", "nosuch", check=False)
    assert result.returncode == 1 and "no stage named 'nosuch'" in result.stderr


def test_lock_entries_record_what_ran(project: Path) -> None:
    repo = project
    repro(repo)
    entry = lock(repo)["prepare"]
    assert entry["cmd"] == "python src/prepare.py data/raw.txt"
    assert [d["path"] for d in entry["deps"]] == ["data/raw.txt", "src/prepare.py"]
    assert entry["params"] == {"params.yaml": {"prepare.seed": 20170428, "prepare.split": 0.25}}
    out = entry["outs"][0]
    assert out["path"] == "data/prepared" and out["nfiles"] == 2 and out["blake3"].endswith(".dir")
    assert lock(repo)["evaluate"]["outs"][0]["cache"] is False
    assert "/prepared" in (repo / "data/.gitignore").read_text().split()


# --- run-cache and checkout --------------------------------------------------------

def test_run_cache_restores_an_old_combination_without_running(project: Path) -> None:
    repo = project
    repro(repo)
    first = commit(repo, "n_est 50")
    model_50 = (repo / "model.pkl").read_text()
    set_params(repo, train={"n_est": 99})
    assert repro(repo) == ["train", "evaluate"]
    commit(repo, "n_est 99")

    git(repo, "checkout", first, "--", "params.yaml")  # old params, newer lock
    result = datavc(repo, "repro")
    assert ran(repo) == [], result.stderr
    assert "run-cache" in result.stderr
    assert (repo / "model.pkl").read_text() == model_50
    assert lock(repo)["train"]["params"]["params.yaml"]["train.n_est"] == 50
    git(repo, "checkout", "-f", "main")


def test_checkout_of_an_older_commit_restores_its_stage_outs(project: Path) -> None:
    repo = project
    repro(repo)
    first = commit(repo, "n_est 50")
    model_50 = (repo / "model.pkl").read_text()
    features_50 = (repo / "data/features/train.txt").read_text()
    set_params(repo, train={"n_est": 99}, featurize={"max_features": 3})
    repro(repo)
    commit(repo, "n_est 99")
    model_99 = (repo / "model.pkl").read_text()

    git(repo, "checkout", "-q", first)  # the post-checkout hook places the old outs
    assert (repo / "model.pkl").read_text() == model_50
    assert (repo / "data/features/train.txt").read_text() == features_50
    assert repro(repo) == []
    git(repo, "checkout", "-q", "main")
    assert (repo / "model.pkl").read_text() == model_99
    assert repro(repo) == []


# --- foreach, matrix, -j -------------------------------------------------------------

def test_foreach_and_matrix(repo: Path) -> None:
    write(repo, "make.py", "import sys, os\nopen('runs.log', 'a').write(sys.argv[1] + '\\n')\n"
                           "os.makedirs('out', exist_ok=True)\n"
                           "open(sys.argv[2], 'w').write(' '.join(sys.argv))\n")
    write(repo, "datavc.yaml", """
vars:
- sets: [train, test]
stages:
  split:
    foreach: ${sets}
    do:
      cmd: python make.py split@${item} out/${item}.txt
      outs: ["out/${item}.txt"]
  grid:
    matrix:
      model: [cnn, rnn]
      lr: [0.1, 1]
    cmd: python make.py grid@${item.model}-${item.lr} out/${item.model}-${item.lr}.txt
    deps: [out/train.txt]
    outs: ["out/${item.model}-${item.lr}.txt"]
""")
    assert sorted(repro(repo)) == sorted(["split@train", "split@test", "grid@cnn-0.1",
                                          "grid@cnn-1", "grid@rnn-0.1", "grid@rnn-1"])
    assert repro(repo, "grid@rnn-1", "-f", "-s") == ["grid@rnn-1"]
    assert sorted(repro(repo, "-f", "split")) == ["split@test", "split@train"]
    dag = datavc(repo, "dag").stdout
    assert "grid@cnn-0.1  <- split@train" in dag


def test_parallel_jobs_overlap_independent_stages(repo: Path) -> None:
    # Each stage waits until the other has started: they only both finish when run together.
    write(repo, "meet.py", "import os, sys, time\nme, other = sys.argv[1:]\n"
                           "open(me + '.started', 'w').close()\n"
                           "deadline = time.time() + 20\n"
                           "while not os.path.exists(other + '.started'):\n"
                           "    if time.time() > deadline: sys.exit(3)\n"
                           "    time.sleep(0.05)\n"
                           "open(me + '.out', 'w').write(me)\n")
    write(repo, "datavc.yaml", "stages:\n"
                               "  a: {cmd: python meet.py a b, outs: [a.out]}\n"
                               "  b: {cmd: python meet.py b a, outs: [b.out]}\n"
                               "  c: {cmd: cat a.out b.out > c.out, deps: [a.out, b.out],"
                               " outs: [c.out]}\n")
    datavc(repo, "repro", "-j", "2")
    assert (repo / "c.out").read_text() == "ab"
    assert set(lock(repo)) == {"a", "b", "c"}


# --- failures, frozen, removed stages, hand edits ------------------------------------

def test_a_failing_stage_keeps_the_lock_of_the_others(project: Path) -> None:
    repo = project
    repro(repo)
    before = lock(repo)
    write(repo, "data/raw.txt", RAW + "new row\n")
    write(repo, "datavc.yaml", PIPELINE.replace(
        "python src/featurize.py data/prepared data/features",
        "python -c 'import sys; sys.exit(1)'"))
    result = datavc(repo, "repro", check=False)
    assert result.returncode == 1
    assert "error: stage 'featurize' failed" in result.stderr and "Traceback" not in result.stderr
    assert ran(repo) == ["prepare"]
    after = lock(repo)
    assert after["prepare"] != before["prepare"]
    assert after["featurize"] == before["featurize"]
    assert after["train"] == before["train"]


def test_frozen_stage_is_never_run_nor_relocked(project: Path) -> None:
    repo = project
    repro(repo)
    before = lock(repo)["prepare"]
    write(repo, "datavc.yaml", PIPELINE.replace(
        "    outs: [data/prepared]", "    outs: [data/prepared]\n    frozen: true"))
    write(repo, "data/raw.txt", "changed\n")
    assert repro(repo) == []
    assert repro(repo, "-f") == ["featurize", "train", "evaluate"]
    assert lock(repo)["prepare"] == before
    (repo / "data/prepared/train.tsv").unlink()
    assert repro(repo) == []
    assert (repo / "data/prepared/train.tsv").exists(), "a frozen stage's outs are restored"


def test_lock_entries_of_removed_stages_are_dropped(project: Path) -> None:
    repo = project
    repro(repo)
    write(repo, "datavc.yaml", PIPELINE.split("  evaluate:")[0])
    assert repro(repo) == []
    assert list(lock(repo)) == ["prepare", "featurize", "train"]


def test_an_uncached_out_runs_again_after_gc_dropped_its_copy(project: Path) -> None:
    """`cache: false` outs (eval/metrics.json) live in git; once `gc` drops the cache's copy
    the next repro must still replace them, since they are as the stage made them."""
    assert repro(project) == ALL
    commit(project, "ran")
    datavc(project, "gc", "-w", "-f")
    set_params(project, train={"n_est": 60})
    assert repro(project) == ["train", "evaluate"]
    assert lock(project)["evaluate"]["outs"][0]["path"] == "eval/metrics.json"
    # an uncached out edited by hand is still protected
    commit(project, "n_est 60")
    datavc(project, "gc", "-w", "-f")
    write(project, "eval/metrics.json", '{"avg_prec": 1.0}')
    set_params(project, train={"n_est": 70})
    result = datavc(project, "repro", check=False)
    assert result.returncode == 1 and "eval/metrics.json" in result.stderr
    assert (project / "eval/metrics.json").read_text() == '{"avg_prec": 1.0}'


def test_a_hand_edited_out_stops_repro_until_forced(project: Path) -> None:
    repo = project
    repro(repo)
    write(repo, "model.pkl", "my precious edit\n")
    result = datavc(repo, "repro", check=False)
    assert result.returncode == 1
    assert "error: model.pkl (stage 'train')" in result.stderr, result.stderr
    assert (repo / "model.pkl").read_text() == "my precious edit\n"
    assert ran(repo) == []
    set_params(repo, train={"n_est": 5})  # a stage that must run does not overwrite it either
    assert datavc(repo, "repro", check=False).returncode == 1
    assert (repo / "model.pkl").read_text() == "my precious edit\n"
    assert repro(repo, "--force") == ALL
    assert (repo / "model.pkl").read_text().startswith("model n_est=5")


@pytest.mark.parametrize("yaml_text, expected", [
    ("stages:\n  a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n"
     "  b: {cmd: y, deps: [a.txt], outs: [b.txt]}\n", "cycle: a -> b -> a"),
    ("stages:\n  a: {cmd: x, outs: [o.txt]}\n  b: {cmd: y, outs: [o.txt]}\n",
     "'o.txt' is an out of both stage 'a' and stage 'b'"),
    ("stages:\n  a: {cmd: x, outs: [d]}\n  b: {cmd: y, outs: [d/e.txt]}\n",
     "out 'd/e.txt' of stage 'b' is inside out 'd' of stage 'a'"),
    ("stages:\n  a: {cmd: x, deps: [nowhere.csv], outs: [o.txt]}\n",
     "stage 'a': dep 'nowhere.csv' does not exist and no stage makes it"),
    ("stages:\n  a:\n    cmd: echo ${missing.var}\n", "stage 'a': unknown variable ${missing.var}"),
    ("stages:\n  a: {cmd: x, params: [lr]}\n", "params file params.yaml does not exist"),
    ("stages:\n  a: {cmd: 'true', outs: [never.txt]}\n", "stage 'a' did not make its out"),
])
def test_errors_are_one_line(repo: Path, yaml_text: str, expected: str) -> None:
    write(repo, "datavc.yaml", yaml_text)
    result = datavc(repo, "repro", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr


def test_no_pipeline(repo: Path) -> None:
    result = datavc(repo, "repro", check=False)
    assert result.returncode == 1 and "error: no datavc.yaml or dvc.yaml" in result.stderr


# --- dag, metrics, params --------------------------------------------------------------

def test_dag_metrics_and_params(project: Path) -> None:
    repo = project
    assert datavc(repo, "dag").stdout.splitlines() == [
        "prepare", "featurize  <- prepare", "train      <- featurize",
        "evaluate   <- featurize, train"]
    dot = datavc(repo, "dag", "--dot").stdout
    assert '"featurize" -> "train";' in dot and dot.startswith("strict digraph {")
    assert "node3-->node4" in datavc(repo, "dag", "--mermaid").stdout
    assert datavc(repo, "dag", "train").stdout.split()[-3:] == ["train", "<-", "featurize"]
    repro(repo)
    commit(repo, "first")
    shown = json.loads(datavc(repo, "metrics", "show", "--json").stdout)
    assert shown["eval/metrics.json"]["roc_auc"] == 0.5
    assert "eval/metrics.json  roc_auc" in datavc(repo, "metrics", "show").stdout
    set_params(repo, train={"n_est": 12345})
    repro(repo)
    params_diff = json.loads(datavc(repo, "params", "diff", "--json").stdout)
    assert params_diff == {"params.yaml": {"train.n_est": {"old": 50, "new": 12345,
                                                           "diff": 12295}}}
    metrics_diff = json.loads(datavc(repo, "metrics", "diff", "--json").stdout)
    change = metrics_diff["eval/metrics.json"]["avg_prec"]
    assert change["new"] > change["old"] and "roc_auc" not in metrics_diff["eval/metrics.json"]
    assert "train.n_est" in datavc(repo, "params", "diff", "HEAD").stdout
    bad = datavc(repo, "metrics", "diff", "nosuchrev", check=False)
    assert bad.returncode == 1 and "unknown revision 'nosuchrev'" in bad.stderr


# --- a dvc.yaml as DVC's documentation writes it ----------------------------------------

DVC_YAML = """
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
    - data/data.xml
    - src/prepare.py
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps:
    - data/prepared
    - src/featurization.py
    params:
    - featurize.max_features
    - featurize.ngrams
    outs:
    - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
    - data/features
    - src/train.py
    params:
    - train.min_split
    - train.n_est
    - train.seed
    outs:
    - model.pkl
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
    - data/features
    - model.pkl
    - src/evaluate.py
    outs:
    - eval:
        cache: false
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/sklearn/roc/train.json: tpr
      eval/plots/sklearn/roc/test.json: tpr
- eval/importance.png
"""


def test_a_dvc_yaml_from_the_dvc_documentation_runs_unchanged(project: Path) -> None:
    repo = project
    (repo / "datavc.yaml").unlink()
    write(repo, "dvc.yaml", DVC_YAML)
    write(repo, "params.yaml", yaml.safe_dump({
        "prepare": {"split": 0.2, "seed": 20170428},
        "featurize": {"max_features": 100, "ngrams": 1},
        "train": {"seed": 20170428, "n_est": 50, "min_split": 0.01}}))
    (repo / "src/featurize.py").rename(repo / "src/featurization.py")
    write(repo, "src/evaluate.py", (repo / "src/evaluate.py").read_text().replace(
        'open("eval/metrics.json", "w"))',
        'open("eval/metrics.json", "w"))\nopen("eval/importance.png", "wb").write(b"png")'))
    (repo / "data/raw.txt").rename(repo / "data/data.xml")
    datavc(repo, "add", "data/data.xml")  # the raw data is itself tracked, as in DVC's example

    assert repro(repo) == ALL
    assert repro(repo) == []
    assert json.loads(datavc(repo, "metrics", "show", "--json").stdout)[
        "eval/metrics.json"]["roc_auc"] == 0.5
    set_params(repo, featurize={"max_features": 5})
    assert repro(repo) == ["featurize", "train", "evaluate"]
    commit(repo, "dvc example")
    assert git(repo, "status", "--porcelain").stdout == ""


def test_an_out_folder_with_sub_folders_is_replaced_on_the_second_run(repo: Path) -> None:
    # example-get-started's evaluate stage writes eval/plots/sklearn/roc/*.json; its second
    # run crashed removing the old folder ("No such file or directory: .../eval/plots").
    write(repo, "n.txt", "1\n")
    write(repo, "make.py", textwrap.dedent("""
        import os, sys
        n = open("n.txt").read().strip()
        os.makedirs("out/a/b/c", exist_ok=True)
        os.makedirs("out/d", exist_ok=True)
        open("out/a/b/c/deep.json", "w").write(n)
        open("out/d/x.txt", "w").write(n * 2)
        open("out/top.txt", "w").write(n * 3)
        open("runs.log", "a").write("make\\n")
    """))
    write(repo, ".gitignore", "runs.log\n")
    write(repo, "datavc.yaml", "stages:\n  make:\n    cmd: python make.py\n"
                               "    deps: [make.py, n.txt]\n    outs: [out]\n")
    assert repro(repo) == ["make"]
    (repo / "out/d/link").symlink_to("../a")       # a symlinked folder left in the out
    write(repo, "n.txt", "2\n")
    assert repro(repo) == ["make"]
    assert (repo / "out/a/b/c/deep.json").read_text() == "2"
    assert sorted(p.relative_to(repo / "out").as_posix() for p in (repo / "out").rglob("*")
                  if not p.is_dir()) == ["a/b/c/deep.json", "d/x.txt", "top.txt"]
    assert repro(repo) == []


KILLER = """\
import os, pathlib, signal
out = pathlib.Path("out")
out.mkdir(exist_ok=True)
for i in range(3):
    (out / f"f{i}").write_text(pathlib.Path("params.yaml").read_text() + str(i))
    if i == 1 and pathlib.Path("kill-repro").exists():   # die half-way, as kill -9 would
        pid = os.getppid()
        while b"repro" not in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():
            pid = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        os.kill(pid, signal.SIGKILL)
        raise SystemExit(0)
"""


def test_rerun_of_a_repro_killed_mid_stage_completes(repo: Path) -> None:
    """A repro killed while its stage writes outs (tests/torture finds this with kill -9):
    the half-made outs are that run's, not the user's edits, so the rerun runs the stage
    instead of refusing them as 'changed since the stage made it'; no byte is lost (they
    go into the cache first, as a failed stage's leftovers do)."""
    write(repo, "gen.py", KILLER)
    write(repo, "params.yaml", "seed: 1\n")
    write(repo, "datavc.yaml", "stages:\n  gen:\n    cmd: python3 gen.py\n"
                               "    params: [seed]\n    outs: [out]\n")
    datavc(repo, "repro")
    commit(repo, "first")
    write(repo, "params.yaml", "seed: 2\n")
    write(repo, "kill-repro", "")
    killed = datavc(repo, "repro", check=False)
    assert killed.returncode == -9 or killed.returncode == 137, killed
    assert (repo / "out" / "f1").read_text() == "seed: 2\n1"       # half the new outs
    assert not (repo / "out" / "f2").exists()          # (cleared before the stage ran)
    (repo / "kill-repro").unlink()
    datavc(repo, "repro")
    assert [(repo / "out" / f"f{i}").read_text() for i in range(3)] == \
        [f"seed: 2\n{i}" for i in range(3)]
    assert git(repo, "status", "--porcelain").stdout.split() == ["M", "datavc.lock",
                                                                 "M", "params.yaml"]


def test_metrics_and_params_diff_read_filter_mode_files_from_the_cache(tmp_path: Path) -> None:
    """A metrics or params file tracked in filter mode is a pointer in git: a diff against
    a commit compares the object's bytes, not the pointer's."""
    repo = tmp_path / "fm"
    repo.mkdir()
    git(repo, "init", "-q")
    datavc(repo, "init")
    datavc(repo, "track", "metrics.json", "params.yaml")
    write(repo, "datavc.yaml", "metrics:\n  - metrics.json\nparams:\n  - params.yaml\n")
    write(repo, "metrics.json", json.dumps({"acc": 0.5}))
    write(repo, "params.yaml", "lr: 0.1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    assert git(repo, "show", "HEAD:metrics.json").stdout.startswith("version: datavc/1")
    write(repo, "metrics.json", json.dumps({"acc": 0.75}))
    write(repo, "params.yaml", "lr: 0.2\n")
    metrics = json.loads(datavc(repo, "metrics", "diff", "--json").stdout)
    assert metrics == {"metrics.json": {"acc": {"old": 0.5, "new": 0.75, "diff": 0.25}}}
    params = json.loads(datavc(repo, "params", "diff", "--json").stdout)
    assert params["params.yaml"]["lr"]["old"] == 0.1 and params["params.yaml"]["lr"]["new"] == 0.2
