"""`git datavc ...`: parse the command line, dispatch, turn exceptions into exit codes.

Commands are imported only when chosen, so git's hooks and filters start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from . import __version__


class _Skipped:
    """Stands in for the parser of a command this command line does not name: building
    all sixty argparse parsers costs ~35 ms, paid by every filter process git starts."""

    def __getattr__(self, name: str) -> Callable[..., "_Skipped"]:
        return self._ignore

    def _ignore(self, *args: object, **kwargs: object) -> "_Skipped":
        return self


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only`, the parsers of other commands are skipped
    (`parser.datavc_built` then tells whether `only` is a command at all)."""
    parser = argparse.ArgumentParser(
        prog="git datavc",
        description="Version large data files, datasets and models beside your code.")
    parser.add_argument("--version", action="version", version=f"git-datavc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    built: list[str] = []
    parser.set_defaults(datavc_built=built)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        if only is not None and name != only:
            return _Skipped()  # type: ignore[return-value]
        built.append(name)
        return sub.add_parser(name, help=help, description=help)

    p = add("install", "register the filter, diff and merge drivers (global by default) "
                       "and, inside a repository, its hooks")
    p.add_argument("--local", action="store_true", help="this repository's config only")
    p.add_argument("--global", dest="global_", action="store_true", help="the default")
    p.add_argument("--no-hooks", action="store_true", help="drivers only")
    p.add_argument("--force", action="store_true", help="replace a chained hook too")
    p = add("uninstall", "remove what install and init added: the drivers (global and, in a "
                         "repository, local config) and this repository's hooks")
    p.add_argument("--local", action="store_true",
                   help="this repository's drivers and hooks only (chained hooks restored)")
    p.add_argument("--global", dest="global_", action="store_true",
                   help="the global drivers only")
    add("init", "set up .datavc/ in this repository, with local drivers and hooks")
    p = add("track", "filter-track files matching PATTERNs (.gitattributes); none: list")
    p.add_argument("patterns", nargs="*", metavar="PATTERN")
    p = add("untrack", "stop filter-tracking PATTERNs")
    p.add_argument("patterns", nargs="+", metavar="PATTERN")
    p = add("add", "track files or directories as metafiles (PATH.datavc)")
    p.add_argument("targets", nargs="+", metavar="PATH")
    p = add("checkout", "make the workspace match the metafiles")
    p.add_argument("targets", nargs="*", metavar="PATH")
    p.add_argument("-f", "--force", action="store_true",
                   help="also overwrite or remove files whose bytes are not in the cache")
    p.add_argument("--relink", action="store_true", help="re-create every link")
    p = add("commit", "record the current contents of tracked outs in their metafiles, "
            "and of pipeline stages in datavc.lock")
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true",
                   help="accepted for `dvc commit -f`: commit never asks before recording")
    p = add("unprotect", "replace linked workspace files by writable copies")
    p.add_argument("targets", nargs="+", metavar="PATH")
    p = add("diff", "data files added, modified, deleted between commits")
    p.add_argument("rev1", nargs="?", metavar="REV1")
    p.add_argument("rev2", nargs="?", metavar="REV2")
    p.add_argument("--json", action="store_true")
    p.add_argument("-a", "--all", dest="everything", action="store_true", help="list every path")
    p.add_argument("--html", nargs="?", const="datavc_diff.html", metavar="FILE",
                   help="write a page with a treemap of the changes and table summaries "
                        "(default file datavc_diff.html)")
    p.add_argument("--open", dest="open_page", action="store_true",
                   help="with --html: open the page in the browser")
    p = add("repro", "run the pipeline stages that changed, in graph order")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="stage names or datavc.yaml files")
    p.add_argument("-f", "--force", action="store_true", help="run even unchanged stages")
    p.add_argument("--dry", action="store_true", help="say what would run, run nothing")
    p.add_argument("-s", "--single-item", action="store_true", help="only the targets, not their deps")
    p.add_argument("--downstream", action="store_true", help="the targets and what depends on them")
    p.add_argument("-j", "--jobs", type=int, default=1, help="independent stages in parallel")
    p.add_argument("-p", "--pipeline", action="store_true",
                   help="every stage of the pipelines the targets belong to")
    p.add_argument("-i", "--interactive", action="store_true", help="ask before each stage runs")
    p.add_argument("--pull", action="store_true",
                   help="fetch locked deps and outs missing from the cache from the remote")
    p.add_argument("--allow-missing", action="store_true",
                   help="skip stages whose only change is data missing from the cache")
    p = add("dag", "show the pipeline graph")
    p.add_argument("target", nargs="?", metavar="TARGET")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--dot", dest="fmt", action="store_const", const="dot")
    fmt.add_argument("--mermaid", dest="fmt", action="store_const", const="mermaid")
    p = add("metrics", "show metrics files, or compare them between commits")
    msub = p.add_subparsers(dest="action", metavar="ACTION")
    msub.required = True
    q = msub.add_parser("show", help="the metrics of the workspace")
    q.add_argument("--json", action="store_true")
    q = msub.add_parser("diff", help="metrics of REV (default HEAD) against the workspace")
    q.add_argument("rev", nargs="?", metavar="REV")
    q.add_argument("--json", action="store_true")
    p = add("params", "compare parameters between commits")
    psub = p.add_subparsers(dest="action", metavar="ACTION")
    psub.required = True
    q = psub.add_parser("diff", help="params of REV (default HEAD) against the workspace")
    q.add_argument("rev", nargs="?", metavar="REV")
    q.add_argument("--json", action="store_true")
    _add_exp(add("exp", "run experiments (the pipeline with changed params, recorded as git "
                        "refs) and compare them"))
    p = add("plots", "draw the pipeline's plots on one page, or compare them between commits")
    plsub = p.add_subparsers(dest="action", metavar="ACTION")
    plsub.required = True
    for action, help in (("show", "the plots of the workspace"),
                         ("diff", "the plots of REVS overlaid (default: HEAD and the "
                                  "workspace; one REV: it and the workspace)")):
        q = plsub.add_parser(action, help=help, description=help)
        if action == "show":
            q.add_argument("targets", nargs="*", metavar="TARGET",
                           help="plot names or files (default: every plot)")
        else:
            q.add_argument("revs", nargs="*", metavar="REV")
            q.add_argument("--targets", nargs="+", default=[], metavar="TARGET",
                           help="only these plots or files")
        q.add_argument("-o", "--out", default="datavc_plots", metavar="DIR",
                       help="where the page (index.html) or images go (default datavc_plots)")
        q.add_argument("--format", choices=("html", "png", "svg"), default="html",
                       help="a page (default), or one image file per plot")
        q.add_argument("--json", action="store_true",
                       help="print each plot's Vega-Lite spec with its data; write nothing")
        q.add_argument("--open", dest="open_page", action="store_true",
                       help="open the page in the browser")
    p = add("artifacts", "the artifacts and datasets the pipeline file declares")
    asub = p.add_subparsers(dest="action", metavar="ACTION")
    asub.required = True
    q = asub.add_parser("list", help="list the `artifacts:` and `datasets:` sections")
    q.add_argument("--json", action="store_true")
    p = add("remote", "manage remotes in .datavc/config")
    rsub = p.add_subparsers(dest="action", metavar="ACTION")
    rsub.required = True
    q = rsub.add_parser("add", help="add a remote: a local path, file://, s3://bucket/prefix, "
                                    "ssh://[user@]host[:port]/path")
    q.add_argument("name")
    q.add_argument("url")
    q.add_argument("-d", "--default", action="store_true", help="make it the default remote")
    q.add_argument("--local", action="store_true", help="in .datavc/config.local")
    q.add_argument("-f", "--force", action="store_true", help="replace an existing remote")
    q.add_argument("--layout", choices=("1", "2"), default=None,
                   help="2: chunks in packs, only what changed is stored and moved "
                        "(docs/remote-layout.md); default 1, whole objects")
    q = rsub.add_parser("upgrade", help="convert a remote to layout 2 (chunks in packs)")
    q.add_argument("name", nargs="?", help="default: core.remote")
    q.add_argument("-j", "--jobs", type=int, default=0)
    q = rsub.add_parser("remove", help="remove a remote")
    q.add_argument("name")
    q.add_argument("--local", action="store_true")
    rsub.add_parser("list", help="list remotes")
    q = rsub.add_parser("default", help="show or set the default remote")
    q.add_argument("name", nargs="?")
    q.add_argument("--local", action="store_true")
    q.add_argument("--unset", action="store_true")
    q = rsub.add_parser("modify", help="set a remote's option (credentials need --local)")
    q.add_argument("name")
    q.add_argument("key")
    q.add_argument("value", nargs="?")
    q.add_argument("--local", action="store_true")
    q.add_argument("--unset", action="store_true")
    for name, help in (("push", "upload the objects the workspace (or scope) needs"),
                       ("fetch", "download the objects the workspace (or scope) needs"),
                       ("pull", "fetch, then check out")):
        p = add(name, help)
        p.add_argument("targets", nargs="*", metavar="TARGET")
        p.add_argument("-r", "--remote", help="remote name (default: core.remote)")
        p.add_argument("-j", "--jobs", type=int, default=0, help="parallel transfers")
        p.add_argument("--all-branches", action="store_true", help="every branch tip too")
        p.add_argument("--all-tags", action="store_true", help="every tag too")
        p.add_argument("--all-commits", action="store_true", help="every commit too")
        if name == "push":
            p.add_argument("--check-all", action="store_true",
                           help="ask the remote about every file, even those listed by a "
                                "directory manifest it already has")
        if name == "pull":
            p.add_argument("-f", "--force", action="store_true",
                           help="overwrite workspace files whose bytes are not cached")
        if name in ("fetch", "pull"):
            p.add_argument("-I", "--include", action="append", default=[], metavar="PATTERNS",
                           help="only the data of paths matching these .gitattributes-style "
                                "patterns (comma-separated or repeated; replaces fetch.include)")
            p.add_argument("-X", "--exclude", action="append", default=[], metavar="PATTERNS",
                           help="none of the data of paths matching these (replaces "
                                "fetch.exclude)")
    p = add("gc", "delete cache objects nothing kept needs (default: any ref, reflog, "
                  "stash, index or worktree)")
    p.add_argument("-w", "--workspace", action="store_true", help="keep only the worktrees "
                   "(with their indexes and HEADs) and the stashes, plus the scopes below")
    p.add_argument("-a", "--all-branches", action="store_true", help="keep branch tips")
    p.add_argument("-T", "--all-tags", action="store_true", help="keep tags")
    p.add_argument("--no-exps", action="store_true", help="do not keep what experiments "
                   "(refs/exps) and queued experiments need (kept by default)")
    p.add_argument("--all-experiments", action="store_true",
                   help="keep experiments (the default; DVC's spelling)")
    p.add_argument("-p", "--projects", nargs="+", default=[], metavar="PATH",
                   help="also keep what these repositories need (ones sharing this cache "
                        "through cache.dir); DVC's spelling")
    p.add_argument("-c", "--cloud", action="store_true", help="also on the default remote")
    p.add_argument("-f", "--force", action="store_true", help="do not ask (needed without a terminal)")
    p.add_argument("--dry", action="store_true", help="list what would go, delete nothing")
    p = add("status", "what differs between workspace, pointers and cache")
    p.add_argument("--json", action="store_true")
    p.add_argument("--remote", metavar="NAME", nargs="?", const="", default=None,
                   help="what is missing in the cache or on the remote (default remote)")
    p.add_argument("--all-branches", action="store_true", help="with --remote: every branch tip too")
    p.add_argument("--all-tags", action="store_true", help="with --remote: every tag too")
    p.add_argument("--all-commits", action="store_true", help="with --remote: every commit too")
    p.add_argument("-a", "--all", dest="everything", action="store_true", help="list every path")
    p = add("ls-files", "the data files tracked (filter, metafile and pipeline modes): "
                        "hash, flags w/c/r (content in the workspace, the cache, the remote), "
                        "mode, path")
    p.add_argument("paths", nargs="*", metavar="PATH", help="only these paths, folders or "
                   "patterns (*.bin, data/**)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--rev", metavar="REV", help="the files of a commit instead of the workspace")
    which.add_argument("-a", "--all", dest="every", action="store_true",
                   help="the files of every commit of every ref, and the workspace's")
    p.add_argument("--remote", metavar="NAME", nargs="?", const="", default=None,
                   help="also ask the remote (default: core.remote) which it has")
    p.add_argument("-l", "--long", action="store_true", help="the whole hash")
    p.add_argument("-s", "--size", action="store_true", help="the size of each file")
    p.add_argument("-n", "--name-only", action="store_true", help="paths only")
    p.add_argument("--json", action="store_true")
    p = add("verify", "re-hash the cache and report corrupt objects")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--remote", metavar="NAME", nargs="?", const="", default=None,
                   help="instead read back every object of the remote (default: core.remote) "
                        "and name those a corrupt chunk or a missing pack breaks")
    p = add("import-dvc", "convert a DVC repository: .dvc files to .datavc, dvc.lock to "
                          "datavc.lock, DVC's objects (md5-checked) into the cache")
    p.add_argument("-n", "--dry-run", action="store_true", help="check and report, write nothing")
    p.add_argument("--fetch", action="store_true",
                   help="also fetch from a DVC remote of .dvc/config what is missing")
    p.add_argument("-r", "--remote", help="the DVC remote (default: DVC's core.remote)")
    p = add("demo", "walk through the whole cycle in a sample repository (temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the sample repository")
    p = add("migrate", "rewrite history to or from datavc pointers (like git lfs migrate)")
    msub = p.add_subparsers(dest="action", metavar="ACTION")
    msub.required = True
    for action, help in (("import", "turn the files at --include paths into pointers in "
                                    "every commit (their bytes go to the cache)"),
                         ("export", "turn the pointers at --include paths back into content"),
                         ("info", "which file types and paths take the space in history")):
        q = msub.add_parser(action, help=help, description=help)
        q.add_argument("refs", nargs="*", metavar="REF", help="branches and tags to rewrite "
                       "(default: the current branch); ^REV keeps REV's history as it is")
        q.add_argument("-I", "--include", action="append", default=[], metavar="PATTERNS",
                       help=".gitattributes-style patterns, comma-separated or repeated")
        q.add_argument("-X", "--exclude", action="append", default=[], metavar="PATTERNS")
        q.add_argument("--everything", action="store_true", help="every local branch and tag")
        if action == "info":
            q.add_argument("--top", type=int, default=10, help="rows per table (default 10)")
            q.add_argument("--above", default="0", help="count only blobs of this size or more")
            continue
        if action == "import":
            q.add_argument("--from-lfs", action="store_true", help="convert Git LFS pointers "
                           "(and .gitattributes filter=lfs rules) into datavc ones")
            q.add_argument("--fixup", action="store_true", help="convert the files each "
                           "commit's root .gitattributes already sends to datavc")
        q.add_argument("--yes", action="store_true",
                       help="rewrite commits that a remote already has")
        q.add_argument("-f", "--force", action="store_true",
                       help="replace the backup refs an earlier migrate left")
    p = add("help", "show the manual page of git-datavc or of a COMMAND")
    p.add_argument("topic", nargs="?", metavar="COMMAND")
    p.add_argument("--man-dir", metavar="DIR",
                   help="write every manual page into DIR/man1 instead (install.sh does)")
    add("filter-process", "plumbing: git's long-running clean/smudge filter")
    for name in ("clean", "smudge"):
        p = add(name, f"plumbing: {name} one file from stdin to stdout")
        p.add_argument("path", nargs="?", default="")
    p = add("hook", "plumbing: run a git hook")
    p.add_argument("name")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p = add("merge-driver", "plumbing: merge driver for tracked files")
    p.add_argument("base")
    p.add_argument("ours")
    p.add_argument("theirs")
    p.add_argument("path")
    return parser


def _add_exp(p: argparse.ArgumentParser) -> None:
    esub = p.add_subparsers(dest="action", metavar="ACTION")
    esub.required = True
    q = esub.add_parser("run", help="run the pipeline in a copy of the workspace, record it "
                                    "as refs/exps/...; the workspace stays as it is")
    q.add_argument("targets", nargs="*", metavar="STAGE", help="what repro runs (default all)")
    q.add_argument("-S", "--set-param", dest="sets", action="append", default=[],
                   metavar="[FILE:]KEY=VALUE", help="change a param (FILE default params.yaml)")
    q.add_argument("--set-new", action="store_true", help="-S may add keys and files")
    q.add_argument("-n", "--name", help="the experiment's name (default: exp-XXXXXX)")
    q.add_argument("--queue", action="store_true", help="queue it; --run-all runs the queue")
    q.add_argument("--run-all", action="store_true", help="run the queued experiments")
    q.add_argument("-j", "--jobs", type=int, default=1, help="with --run-all: at a time")
    q = esub.add_parser("show", help="experiments x params x metrics, baseline first")
    q.add_argument("-A", "--all", dest="every", action="store_true",
                   help="experiments of every baseline, not only HEAD's")
    fmt = q.add_mutually_exclusive_group()
    for flag in ("json", "csv", "md"):
        fmt.add_argument(f"--{flag}", dest="fmt", action="store_const", const=flag)
    q.add_argument("--sort-by", metavar="KEY", help="a param or metric (KEY or FILE:KEY)")
    q.add_argument("--sort-order", choices=("asc", "desc"), default="asc")
    q = esub.add_parser("diff", help="params and metrics of A (default HEAD) against B "
                                     "(default the workspace): experiments or revisions")
    q.add_argument("a", nargs="?", metavar="A")
    q.add_argument("b", nargs="?", metavar="B")
    q.add_argument("--json", action="store_true")
    q = esub.add_parser("apply", help="bring an experiment's files and data into the workspace")
    q.add_argument("name", metavar="NAME")
    q.add_argument("-f", "--force", action="store_true",
                   help="overwrite uncommitted edits and data not in the cache")
    q = esub.add_parser("branch", help="make a branch of an experiment")
    q.add_argument("name", metavar="NAME")
    q.add_argument("branch", metavar="BRANCH")
    q = esub.add_parser("remove", help="delete experiments (and queued ones)")
    q.add_argument("names", nargs="*", metavar="NAME")
    q.add_argument("-A", "--all", dest="every", action="store_true", help="every one")
    for action, verb in (("push", "send experiment refs to"), ("pull", "fetch them from")):
        q = esub.add_parser(action, help=f"{verb} a git remote, with their data (data remote)")
        q.add_argument("git_remote", metavar="GIT_REMOTE")
        q.add_argument("names", nargs="*", metavar="NAME", help="default: all")
        q.add_argument("-r", "--remote", help="data remote (default: core.remote)")
        q.add_argument("-f", "--force", action="store_true", help="replace differing refs")


def _dispatch_exp(args: argparse.Namespace) -> Callable[[], int]:
    from .commands import exp

    a = args.action
    if a == "run":
        return lambda: exp.run(args.sets, args.set_new, args.name, args.queue, args.run_all,
                               args.jobs, args.targets)
    if a == "show":
        return lambda: exp.show(args.every, args.fmt or "text", args.sort_by, args.sort_order)
    if a == "diff":
        return lambda: exp.diff(args.a, args.b, args.json)
    if a == "apply":
        return lambda: exp.apply(args.name, args.force)
    if a == "branch":
        return lambda: exp.branch(args.name, args.branch)
    if a == "remove":
        return lambda: exp.remove(args.names, args.every)
    if a == "push":
        return lambda: exp.push(args.git_remote, args.names, args.remote, args.force)
    return lambda: exp.pull(args.git_remote, args.names, args.remote, args.force)


def _dispatch(args: argparse.Namespace) -> Callable[[], int]:
    c = args.command
    if c == "help":
        from .commands import help as help_cmd
        return lambda: help_cmd.run(_parser(), args.topic, args.man_dir)
    if c in ("install", "uninstall"):
        from .commands import install

        if c == "install":
            return lambda: install.run(args.local, args.no_hooks, args.force)
        return lambda: install.run_uninstall(args.local, args.global_)
    if c == "init":
        from .commands import init
        return init.run
    if c in ("track", "untrack"):
        from .commands import track
        return lambda: (track.run if c == "track" else track.run_untrack)(args.patterns)
    if c == "add":
        from .commands import add as add_cmd
        return lambda: add_cmd.run(args.targets)
    if c == "checkout":
        from .commands import checkout
        return lambda: checkout.run(args.targets, args.force, args.relink)
    if c == "commit":
        from .commands import commit
        return lambda: commit.run(args.targets)
    if c == "unprotect":
        from .commands import unprotect
        return lambda: unprotect.run(args.targets)
    if c == "diff":
        from .commands import diff
        if args.html:
            return lambda: diff.run_html(args.rev1, args.rev2, args.html, args.open_page)
        return lambda: diff.run(args.rev1, args.rev2, args.json, args.everything)
    if c == "repro":
        from .commands import repro
        return lambda: repro.run(args.targets, args.force, args.dry, args.single_item,
                                 args.downstream, args.jobs, pipeline=args.pipeline,
                                 interactive=args.interactive, pull=args.pull,
                                 allow_missing=args.allow_missing)
    if c == "import-dvc":
        from .commands import import_dvc
        return lambda: import_dvc.run(args.dry_run, args.fetch, args.remote)
    if c == "dag":
        from .commands import dag
        return lambda: dag.run(args.target, args.fmt or "text")
    if c == "metrics":
        from .commands import metrics
        if args.action == "show":
            return lambda: metrics.run_show(args.json)
        return lambda: metrics.run_diff(args.rev, args.json)
    if c == "exp":
        return _dispatch_exp(args)
    if c == "plots":
        from .commands import plots
        revs = args.revs if args.action == "diff" else None
        return lambda: plots.run(args.targets, revs, args.out, args.format, args.json,
                                 args.open_page)
    if c == "artifacts":
        from .commands import artifacts
        return lambda: artifacts.run_list(args.json)
    if c == "params":
        from .commands import params
        return lambda: params.run_diff(args.rev, args.json)
    if c == "remote":
        from .commands import remote
        a = args.action
        if a == "add":
            return lambda: remote.add(args.name, args.url, args.default, args.local, args.force,
                                      args.layout)
        if a == "upgrade":
            return lambda: remote.upgrade(args.name, args.jobs)
        if a == "remove":
            return lambda: remote.remove(args.name, args.local)
        if a == "list":
            return remote.list_remotes
        if a == "default":
            return lambda: remote.set_default(args.name, args.local, args.unset)
        return lambda: remote.modify(args.name, args.key, args.value, args.local, args.unset)
    if c in ("push", "fetch", "pull"):
        from .commands import sync as sync_cmd
        from .sync import Scope

        scope = Scope(args.all_branches, args.all_tags, args.all_commits, args.targets)
        if c == "push":
            return lambda: sync_cmd.run_push(args.remote, scope, args.jobs, args.check_all)
        from .pathmatch import split_patterns

        include, exclude = split_patterns(args.include), split_patterns(args.exclude)
        if c == "fetch":
            return lambda: sync_cmd.run_fetch(args.remote, scope, args.jobs, include, exclude)
        return lambda: sync_cmd.run_pull(args.remote, scope, args.jobs, args.force,
                                         include, exclude)
    if c == "gc":
        from .commands import gc
        from .gc import Keep
        if args.no_exps and args.all_experiments:
            from .errors import UsageError
            raise UsageError("--no-exps and --all-experiments cannot be used together")
        return lambda: gc.run(Keep(args.workspace, args.all_branches, args.all_tags,
                                   experiments=not args.no_exps),
                              args.cloud, args.force, args.dry, args.projects)
    if c == "status" and args.remote is not None:
        from .commands import sync as remote_status
        from .sync import Scope

        scope = Scope(args.all_branches, args.all_tags, args.all_commits)
        return lambda: remote_status.run_status_remote(args.remote or None, scope, args.json,
                                                       args.everything)
    if c == "status":
        from .commands import status
        return lambda: status.run(args.json, args.everything)
    if c == "ls-files":
        from .commands import ls_files
        return lambda: ls_files.run(args.paths, args.rev, args.every, args.remote or None,
                                    args.remote is not None, args.long, args.size,
                                    args.name_only, args.json)
    if c == "verify":
        from .commands import verify
        return lambda: verify.run(args.jobs, args.remote)
    if c == "demo":
        from .commands import demo
        return lambda: demo.run(args.keep)
    if c == "migrate":
        from .commands import migrate
        if args.action == "info":
            return lambda: migrate.run_info(args.include, args.exclude, args.refs,
                                            args.everything, args.top, args.above)
        return lambda: migrate.run(args.action, args.include, args.exclude, args.refs,
                                   args.everything, getattr(args, "from_lfs", False),
                                   args.yes, args.force, getattr(args, "fixup", False))
    if c == "filter-process":
        from .commands import filter_process
        return filter_process.run
    if c in ("clean", "smudge"):
        from .commands import filter_process
        return lambda: filter_process.main_single(c, args.path)
    if c == "hook":
        from .commands import hook
        return lambda: hook.run(args.name, args.args)
    from .commands import plumbing
    return lambda: plumbing.merge_driver(args.base, args.ours, args.theirs, args.path)


# Commands that write the cache, metafiles, datavc.lock or the workspace: they hold their
# worktree's lock (git_datavc/repolock.py) while they run.
WRITERS = {"add", "checkout", "commit", "unprotect", "repro", "import-dvc", "fetch", "pull",
           "gc", "migrate"}


def _writes(args: argparse.Namespace) -> bool:
    if args.command == "exp":  # exp run works in worktrees of its own, each repro locks its own
        return bool(args.action == "apply")
    dry = (args.command in ("repro", "gc") and args.dry) or \
        (args.command == "import-dvc" and args.dry_run) or \
        (args.command == "migrate" and args.action == "info")
    return args.command in WRITERS and not dry


def _command_line(argv: Sequence[str]) -> str:
    import shlex

    line = shlex.join(["git", "datavc", *argv])
    return line if len(line) <= 80 else line[:77] + "..."


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse with only the named command's parser built; the whole parser for anything
    else (no command, top-level options, a typo: its message lists every command)."""
    if argv and not argv[0].startswith("-"):
        parser = _parser(only=argv[0])
        if parser.get_default("datavc_built"):
            return parser.parse_args(argv)
    return _parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hook"] and len(argv) >= 2 and not argv[1].startswith("-"):  # hot path: skip building the whole parser
        args = argparse.Namespace(command="hook", name=argv[1], args=argv[2:])
    else:
        args = _parse(argv)
    from .errors import DatavcError

    try:
        command = _dispatch(args)
        if not _writes(args):
            return command()
        from . import git, repolock

        with repolock.hold_repo(git.find_repo(), _command_line(argv)):
            return command()
    except DatavcError as e:
        _debug_traceback()
        from . import output

        output.error(e.message, e.hint)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:
        _debug_traceback()
        from . import output

        where = f": {e.filename}" if e.filename else ""
        output.error(f"{e.strerror or e}{where}")
        return 1


def _debug_traceback() -> None:
    if os.environ.get("DATAVC_DEBUG"):
        import traceback

        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
