"""`migrate import|export`: rewrite history so that blobs at chosen paths become datavc
pointers (their bytes go to the cache), or pointers become content again.

Safety, in order: the worktree must be clean; rewriting commits that a remote-tracking ref
reaches needs `yes`; the stream goes through `git fast-export | git fast-import` (see
migrate_stream) into scratch refs only; cache objects are made durable; then ONE
`git update-ref --stdin` transaction moves every rewritten ref and records its old value
under refs/datavc/migrate-backup/. An interrupted run therefore leaves every ref as it was.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import IO

from . import config, git, migrate_blobs, output
from .cache import Cache
from .errors import DatavcError, GitError, UsageError
from .migrate_blobs import BlobReader
from .migrate_stream import TMP_NS, Options, Rewriter, Stats
from .pathmatch import path_filter

BACKUP_NS = "refs/datavc/migrate-backup/"


@dataclass(frozen=True)
class Request:
    mode: str                      # "import" or "export"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()     # branches/tags to rewrite; "^REV" excludes
    everything: bool = False
    from_lfs: bool = False
    yes: bool = False              # rewrite commits a remote already has
    force: bool = False            # replace the backups of an earlier migrate


@dataclass(frozen=True)
class Tip:
    name: str          # refs/heads/x, refs/tags/v1, or HEAD when detached
    old: str           # what the ref points at (a commit, or an annotated tag object)
    commit: str        # the commit it stands for
    tag: bool = False  # an annotated tag: its tag object is rewritten too


@dataclass
class Result:
    stats: Stats
    updated: list[tuple[str, str, str]]   # (ref, old, new)
    published: int


# --- what to rewrite ---------------------------------------------------------------

def _local_tips(repo: git.Repo) -> dict[str, Tip]:
    fmt = "%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)%00%(*objecttype)"
    tips = {}
    out = repo.git("for-each-ref", f"--format={fmt}", "refs/heads", "refs/tags")
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        name, sha, kind, peeled, peeled_kind = line.split("\0")
        if kind == "commit":
            tips[name] = Tip(name, sha, sha)
        elif kind == "tag" and peeled_kind == "commit":
            tips[name] = Tip(name, sha, peeled, tag=True)
        else:
            output.warn(f"left {name} alone: it does not point at a commit")
    return tips


def _head(repo: git.Repo) -> tuple[str | None, str | None]:
    """(branch ref HEAD is on, or None when detached; HEAD's commit, or None when unborn)."""
    branch = repo.git("symbolic-ref", "-q", "HEAD", check=False).decode().strip() or None
    commit = repo.git("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    return branch, commit.decode().strip() or None


def plan(repo: git.Repo, req: Request) -> tuple[list[Tip], list[str]]:
    """The refs to rewrite and the revisions whose history stays as it is."""
    tips = _local_tips(repo)
    branch, head = _head(repo)
    chosen: list[Tip] = []
    excludes: list[str] = []
    for arg in req.refs:
        if arg.startswith("^"):
            if not repo.git("rev-parse", "-q", "--verify", arg[1:] + "^{commit}", check=False):
                raise UsageError(f"{arg[1:]} is not a commit")
            excludes.append(arg[1:])
            continue
        full = repo.git("rev-parse", "--symbolic-full-name", arg, check=False).decode().strip()
        if full not in tips:
            raise UsageError(f"{arg} is not a local branch or tag",
                             "migrate rewrites branches and tags; give ^REV to keep history")
        chosen.append(tips[full])
    if req.everything:
        if chosen:
            raise UsageError("--everything rewrites every branch and tag: name no REFS beside it")
        chosen = list(tips.values())
        if branch is None and head is not None:
            chosen.append(Tip("HEAD", head, head))
    elif not chosen:
        if branch is None:
            raise UsageError("HEAD is detached: name the branches to rewrite, or --everything")
        if branch not in tips:
            raise UsageError(f"{branch} has no commits yet")
        chosen = [tips[branch]]
    unique = {t.name: t for t in chosen}
    return list(unique.values()), excludes


def count_commits(repo: git.Repo, tips: list[Tip], excludes: list[str]) -> tuple[int, int]:
    """(commits to rewrite, how many of them a remote-tracking ref reaches)."""
    revs = [t.commit for t in tips] + ["^" + e for e in excludes]
    total = int(repo.git("rev-list", "--count", *revs, "--"))
    if not repo.git("for-each-ref", "--count=1", "refs/remotes"):
        return total, 0
    unpublished = int(repo.git("rev-list", "--count", *revs, "--not", "--remotes", "--"))
    return total, total - unpublished


# --- checks before anything changes ------------------------------------------------

def check_ready(repo: git.Repo, req: Request) -> None:
    if req.mode == "import" and not req.include and not req.from_lfs:
        raise UsageError("say which files become pointers: --include='*.bin' (or --from-lfs)")
    if req.mode == "export" and not req.include:
        raise UsageError("say which files get their content back: --include='*.bin'")
    if req.mode == "import" and not repo.git("config", "filter.datavc.process", check=False):
        raise DatavcError("the datavc filter is not set up here: the rewritten files could "
                          "not be checked out", "run `git datavc init` first")
    if repo.git("status", "--porcelain", "-z", "--untracked-files=no"):
        raise DatavcError("the worktree has uncommitted changes: migrate rewrites what is "
                          "checked out", "commit or stash them first")
    if (repo.root / ".gitattributes").exists() and not repo.git(
            "ls-files", "--", ".gitattributes"):
        raise DatavcError(".gitattributes is not committed: migrate would overwrite it",
                          "commit it or move it away first")
    backups = repo.git("for-each-ref", "--count=1", BACKUP_NS)
    if backups and not req.force:
        raise DatavcError(f"an earlier migrate's backup refs are still under {BACKUP_NS}",
                          "check that migrate went well, then replace them with --force, or "
                          "delete them: git for-each-ref --format='delete %(refname)' "
                          f"{BACKUP_NS} | git update-ref --stdin")


# --- the run ------------------------------------------------------------------------

def run(repo: git.Repo, req: Request) -> Result:
    check_ready(repo, req)
    tips, excludes = plan(repo, req)
    total, published = count_commits(repo, tips, excludes)
    if published and not req.yes:
        raise DatavcError(
            f"this rewrites {published} commit(s) that are already on a remote (reachable "
            "from refs/remotes/): everyone who has them must re-clone or rebase",
            "rerun with --yes, then force-push; or give ^origin/BRANCH to rewrite only the "
            "commits not pushed yet")
    output.info(f"migrate: rewriting {total} commits of {len(tips)} refs "
                f"({', '.join(t.name.split('/', 2)[-1] for t in tips[:5])}"
                f"{', ...' if len(tips) > 5 else ''})")
    _delete_refs(repo, TMP_NS.decode())
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    opts = Options(req.mode, path_filter(req.include, req.exclude), req.include, req.exclude,
                   req.from_lfs, migrate_blobs.lfs_objects_dir(repo) if req.mode == "import"
                   else None)
    old_branch, old_head = _head(repo)
    try:
        stats, new_of = _rewrite(repo, opts, cache, tips, excludes)
        updated = _update_refs(repo, req, tips, new_of)
    finally:
        _delete_refs(repo, TMP_NS.decode())
    if old_head and any(name in ("HEAD", old_branch) for name, _, _ in updated):
        _refresh_worktree(repo, old_head)
    _warn_other_worktrees(repo, {name for name, _, _ in updated})
    return Result(stats, updated, published)


def _rewrite(repo: git.Repo, opts: Options, cache: Cache, tips: list[Tip],
             excludes: list[str]) -> tuple[Stats, dict[str, str]]:
    """Stream the history through the Rewriter; returns its stats and old -> new commit."""
    scratch = repo.datavc_dir / "migrate"
    scratch.mkdir(parents=True, exist_ok=True)
    marks = scratch / "marks"
    export_args = ["fast-export", "--no-data", "--show-original-ids",
                   "--reference-excluded-parents", "--signed-tags=strip",
                   "--use-done-feature", *[t.name for t in tips], *["^" + e for e in excludes]]
    import_args = [*migrate_blobs.SMALL_PACK_WINDOWS, "fast-import", "--quiet", "--force", "--done", f"--export-marks={marks}"]
    with tempfile.TemporaryFile(dir=scratch) as export_err, \
            tempfile.TemporaryFile(dir=scratch) as import_err, cache.writer() as writer:
        exporter = git.popen(repo, export_args, stderr=export_err)
        importer = git.popen(repo, import_args, stdin=git.PIPE, stdout=None, stderr=import_err)
        reader = BlobReader(repo)
        assert exporter.stdout is not None and importer.stdin is not None
        try:
            rewriter = Rewriter(repo, opts, reader, cache, writer, importer.stdin)
            try:
                rewriter.run(exporter.stdout)
                importer.stdin.close()
            except BrokenPipeError:
                importer.wait()
                raise GitError(f"git fast-import failed: {_last_line(import_err)}") from None
            if exporter.wait() != 0:
                raise GitError(f"git fast-export failed: {_last_line(export_err)}")
            if importer.wait() != 0:
                raise GitError(f"git fast-import failed: {_last_line(import_err)}")
        finally:
            for proc in (exporter, importer):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            reader.close()
    # The cache writer has flushed: every new object is durable before any ref moves.
    new_of = {}
    with open(marks, encoding="ascii") as f:
        for line in f:
            mark, sha = line.split()
            original = rewriter.commit_original.get(int(mark[1:]))
            if original:
                new_of[original] = sha
    marks.unlink()
    return rewriter.stats, new_of


def _last_line(f: IO[bytes]) -> str:
    f.seek(0)
    lines = f.read().decode(errors="replace").strip().splitlines()
    return lines[-1].removeprefix("fatal: ") if lines else "no message"


# --- refs ---------------------------------------------------------------------------

def _new_tag(repo: git.Repo, tag: str, commit: str) -> str:
    """A copy of annotated tag `tag` that points at `commit` (a signature would no longer
    match, so it is dropped, as `git fast-export --signed-tags=strip` does)."""
    body = repo.git("cat-file", "tag", tag)
    header, sep, message = body.partition(b"\n\n")
    lines = header.split(b"\n")
    lines[0] = b"object " + commit.encode()
    for marker in (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SSH SIGNATURE-----"):
        if marker in message:
            message = message[:message.index(marker)]
    data = b"\n".join(lines) + sep + message
    return repo.git("hash-object", "-t", "tag", "-w", "--stdin", input=data).decode().strip()


def backup_name(ref: str) -> str:
    return BACKUP_NS + ref.removeprefix("refs/")


def _update_refs(repo: git.Repo, req: Request, tips: list[Tip],
                 new_of: dict[str, str]) -> list[tuple[str, str, str]]:
    updates = []
    for tip in tips:
        commit = new_of.get(tip.commit)
        if commit is None or commit == tip.commit:
            continue
        new = _new_tag(repo, tip.old, commit) if tip.tag else commit
        updates.append((tip.name, tip.old, new))
    if not updates:
        return []
    keep = {backup_name(name) for name, _, _ in updates}
    lines = []
    for stale in repo.git("for-each-ref", "--format=%(refname)", BACKUP_NS).decode().split():
        if stale not in keep:
            lines.append(f"delete {stale}")
    for name, old, new in updates:
        lines.append(f"update {backup_name(name)} {old}")
        if name == "HEAD":
            lines.append("option no-deref")
        lines.append(f"update {name} {new} {old}")
    repo.git("update-ref", "-m", f"datavc migrate {req.mode}", "--stdin",
             input="".join(line + "\n" for line in lines).encode())
    return updates


def _delete_refs(repo: git.Repo, prefix: str) -> None:
    listing = repo.git("for-each-ref", "--format=delete %(refname)", prefix)
    if listing:
        repo.git("update-ref", "--stdin", input=listing)


# --- the worktree -------------------------------------------------------------------

def _warn_other_worktrees(repo: git.Repo, moved: set[str]) -> None:
    """Another worktree on a rewritten branch keeps the old index: say how to catch up."""
    path = ""
    for line in repo.git("worktree", "list", "--porcelain").decode().splitlines():
        if line.startswith("worktree "):
            path = line[9:]
        elif line.startswith("branch ") and line[7:] in moved \
                and os.path.realpath(path) != os.path.realpath(repo.root):
            output.warn(f"{line[7:]} is checked out in {path} too: run `git read-tree HEAD "
                        "&& git checkout HEAD -- .gitattributes && git update-index -q "
                        "--refresh` there")


def _refresh_worktree(repo: git.Repo, old_head: str) -> None:
    """Make the index match the new HEAD, touching only the files whose bytes differ.

    The worktree was clean, so each file holds the old commit's bytes: a converted file
    cleans to its new pointer (import) or is its content already (export), and stays as it
    is. Only files that still differ (a pointer never smudged, before an export) and the
    .gitattributes are checked out."""
    repo.git("read-tree", "HEAD")
    attrs = repo.root / ".gitattributes"
    if repo.git("ls-files", "--", ".gitattributes"):
        repo.git("checkout", "HEAD", "--", ".gitattributes")
    elif attrs.exists() and repo.git("rev-parse", "-q", "--verify",
                                     f"{old_head}:.gitattributes", check=False):
        os.unlink(attrs)    # its bytes are in the old commit, which the backup ref keeps
    repo.git("update-index", "-q", "--refresh", check=False)
    changed = repo.git("diff", "--name-only", "-z")
    if changed:
        repo.git("checkout", "HEAD", "--pathspec-from-file=-", "--pathspec-file-nul",
                 input=changed)
