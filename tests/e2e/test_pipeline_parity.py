"""Pipeline semantics that follow DVC 3.x (checked by hand against DVC 3.67.1): dictionary
unpacking in `cmd`, matrix `${key}`, `wdir` params, cmd lists in the lock, frozen and
always_changed stages, `cache: false` metrics, `repro -s/-p/-i/--allow-missing/--pull`,
and `-j` output kept whole per line. Real `git`, real `git datavc repro`."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import yaml

from tests.helpers import datavc, git


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o644)
    path.write_text(textwrap.dedent(text).lstrip())


def lock(repo: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((repo / "datavc.lock").read_text())["stages"]


def ran(result_stderr: str) -> list[str]:
    return re.findall(r"^Running stage '([^']+)'", result_stderr, flags=re.M)


OPTS = """
    opts:
      a: 1
      b: true
      c: false
      l: [1, 2]
      s: hello world
      nest: {x: 3}
"""


def test_a_params_mapping_in_cmd_unpacks_into_options(repo: Path) -> None:
    write(repo, "params.yaml", OPTS)
    write(repo, "dvc.yaml", """
        stages:
          u:
            cmd: echo ${opts} > u.txt
            outs: [u.txt]
    """)
    datavc(repo, "repro")
    # exactly what DVC 3.67.1 runs for this file
    assert lock(repo)["u"]["cmd"] == \
        "echo --a 1 --b --l 1 2 --s 'hello world' --nest.x 3 > u.txt"
    assert (repo / "u.txt").read_text() == "--a 1 --b --l 1 2 --s hello world --nest.x 3\n"


def test_parsing_settings_from_the_dvc_config(repo: Path) -> None:
    write(repo, "params.yaml", OPTS)
    write(repo, ".dvc/config", """
        [core]
            remote = storage
        ['remote "storage"']
            url = /somewhere
        [parsing]
            bool = boolean_optional
            list = append
    """)
    write(repo, "dvc.yaml", """
        stages:
          u:
            cmd:
            - echo ${opts}
    """)
    datavc(repo, "repro")
    # a one-command list stays a list in the lock, as DVC keeps it
    assert lock(repo)["u"]["cmd"] == \
        ["echo --a 1 --b --no-c --l 1 --l 2 --s 'hello world' --nest.x 3"]
    write(repo, ".dvc/config", "[parsing]\n    bool = sometimes\n")
    bad = datavc(repo, "repro", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "parsing.bool is 'sometimes'" in bad.stderr


def test_a_mapping_outside_cmd_is_refused_in_one_line(repo: Path) -> None:
    write(repo, "params.yaml", OPTS)
    write(repo, "dvc.yaml", """
        stages:
          u:
            cmd: echo hi
            outs:
            - out-${opts}.txt
    """)
    bad = datavc(repo, "repro", check=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "stage 'u'" in bad.stderr and "can be unpacked in `cmd` only" in bad.stderr


def test_matrix_stages_see_item_fields_and_key(repo: Path) -> None:
    write(repo, "dvc.yaml", """
        stages:
          m:
            matrix:
              model: [cnn, xgb]
              lr: [0.1, 1]
            cmd: echo ${item.model} ${item.lr} ${key} > m-${key}.txt
            outs:
            - m-${key}.txt
    """)
    datavc(repo, "repro")
    assert list(lock(repo)) == ["m@cnn-0.1", "m@cnn-1", "m@xgb-0.1", "m@xgb-1"]
    assert (repo / "m-xgb-0.1.txt").read_text() == "xgb 0.1 xgb-0.1\n"


def test_wdir_params_come_from_the_wdir_and_vars_from_the_top(repo: Path) -> None:
    # DVC: `${lr}` is interpolated from the top params.yaml, the tracked param is read
    # from params.yaml in the stage's wdir
    write(repo, "params.yaml", "lr: 2\n")
    write(repo, "sub/params.yaml", "lr: 1\n")
    write(repo, "dvc.yaml", """
        stages:
          w:
            wdir: sub
            cmd: echo ${lr} > out.txt
            params: [lr]
            outs: [out.txt]
    """)
    datavc(repo, "repro")
    assert (repo / "sub/out.txt").read_text() == "2\n"
    assert lock(repo)["w"]["params"] == {"sub/params.yaml": {"lr": 1}}
    write(repo, "sub/params.yaml", "lr: 5\n")
    assert ran(datavc(repo, "repro").stderr) == ["w"]
    write(repo, "params.yaml", "lr: 2\nother: 1\n")
    assert ran(datavc(repo, "repro").stderr) == []


FROZEN = """
    stages:
      make:
        cmd: cp src.txt made.txt
        deps: [src.txt]
        outs: [made.txt]
      fz:
        cmd: cp made.txt fz.txt
        deps: [made.txt]
        outs: [fz.txt]
      last:
        cmd: cp fz.txt last.txt
        deps: [fz.txt]
        outs: [last.txt]
"""


def test_a_frozen_stage_with_missing_deps_is_no_error_and_cuts_off_its_upstream(
        repo: Path) -> None:
    write(repo, "src.txt", "one\n")
    write(repo, "dvc.yaml", FROZEN)
    datavc(repo, "repro")
    write(repo, "dvc.yaml", FROZEN.replace("cmd: cp made.txt fz.txt",
                                           "frozen: true\n        cmd: cp made.txt fz.txt"))
    write(repo, "src.txt", "two\n")
    # DVC does not reproduce a frozen stage's deps: `repro last` leaves `make` alone
    assert ran(datavc(repo, "repro", "last").stderr) == []
    assert (repo / "made.txt").read_text() == "one\n"
    # the frozen stage's dep gone (and nothing to make it): still no error
    write(repo, "dvc.yaml", FROZEN.replace("cmd: cp made.txt fz.txt",
                                           "frozen: true\n        cmd: cp made.txt fz.txt")
          .replace("deps: [made.txt]", "deps: [gone.txt]"))
    result = datavc(repo, "repro", "last")
    assert ran(result.stderr) == [] and (repo / "fz.txt").read_text() == "one\n"


def test_always_changed_runs_every_time_but_its_downstream_only_on_new_outs(
        repo: Path) -> None:
    write(repo, "dvc.yaml", """
        stages:
          ac:
            cmd: cat value.txt > ac.txt
            always_changed: true
            outs: [ac.txt]
          down:
            cmd: cat ac.txt > down.txt
            deps: [ac.txt]
            outs: [down.txt]
    """)
    write(repo, "value.txt", "same\n")
    assert ran(datavc(repo, "repro").stderr) == ["ac", "down"]
    assert ran(datavc(repo, "repro").stderr) == ["ac"]
    dry = datavc(repo, "repro", "--dry").stderr
    assert "Would run stage 'ac'" in dry and "Would run stage 'down'" not in dry
    write(repo, "value.txt", "new\n")
    assert ran(datavc(repo, "repro").stderr) == ["ac", "down"]


def test_cache_false_metrics_and_plots_are_hashed_not_ignored_plain_files(repo: Path) -> None:
    write(repo, "mk.sh", """
        echo '{"x": 1}' > m.json
        printf 'a,b\\n1,2\\n' > p.csv
        cp p.csv q.csv
    """)
    write(repo, "dvc.yaml", """
        stages:
          met:
            cmd: sh mk.sh
            metrics:
            - m.json:
                cache: false
            plots:
            - p.csv:
                cache: false
            - q.csv
    """)
    datavc(repo, "repro")
    outs = {o["path"]: o for o in lock(repo)["met"]["outs"]}
    assert set(outs) == {"m.json", "p.csv", "q.csv"}
    assert all(len(o["blake3"]) == 64 for o in outs.values())
    assert outs["m.json"]["cache"] is False and "cache" not in outs["q.csv"]
    ignored = (repo / ".gitignore").read_text().split()
    assert "/q.csv" in ignored and "/m.json" not in ignored and "/p.csv" not in ignored
    assert git(repo, "check-ignore", "-q", "m.json", check=False).returncode == 1
    (repo / "m.json").write_text('{"x": 2}\n')  # a plain writable file, as git would keep it
    shown = datavc(repo, "metrics", "show", "--json").stdout
    assert '"x": 2' in shown


CYCLE = """
    stages:
      x:
        cmd: echo x > c.txt
        deps: [a.txt, e.txt]
        outs: [c.txt]
      y:
        cmd: echo y > e.txt
        deps: [c.txt]
        outs: [e.txt]
"""


def test_single_item_runs_despite_a_cycle_or_shared_outs_elsewhere(repo: Path) -> None:
    write(repo, "a.txt", "a\n")
    write(repo, "e.txt", "e\n")
    write(repo, "dvc.yaml", CYCLE)
    whole = datavc(repo, "repro", check=False)
    assert whole.returncode == 1 and "cycle" in whole.stderr
    # like DVC, -s builds no graph: the one stage runs
    assert ran(datavc(repo, "repro", "-s", "x").stderr) == ["x"]
    write(repo, "dvc.yaml", """
        stages:
          x:
            cmd: echo x > c.txt
            outs: [c.txt]
          y:
            cmd: echo y > c.txt
            outs: [c.txt]
    """)
    assert "both" in datavc(repo, "repro", "x", check=False).stderr
    assert ran(datavc(repo, "repro", "-s", "y").stderr) == ["y"]
    assert (repo / "c.txt").read_text() == "y\n"


TWO_PIPELINES = """
    stages:
      a1:
        cmd: echo a > a1.txt
        outs: [a1.txt]
      a2:
        cmd: cat a1.txt a1.txt > a2.txt
        deps: [a1.txt]
        outs: [a2.txt]
      b1:
        cmd: echo b > b1.txt
        outs: [b1.txt]
"""


def test_pipeline_flag_takes_the_whole_connected_pipeline(repo: Path) -> None:
    write(repo, "dvc.yaml", TWO_PIPELINES)
    assert ran(datavc(repo, "repro", "-p", "a1").stderr) == ["a1", "a2"]
    assert ran(datavc(repo, "repro", "-p", "b1").stderr) == ["b1"]


def test_interactive_asks_before_each_stage(repo: Path) -> None:
    write(repo, "dvc.yaml", TWO_PIPELINES)
    result = datavc(repo, "repro", "-i", input=b"y\nn\ny\n")
    assert "Going to reproduce stage 'a1'" in result.stderr
    assert ran(result.stderr) == ["a1", "b1"]
    assert not (repo / "a2.txt").exists() and (repo / "b1.txt").exists()
    none = datavc(repo, "repro", "-i", input=b"")  # end of input: a no
    assert ran(none.stderr) == []
    both = datavc(repo, "repro", "-i", "-j", "2", check=False)
    assert both.returncode == 2 and "cannot be used with -j" in both.stderr


def test_allow_missing_skips_stages_whose_only_change_is_missing_data(repo: Path) -> None:
    write(repo, "dvc.yaml", TWO_PIPELINES)
    datavc(repo, "repro")
    # a fresh clone has the lock but neither the outs nor their cache objects
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "ran")
    clone = repo.parent / "clone"
    git(repo.parent, "clone", "-q", str(repo), str(clone))
    assert not (clone / "a1.txt").exists()
    assert ran(datavc(clone, "repro", "--allow-missing", "--dry").stderr) == []
    assert "Would run" not in datavc(clone, "repro", "--allow-missing", "--dry").stderr
    assert ran(datavc(clone, "repro", "--allow-missing").stderr) == []
    assert ran(datavc(clone, "repro").stderr) == ["a1", "a2", "b1"]


def test_pull_fetches_locked_outs_instead_of_running(repo: Path) -> None:
    write(repo, "dvc.yaml", TWO_PIPELINES)
    storage = repo.parent / "storage"
    datavc(repo, "remote", "add", "-d", "store", str(storage))
    datavc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "ran")
    datavc(repo, "push")
    clone = repo.parent / "clone"
    git(repo.parent, "clone", "-q", str(repo), str(clone))
    git(clone, "datavc", "install", "--local")
    result = datavc(clone, "repro", "--pull")
    assert ran(result.stderr) == []
    assert (clone / "a2.txt").read_text() == "a\na\n" and (clone / "b1.txt").read_text() == "b\n"


def test_parallel_stages_output_is_whole_lines_with_the_stage_name(repo: Path) -> None:
    stages = {f"s{i}": {"cmd": f"for n in 1 2 3 4 5 6 7 8; do printf 'line %s of s{i}\\n' $n; "
                        "sleep 0.02; done", "outs": []} for i in range(3)}
    for body in stages.values():
        del body["outs"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    result = datavc(repo, "repro", "-j", "3")
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("[")]
    assert len(lines) == 24
    for line in lines:
        match = re.fullmatch(r"\[(s\d)\] line \d of (s\d)", line)
        assert match and match.group(1) == match.group(2), line
    assert "[s0] > for n in" in result.stderr


def test_commit_records_a_stage_in_the_lock_without_running_it(repo: Path) -> None:
    write(repo, "src.txt", "one\n")
    write(repo, "dvc.yaml", FROZEN)
    assert ran(datavc(repo, "repro").stderr) == ["make", "fz", "last"]
    # the user runs a command by hand, then records it, as with `dvc commit`
    write(repo, "src.txt", "two\n")
    (repo / "made.txt").unlink()
    write(repo, "made.txt", "two\n")
    result = datavc(repo, "commit", "make")
    assert "recorded stage 'make' in datavc.lock" in result.stderr
    assert ran(datavc(repo, "repro", "make").stderr) == []
    deps = {d["path"]: d for d in lock(repo)["fz"]["deps"]}
    assert deps["made.txt"]["size"] == 4  # fz still locked with "one\n" ...
    assert ran(datavc(repo, "repro").stderr) == ["fz", "last"]  # ... so it runs now
    assert "already records" in datavc(repo, "commit").stderr


def test_metrics_diff_reads_a_metrics_file_inside_a_folder_out(repo: Path) -> None:
    write(repo, "params.yaml", "n: 1\n")
    write(repo, "ev.sh", """
        mkdir -p eval/plots
        echo "{\\"score\\": $1}" > eval/metrics.json
    """)
    write(repo, "dvc.yaml", """
        metrics:
        - eval/metrics.json
        stages:
          ev:
            cmd: sh ev.sh ${n}
            params: [n]
            outs: [eval]
    """)
    datavc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "n=1")
    write(repo, "params.yaml", "n: 3\n")
    datavc(repo, "repro")
    diff = yaml.safe_load(datavc(repo, "metrics", "diff", "--json").stdout)
    assert diff == {"eval/metrics.json": {"score": {"old": 1, "new": 3, "diff": 2}}}


def test_artifacts_list_shows_the_artifacts_and_datasets_sections(repo: Path) -> None:
    write(repo, "dvc.yaml", """
        artifacts:
          text-classification:
            path: model.pkl
            type: model
            labels: [nlp]
            desc: Detect R questions
        datasets:
        - name: posts
          type: url
          url: https://example.com/posts.xml
        stages:
          train:
            cmd: echo m > model.pkl
            outs: [model.pkl]
    """)
    shown = datavc(repo, "artifacts", "list").stdout
    assert "text-classification" in shown and "model.pkl" in shown and "nlp" in shown
    assert "posts" in shown and "https://example.com/posts.xml" in shown
    as_json = yaml.safe_load(datavc(repo, "artifacts", "list", "--json").stdout)
    assert as_json["artifacts"][0]["path"] == "model.pkl"
    assert as_json["datasets"][0]["type"] == "url"
    assert ran(datavc(repo, "repro").stderr) == ["train"]  # the sections do not get in the way


# --- findings of tests/dvc_parity (P4-P8, P14) -------------------------------------------

def test_a_stage_with_neither_deps_nor_outs_runs_every_time(repo: Path) -> None:
    write(repo, "dvc.yaml", """
        stages:
          notify:
            cmd: echo hi >> log.txt
    """)
    datavc(repo, "repro")
    assert ran(datavc(repo, "repro").stderr) == ["notify"]
    assert (repo / "log.txt").read_text() == "hi\nhi\n"
    assert "Would run stage 'notify'" in datavc(repo, "repro", "--dry").stderr


def test_what_a_failed_run_left_is_cached_and_cleared_by_the_next_run(repo: Path) -> None:
    write(repo, "dvc.yaml", """
        stages:
          b:
            cmd: echo half > b.txt && exit 3
            outs: [b.txt]
    """)
    failed = datavc(repo, "repro", check=False)
    assert failed.returncode == 1 and "exited with 3" in failed.stderr
    assert (repo / "b.txt").read_text() == "half\n"  # left for the user to look at
    write(repo, "dvc.yaml", """
        stages:
          b:
            cmd: echo whole > b.txt
            outs: [b.txt]
    """)
    assert ran(datavc(repo, "repro").stderr) == ["b"]
    assert (repo / "b.txt").read_text() == "whole\n"
    # the leftover's bytes are in the cache: nothing was lost by clearing it
    objects = [p for p in (repo / ".git/datavc/cache").rglob("*") if p.is_file()]
    assert any(p.read_bytes() == b"half\n" for p in objects)


def test_dry_run_writes_nothing_and_judges_downstream_on_restored_outs(repo: Path) -> None:
    write(repo, "dvc.yaml", """
        stages:
          a:
            cmd: echo a > a.txt
            outs: [a.txt]
          b:
            cmd: cat a.txt > b.txt
            deps: [a.txt]
            outs: [b.txt]
    """)
    datavc(repo, "repro")
    (repo / "a.txt").unlink()
    dry = datavc(repo, "repro", "--dry")
    assert "Stage 'a': outs would be restored from the cache" in dry.stderr
    assert "Stage 'b' didn't change" in dry.stderr
    assert not (repo / "a.txt").exists()
    assert "outs restored from the cache" in datavc(repo, "repro").stderr
    assert (repo / "a.txt").read_text() == "a\n"


def test_a_deleted_uncached_out_makes_the_stage_run_again(repo: Path) -> None:
    # no deps, so no run-cache either (DVC's rule): the stage itself must make it again
    write(repo, "dvc.yaml", """
        stages:
          report:
            cmd: echo s > report.txt
            outs:
              - report.txt:
                  cache: false
    """)
    datavc(repo, "repro")
    (repo / "report.txt").unlink()
    assert ran(datavc(repo, "repro").stderr) == ["report"]
    assert (repo / "report.txt").read_text() == "s\n"


def test_a_frozen_stage_that_never_ran_takes_its_outs_as_they_are(repo: Path) -> None:
    write(repo, "source.txt", "src\n")
    write(repo, "dl.txt", "downloaded once\n")
    stages = """
        stages:
          download:
            frozen: true
            cmd: cp source.txt dl.txt
            deps: [source.txt]
            outs: [dl.txt]
          use:
            cmd: cat dl.txt > used.txt
            deps: [dl.txt]
            outs: [used.txt]
    """
    write(repo, "dvc.yaml", stages)
    result = datavc(repo, "repro")
    assert ran(result.stderr) == ["use"]
    assert "Verifying outputs in frozen stage 'download'" in result.stderr
    assert (repo / "dl.txt").read_text() == "downloaded once\n"  # not re-made
    assert lock(repo)["download"]["outs"][0]["path"] == "dl.txt"
    # never ran, and its dep is gone: an error, as in DVC
    (repo / "datavc.lock").unlink()
    (repo / "source.txt").unlink()
    failed = datavc(repo, "repro", check=False)
    assert failed.returncode == 1
    assert "error: frozen stage 'download': dep 'source.txt' does not exist" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_status_lists_the_stages_that_changed_in_dvcs_shape(repo: Path) -> None:
    import json

    write(repo, "params.yaml", "p: 1\n")
    write(repo, "in.txt", "in\n")
    write(repo, "dvc.yaml", """
        stages:
          a:
            cmd: cat in.txt > a.txt
            deps: [in.txt]
            outs: [a.txt]
          b:
            cmd: cat a.txt > b.txt
            deps: [a.txt]
            params: [p]
            outs: [b.txt]
    """)
    datavc(repo, "repro")
    assert json.loads(datavc(repo, "status", "--json").stdout)["stages"] == {}
    write(repo, "in.txt", "in 2\n")
    write(repo, "params.yaml", "p: 2\n")
    (repo / "b.txt").unlink()
    stages = json.loads(datavc(repo, "status", "--json").stdout)["stages"]
    assert stages == {
        "a": [{"changed deps": {"in.txt": "modified"}}],
        "b": [{"changed deps": {"params.yaml": {"p": "modified"}}},
              {"changed outs": {"b.txt": "deleted"}}],
    }
    text = datavc(repo, "status").stdout
    assert "a:\n\tchanged deps:\n\t\tmodified:    in.txt" in text


def test_out_options_read_but_not_obeyed_are_said_not_skipped(repo: Path) -> None:
    write(repo, "dvc.yaml", """
        stages:
          a:
            cmd: echo a > a.txt
            outs:
              - a.txt:
                  push: false
    """)
    result = datavc(repo, "repro")
    assert "warning: stage 'a': out 'a.txt': `push` is not obeyed yet" in result.stderr
    assert ran(result.stderr) == ["a"]


def test_pipeline_files_below_the_root_are_named_not_silently_left_out(repo: Path) -> None:
    stage = """
        stages:
          a:
            cmd: echo a > a.txt
            outs: [a.txt]
    """
    write(repo, "dvc.yaml", stage)
    write(repo, "models/dvc.yaml", stage)
    result = datavc(repo, "repro")
    assert "warning: models/dvc.yaml: pipeline files below the repository root are not " \
        "read" in result.stderr
    assert ran(result.stderr) == ["a"] and not (repo / "models/a.txt").exists()
