"""Experiments end to end (issue 14): `git datavc exp run|show|diff|apply|branch|remove|
push|pull` against real git refs in temporary repositories, a bare git remote and a local
data remote."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.helpers import datavc, git

TRAIN = """
    import json, sys, time, yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    time.sleep(p.get("sleep", 0))
    if p["lr"] < 0:
        print("bad learning rate", file=sys.stderr)
        open("model.bin", "w").write("half a model")
        sys.exit(3)
    rows = open("data/raw.txt").read().split()
    open("model.bin", "w").write(f"model lr={p['lr']} epochs={p['epochs']} rows={len(rows)}\\n")
    json.dump({"acc": round(1 - p["lr"] / 10, 4), "rows": len(rows)},
              open("metrics.json", "w"))
"""
PIPELINE = """
stages:
  train:
    cmd: python train.py
    deps: [data/raw.txt, train.py]
    params: [train]
    outs: [model.bin]
    metrics:
    - metrics.json:
        cache: false
"""
PARAMS = {"train": {"lr": 0.1, "epochs": 3}}


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file of the work tree (not .git) with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def exp_refs(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps").stdout
    return {line.split()[0].rsplit("/", 1)[1]: line.split()[1] for line in out.splitlines()}


def model_out(lock: dict) -> str:  # type: ignore[type-arg]
    return next(o["blake3"] for o in lock["stages"]["train"]["outs"] if o["path"] == "model.bin")


def show_json(repo: Path, *args: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(datavc(repo, "exp", "show", "--json", *args).stdout)


@pytest.fixture
def project(repo: Path) -> Path:
    write(repo, "train.py", textwrap.dedent(TRAIN).lstrip())
    write(repo, "params.yaml", yaml.safe_dump(PARAMS, sort_keys=False))
    write(repo, "datavc.yaml", PIPELINE)
    write(repo, "data/raw.txt", "".join(f"row{i}\n" for i in range(20)))
    datavc(repo, "add", "data/raw.txt")
    datavc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pipeline")
    return repo


def test_run_records_a_ref_and_leaves_the_workspace_as_it_was(project: Path) -> None:
    write(project, "notes.txt", "untracked notes\n")
    write(project, "train.py", (project / "train.py").read_text() + "# an uncommitted edit\n")
    before = files_of(project)
    status_before = git(project, "status", "--porcelain").stdout
    head = git(project, "rev-parse", "HEAD").stdout.strip()

    result = datavc(project, "exp", "run", "-S", "train.lr=0.5", "--name", "fast")
    assert "Ran experiment 'fast'" in result.stdout
    assert files_of(project) == before
    assert git(project, "status", "--porcelain").stdout == status_before
    assert git(project, "rev-parse", "HEAD").stdout.strip() == head
    assert git(project, "worktree", "list").stdout.count("\n") == 1

    ref = f"refs/exps/{head[:2]}/{head[2:]}/fast"
    sha = git(project, "rev-parse", ref).stdout.strip()
    assert git(project, "rev-parse", f"{sha}^").stdout.strip() == head
    params = yaml.safe_load(git(project, "show", f"{sha}:params.yaml").stdout)
    assert params["train"] == {"lr": 0.5, "epochs": 3}
    assert json.loads(git(project, "show", f"{sha}:metrics.json").stdout) == \
        {"acc": 0.95, "rows": 20}
    assert "# an uncommitted edit" in git(project, "show", f"{sha}:train.py").stdout
    lock = yaml.safe_load(git(project, "show", f"{sha}:datavc.lock").stdout)
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["lr"] == 0.5
    model_oid = model_out(lock)
    from tests.helpers import cache_object
    assert cache_object(project, model_oid).read_text().startswith("model lr=0.5 ")
    assert "Datavc-Exp-Status: success" in git(project, "log", "-1", "--format=%B", sha).stdout


def test_show_json_csv_md_and_sort(project: Path) -> None:
    datavc(project, "exp", "run", "-S", "train.lr=0.5", "-n", "a")
    datavc(project, "exp", "run", "-S", "params.yaml:train.lr=0.2", "-S", "train.epochs=9",
           "-n", "b")
    rows = show_json(project)
    assert [r["name"] for r in rows] == ["workspace", "main", "a", "b"]
    by = {r["name"]: r for r in rows}
    assert by["a"]["params"]["params.yaml"]["train.lr"] == 0.5
    assert by["b"]["params"]["params.yaml"]["train.epochs"] == 9
    assert by["b"]["metrics"]["metrics.json"]["acc"] == 0.98
    assert by["main"]["metrics"]["metrics.json"]["acc"] == 0.99
    assert by["a"]["state"] == "success"

    table = list(csv.reader(io.StringIO(datavc(project, "exp", "show", "--csv").stdout)))
    assert table[0][:5] == ["Experiment", "Created", "State", "acc", "rows"]
    assert [r[0] for r in table[1:]] == ["workspace", "main", "a", "b"]
    lr = table[0].index("train.lr")
    assert [r[lr] for r in table[1:]] == ["0.1", "0.1", "0.5", "0.2"]

    md = datavc(project, "exp", "show", "--md").stdout.splitlines()
    assert md[0].startswith("| Experiment | Created | State | acc |") and md[1].startswith("|---")

    desc = show_json(project, "--sort-by", "acc", "--sort-order", "desc")
    assert [r["name"] for r in desc] == ["workspace", "main", "b", "a"]
    asc = show_json(project, "--sort-by", "train.lr")
    assert [r["name"] for r in asc] == ["workspace", "main", "b", "a"]
    bad = datavc(project, "exp", "show", "--sort-by", "nope", check=False)
    assert bad.returncode == 2 and "error: --sort-by 'nope'" in bad.stderr

    text = datavc(project, "exp", "show").stdout
    assert "train.lr" in text and "0.98" in text


def test_diff_between_experiments_and_baseline(project: Path) -> None:
    datavc(project, "exp", "run", "-S", "train.lr=0.5", "-n", "a")
    datavc(project, "exp", "run", "-S", "train.lr=0.2", "-n", "b")
    out = json.loads(datavc(project, "exp", "diff", "a", "b", "--json").stdout)
    assert out["params"]["params.yaml"]["train.lr"] == {"old": 0.5, "new": 0.2,
                                                        "diff": pytest.approx(-0.3)}
    assert out["metrics"]["metrics.json"]["acc"]["old"] == 0.95
    assert out["metrics"]["metrics.json"]["acc"]["new"] == 0.98
    assert "rows" not in out["metrics"]["metrics.json"]
    against_head = json.loads(datavc(project, "exp", "diff", "HEAD", "a", "--json").stdout)
    assert against_head["params"]["params.yaml"]["train.lr"]["old"] == 0.1
    text = datavc(project, "exp", "diff", "a", "b").stdout
    assert "train.lr" in text and "acc" in text
    bad = datavc(project, "exp", "diff", "nosuch", check=False)
    assert bad.returncode == 1 and "error: unknown revision 'nosuch'" in bad.stderr


def test_apply_brings_params_lock_metrics_and_data(project: Path) -> None:
    datavc(project, "exp", "run", "-S", "train.lr=0.5", "-n", "a")
    sha = exp_refs(project)["a"]
    result = datavc(project, "exp", "apply", "a")
    assert "Applied experiment 'a'" in result.stdout
    assert yaml.safe_load((project / "params.yaml").read_text())["train"]["lr"] == 0.5
    assert json.loads((project / "metrics.json").read_text())["acc"] == 0.95
    assert (project / "model.bin").read_text().startswith("model lr=0.5 ")
    assert (project / "datavc.lock").read_bytes() == \
        git(project, "show", f"{sha}:datavc.lock").stdout.encode()
    assert git(project, "rev-parse", "HEAD").stdout.strip() != sha  # HEAD did not move
    status = datavc(project, "repro").stdout
    assert "up to date" in status


def test_apply_refuses_to_overwrite_uncommitted_edits(project: Path) -> None:
    datavc(project, "exp", "run", "-S", "train.lr=0.5", "-n", "a")
    write(project, "params.yaml", "train:\n  lr: 0.3\n  epochs: 3\n")
    bad = datavc(project, "exp", "apply", "a", check=False)
    assert bad.returncode == 1
    assert "error: params.yaml has uncommitted changes" in bad.stderr
    assert "lr: 0.3" in (project / "params.yaml").read_text()
    datavc(project, "exp", "apply", "a", "--force")
    assert yaml.safe_load((project / "params.yaml").read_text())["train"]["lr"] == 0.5


def test_branch_and_remove(project: Path) -> None:
    datavc(project, "exp", "run", "-S", "train.lr=0.5", "-n", "a")
    datavc(project, "exp", "run", "-S", "train.lr=0.2", "-n", "b")
    datavc(project, "exp", "run", "-S", "train.lr=0.3", "-n", "c")
    datavc(project, "exp", "branch", "a", "try-a")
    assert git(project, "rev-parse", "try-a").stdout.strip() == exp_refs(project)["a"]
    again = datavc(project, "exp", "branch", "a", "try-a", check=False)
    assert again.returncode == 1 and "error: branch 'try-a' already exists" in again.stderr
    datavc(project, "exp", "remove", "a")
    assert set(exp_refs(project)) == {"b", "c"}
    assert git(project, "rev-parse", "try-a").stdout.strip()  # the branch stays
    missing = datavc(project, "exp", "remove", "a", check=False)
    assert missing.returncode == 1 and "error: no experiment called 'a'" in missing.stderr
    datavc(project, "exp", "run", "-S", "train.lr=0.4", "-n", "q", "--queue")
    datavc(project, "exp", "remove", "--all")
    assert exp_refs(project) == {}
    assert [r["name"] for r in show_json(project)] == ["workspace", "main"]


def test_queue_and_run_all_two_at_a_time(project: Path) -> None:
    write(project, "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\n  sleep: 0\n")
    git(project, "commit", "-qam", "sleep param")
    datavc(project, "repro")
    git(project, "commit", "-qam", "lock")
    for i in range(4):
        out = datavc(project, "exp", "run", "--queue", "-S", f"train.lr=0.{i + 1}",
                     "-S", "train.sleep=1", "-n", f"q{i}")
        assert f"Queued experiment 'q{i}'" in out.stdout
    before = files_of(project)
    rows = show_json(project)
    assert [r["state"] for r in rows[2:]] == ["queued"] * 4
    assert rows[3]["params"]["params.yaml"]["train.lr"] == 0.2

    result = datavc(project, "exp", "run", "--run-all", "-j", "2")
    assert "4 experiments succeeded, 0 failed" in result.stdout
    lines = result.stderr.splitlines()
    for i in range(4):
        assert any(line.startswith(f"q{i} ") and "running" in line for line in lines)
        done = [line for line in lines if line.startswith(f"q{i} ") and "success" in line]
        assert done and float(done[0].split()[-1].rstrip("s")) >= 1.0
    # two at a time: q2 starts only after one of q0, q1 has finished
    first_done = min(i for i, line in enumerate(lines) if "success" in line)
    assert lines.index(next(line for line in lines if line.startswith("q2 ") and
                            "running" in line)) > first_done
    assert max(i for i, line in enumerate(lines) if line.startswith(("q0 ", "q1 ")) and
               "running" in line) < first_done
    assert files_of(project) == before
    rows = {r["name"]: r for r in show_json(project)}
    assert [rows[f"q{i}"]["metrics"]["metrics.json"]["acc"] for i in range(4)] == \
        [0.99, 0.98, 0.97, 0.96]
    assert not list((project / ".git" / "datavc" / "exps" / "queue").glob("*.json"))
    assert git(project, "worktree", "list").stdout.count("\n") == 1
    assert "no queued experiments" in datavc(project, "exp", "run", "--run-all").stdout


def test_failed_experiment_leaves_the_workspace_and_is_shown_failed(project: Path) -> None:
    write(project, "scratch.txt", "mine\n")
    before = files_of(project)
    bad = datavc(project, "exp", "run", "-S", "train.lr=-1", "-n", "broken", check=False)
    assert bad.returncode == 1
    assert "bad learning rate" in bad.stderr
    assert "error: experiment 'broken' failed: stage 'train' failed: `python train.py` " \
           "exited with 3" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert files_of(project) == before
    rows = {r["name"]: r for r in show_json(project)}
    assert rows["broken"]["state"] == "failed"
    assert "exited with 3" in rows["broken"]["error"]
    assert rows["broken"]["params"]["params.yaml"]["train.lr"] == -1
    sha = exp_refs(project)["broken"]
    assert "Datavc-Exp-Status: failed" in git(project, "log", "-1", "--format=%B", sha).stdout
    assert "failed" in datavc(project, "exp", "show").stdout


def test_set_of_unknown_key_is_an_error_unless_set_new(project: Path) -> None:
    bad = datavc(project, "exp", "run", "-S", "train.momentum=0.9", check=False)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0] == \
        "error: -S params.yaml:train.momentum=0.9: 'train.momentum' is not in params.yaml"
    assert exp_refs(project) == {}
    other = datavc(project, "exp", "run", "-S", "other.yaml:x=1", check=False)
    assert other.returncode == 1 and "params file other.yaml does not exist" in other.stderr
    datavc(project, "exp", "run", "-S", "train.momentum=0.9", "--set-new", "-n", "m")
    sha = exp_refs(project)["m"]
    assert yaml.safe_load(git(project, "show", f"{sha}:params.yaml").stdout)["train"] == \
        {"lr": 0.1, "epochs": 3, "momentum": 0.9}
    syntax = datavc(project, "exp", "run", "-S", "train.lr", check=False)
    assert syntax.returncode == 1 and "expected [FILE:]KEY=VALUE" in syntax.stderr


def test_dvclive_metrics_are_read(project: Path) -> None:
    write(project, "dvclive/metrics.json", json.dumps({"loss": 0.25, "step": 4}))
    shown = json.loads(datavc(project, "metrics", "show", "--json").stdout)
    assert shown["dvclive/metrics.json"] == {"loss": 0.25, "step": 4}
    rows = show_json(project)
    assert rows[0]["metrics"]["dvclive/metrics.json"]["loss"] == 0.25


def test_gc_keeps_experiment_outs_unless_no_exps(project: Path) -> None:
    from tests.helpers import cache_object

    def model_object(name: str) -> Path:
        lock = yaml.safe_load(git(project, "show", f"{exp_refs(project)[name]}:datavc.lock")
                              .stdout)
        return cache_object(project, model_out(lock))

    datavc(project, "exp", "run", "-S", "train.lr=0.7", "-n", "keep")
    obj = model_object("keep")
    datavc(project, "gc", "-w", "-f")
    assert obj.exists()
    datavc(project, "gc", "-f")
    assert obj.exists()
    datavc(project, "gc", "--no-exps", "-f")
    assert not obj.exists()
    datavc(project, "exp", "run", "-S", "train.lr=0.8", "-n", "narrowed")
    obj = model_object("narrowed")
    datavc(project, "gc", "-a", "-f")
    assert obj.exists()
    datavc(project, "gc", "-w", "--no-exps", "-f")
    assert not obj.exists()
    assert (project / "model.bin").read_text().startswith("model lr=0.1 ")  # HEAD's stays
    bad = datavc(project, "gc", "--no-exps", "--all-experiments", check=False)
    assert bad.returncode == 2 and "cannot be used together" in bad.stderr


def test_push_and_pull_through_a_bare_remote_into_a_fresh_clone(project: Path,
                                                                  tmp_path: Path) -> None:
    store = tmp_path / "store"
    datavc(project, "remote", "add", "-d", "store", str(store))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "remote")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(project, "push", "-q", "--no-verify", "origin", "main")
    datavc(project, "push")
    datavc(project, "exp", "run", "-S", "train.lr=0.4", "-n", "shared")
    datavc(project, "exp", "run", "-S", "train.lr=0.6", "-n", "private")
    pushed = datavc(project, "exp", "push", "origin", "shared")
    assert "Pushed 1 experiments" in pushed.stdout
    remote_refs = git(tmp_path / "origin.git", "for-each-ref", "refs/exps").stdout
    assert "/shared" in remote_refs and "/private" not in remote_refs

    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "clone")
    clone = tmp_path / "clone"
    pulled = datavc(clone, "exp", "pull", "origin")
    assert "Pulled 1 experiments" in pulled.stdout
    rows = {r["name"]: r for r in show_json(clone)}
    assert rows["shared"]["params"]["params.yaml"]["train.lr"] == 0.4
    assert rows["shared"]["metrics"]["metrics.json"]["acc"] == 0.96
    assert "private" not in rows
    datavc(clone, "exp", "apply", "shared")
    assert (clone / "model.bin").read_text().startswith("model lr=0.4 ")
    assert (clone / "data/raw.txt").exists()
    nothing = datavc(clone, "exp", "pull", "origin", "nosuch", check=False)
    assert nothing.returncode == 1 and "error: no experiment called 'nosuch' on origin" \
        in nothing.stderr


def test_failed_run_keeps_cached_outs_out_of_git(project: Path) -> None:
    # an out the snapshot does not ignore (a stage that never succeeded yet)
    write(project, ".gitignore", "\n".join(line for line in
                                           (project / ".gitignore").read_text().splitlines()
                                           if "model.bin" not in line) + "\n")
    datavc(project, "exp", "run", "-S", "train.lr=-2", "-n", "half", check=False)
    sha = exp_refs(project)["half"]
    tree = git(project, "ls-tree", "-r", "--name-only", sha).stdout.split()
    assert "model.bin" not in tree and "params.yaml" in tree


def test_filter_tracked_deps_reach_the_experiment(repo: Path) -> None:
    write(repo, "weights.bin", "filter-tracked weights\n")   # *.bin: filter mode
    write(repo, "params.yaml", "n: 1\n")
    write(repo, "datavc.yaml", "stages:\n  copy:\n    cmd: python -c \"import yaml; "
          "n = yaml.safe_load(open('params.yaml'))['n']; "
          "open('copy.txt', 'w').write(open('weights.bin').read() * n)\"\n"
          "    deps: [weights.bin]\n    params: [n]\n    outs:\n    - copy.txt:\n"
          "        cache: false\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "filter-mode dep")
    stored = git(repo, "cat-file", "-p", "HEAD:weights.bin").stdout
    assert stored.startswith("version: datavc/1")
    datavc(repo, "exp", "run", "-S", "n=2", "-n", "twice")
    sha = exp_refs(repo)["twice"]
    assert git(repo, "show", f"{sha}:copy.txt").stdout == "filter-tracked weights\n" * 2
    assert not (repo / "copy.txt").exists()


def test_run_all_records_a_failure_beside_the_successes(project: Path) -> None:
    datavc(project, "exp", "run", "--queue", "-S", "train.lr=-1", "-n", "bad")
    datavc(project, "exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "good")
    before = files_of(project)
    result = datavc(project, "exp", "run", "--run-all", "-j", "2", check=False)
    assert result.returncode == 1
    assert "1 experiments succeeded, 1 failed" in result.stdout
    assert "warning: bad: stage 'train' failed" in result.stderr
    log = project / ".git" / "datavc" / "exps" / "logs" / "bad.log"
    assert "bad learning rate" in log.read_text()
    assert files_of(project) == before
    states = {r["name"]: r["state"] for r in show_json(project)}
    assert states["bad"] == "failed" and states["good"] == "success"


def test_interrupted_run_removes_its_worktree(project: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    before = files_of(project)
    proc = subprocess.Popen(["git-datavc", "exp", "run", "--set-new", "-S", "train.sleep=60",
                             "-n", "slow"], cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    runs = project / ".git" / "datavc" / "exps" / "run"
    log = project / ".git" / "datavc" / "exps" / "logs" / "slow.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "> python train.py" in log.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(1.0)  # the stage's python is sleeping
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert not any(runs.iterdir())
    left = []  # no process (the stage's python) is left running in the removed worktree
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and str(runs) in os.readlink(f"/proc/{pid}/cwd"):
                left.append(pid)
        except OSError:
            pass
    assert not left
    assert git(project, "worktree", "list").stdout.count("\n") == 1
    assert files_of(project) == before
    assert exp_refs(project) == {}


@pytest.mark.parametrize("sized", [True, False], ids=["sized-tty", "unsized-tty"])
def test_run_all_on_a_terminal_draws_one_tqdm_line_per_experiment(project: Path,
                                                                  sized: bool) -> None:
    import os
    import pty
    import subprocess

    for name, lr in (("t1", "0.2"), ("t2", "0.3")):
        datavc(project, "exp", "run", "--queue", "-S", f"train.lr={lr}", "-n", name)
    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios
    if sized:  # else 0 x 0, as a pty nobody sized: tqdm would draw empty lines
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(["git-datavc", "exp", "run", "--run-all", "-j", "2"], cwd=project,
                            stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"2 experiments succeeded" in out
    screen = seen.decode(errors="replace")
    for name in ("t1", "t2"):
        assert f"{name:<20} success" in screen
    assert "\x1b[" in screen or "\r" in screen  # tqdm redraws its lines in place
