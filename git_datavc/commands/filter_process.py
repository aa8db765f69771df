"""`git-datavc filter-process`: the long-running filter git starts once per command.

Contract (gitattributes(5)): git writes the handshake, then for each file a request
(`command=clean|smudge`, `pathname=...`, flush, content packets, flush) and reads back
`status=success|error` (flush), content packets (flush) and an optional final status.
The process runs in the top of the work tree and ends when git closes its stdin.
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import TYPE_CHECKING, Iterator

from .. import config, filters, output, pointer
from ..cache import Cache
from ..errors import DatavcError
from ..filter_protocol import (PktReader, PktWriter, ProtocolError, Request, handshake,
                               read_request, send_status)
from ..git import Repo, find_repo
from ..state import State

if TYPE_CHECKING:
    from ..fetchfilter import FetchFilter

IDLE_SECONDS = 0.05
IDLE_MAX = 0.5


class _Tracked:
    """Content packets that remember whether they were read to the end."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.done = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        self.done = True

    def drain(self) -> None:
        if not self.done:
            for _ in self:
                pass


def _widen_pipe(fd: int) -> None:
    """A 1 MiB pipe lets git write 16 packets before it waits on us (Linux only)."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass  # not a pipe, or above /proc/sys/fs/pipe-max-size: the default works too


def run() -> int:
    _widen_pipe(0)
    _widen_pipe(1)
    reader = PktReader(open(0, "rb", buffering=0, closefd=False))
    writer = PktWriter(open(1, "wb", buffering=1 << 20, closefd=False))
    repo = find_repo()
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    remote = settings.get("core.remote")
    # With a remote, missing objects are "delayed" and fetched in one batch (git asks
    # for them again after list_available_blobs), so a clone does not fetch file by file.
    handshake(reader, writer, ["clean", "smudge"] + (["delay"] if remote else []))
    state = State(repo.datavc_dir / "state.db", table="clean_hints")
    # Small objects become visible in batches (one sync for many). A batch is flushed when
    # git pauses between requests, as it does before running another git command whose
    # own filter may need these objects, and when it ends.
    with cache.writer(auto_flush=False, deferred=True) as cache_writer:
        ctx = filters.FilterContext(cache, cache_writer, state, repo.root)
        if remote and not ctx.quiet_pointers:
            ctx.fetch = _Fetcher(repo, settings, cache, remote)
            ctx.load_fetch_filter = lambda: _fetch_filter(repo, settings)
        from ..filterlinks import link_mode

        if link_mode(repo, settings, cache.root) is not None:
            ctx.smudge_links = repo.git_dir
        pace = _Pace()
        try:
            while True:
                if cache_writer.pending and _idle(reader, pace) or cache_writer.over_limit():
                    cache_writer.flush()
                try:
                    request = read_request(reader)
                except EOFError:
                    break
                _serve(ctx, request, reader, writer)
                cache_writer.write_deferred()  # git has its answer: it works meanwhile
        finally:
            if ctx.smudged_big:
                _record_hints(repo, ctx)
            state.close()
            ctx.summary()
    return 0


def _record_hints(repo: Repo, ctx: filters.FilterContext) -> None:
    """git has written the smudged files and the index by the time it closes our stdin."""
    from ..errors import GitError
    from ..smudgehints import record

    assert ctx.hints is not None
    try:
        record(str(repo.root), ctx.hints, ctx.smudged_big,
               lambda paths: repo.git("ls-files", "-s", "--debug", "-z", "--",
                                      *(":(literal)" + p for p in paths)))
    except GitError:
        pass  # hints are a shortcut: without them the next clean hashes


class _Pace:
    """How long git takes between two requests (a moving average): "idle" is a pause far
    longer than that. On a busy machine git's gaps grow, and a fixed wait would flush
    (one sync of the whole file system each time) every few files."""

    def __init__(self) -> None:
        self.gap = 0.0

    def wait(self) -> float:
        return min(max(IDLE_SECONDS, 20 * self.gap), IDLE_MAX)

    def saw(self, seconds: float) -> None:
        self.gap += (seconds - self.gap) / 8


def _fetch_filter(repo: Repo, settings: config.Settings) -> "FetchFilter":
    from .. import fetchfilter

    return fetchfilter.load(repo, settings)


def _idle(reader: PktReader, pace: _Pace | None = None) -> bool:
    """No request from git within the pause that counts as idle."""
    if reader.buffered():
        return False
    import select
    import time

    wait = pace.wait() if pace else IDLE_SECONDS
    start = time.monotonic()
    ready = select.select([0], [], [], wait)[0]
    if ready and pace:
        pace.saw(time.monotonic() - start)
    return not ready


class _Fetcher:
    """Fetches missing objects from the default remote; after a failure it warns once and
    stops trying, so a checkout without network does not wait on every file."""

    def __init__(self, repo: object, settings: config.Settings, cache: Cache, name: str) -> None:
        self.settings, self.cache, self.name = settings, cache, name
        self.broken = False
        self.delayed: dict[str, list[bytes]] = {}   # pathname -> its pointer, to smudge later
        self.listed: set[str] = set()
        self.tried: set[str] = set()

    def __call__(self, oids: list[str]) -> set[str]:
        wanted = [o for o in oids if not self.cache.has(o) and o not in self.tried]
        self.tried.update(wanted)  # one attempt (and one warning) per object
        if wanted and not self.broken:
            from .. import transfer
            from ..errors import RemoteError
            from ..remotes import open_remote

            try:
                remote = open_remote(self.name, self.settings, self.cache.root / "remote-index")
                try:
                    result = transfer.fetch(self.cache, remote, wanted)
                finally:
                    remote.close()
                if result.error:
                    raise RemoteError(result.error)
                for _, message in result.failures[:3]:  # e.g. a corrupt object, rejected
                    output.warn(message)
            except RemoteError as e:
                self.broken = True
                output.warn(f"could not fetch from remote {self.name!r}: {e.message}")
        return {o for o in oids if self.cache.has(o)}

    def available(self) -> list[str]:
        """list_available_blobs: fetch everything delayed in one batch, then name it all."""
        todo = [p for p in self.delayed if p not in self.listed]
        oids = []
        for path in todo:
            ptr = pointer.parse(b"".join(self.delayed[path]))
            if ptr is not None:
                oids.append(ptr.oid)
        if oids:
            self(oids)
        self.listed.update(todo)
        return todo


def _serve(ctx: filters.FilterContext, request: Request, reader: PktReader,
           writer: PktWriter) -> None:
    if request.command == "list_available_blobs" and isinstance(ctx.fetch, _Fetcher):
        writer.text_list(f"pathname={p}" for p in ctx.fetch.available())
        send_status(writer, "success")
        writer.send()
        return
    if request.command not in ("clean", "smudge"):
        send_status(writer, "error")
        writer.send()
        return
    content = _Tracked(reader.content())
    if request.command == "clean":
        try:
            result = filters.clean(ctx, request.pathname, content)
        except ProtocolError:
            raise
        except (DatavcError, OSError) as e:
            content.drain()
            _report(request, e)
            send_status(writer, "error")
            writer.send()
            return
        send_status(writer, "success")
        writer.content([result])
        writer.flush_pkt()  # keep the status
        writer.send()
        return
    ctx.writer.flush()  # objects cleaned earlier in this process must be visible to smudge
    _smudge(ctx, request, content, writer)


def _smudge(ctx: filters.FilterContext, request: Request, content: _Tracked,
            writer: PktWriter) -> None:
    # The pointer is tiny: read it whole before answering, so a failure can say status=error.
    pointer_chunks = list(content)
    fetcher = ctx.fetch if isinstance(ctx.fetch, _Fetcher) else None
    if fetcher and request.pathname in fetcher.delayed and not b"".join(pointer_chunks):
        pointer_chunks = fetcher.delayed.pop(request.pathname)  # git asks again, empty
    elif fetcher and request.headers.get("can-delay") == "1" and not fetcher.broken:
        ptr = pointer.parse(b"".join(pointer_chunks))
        if ptr is not None and ptr.size and not ctx.cache.has(ptr.oid) \
                and ctx.wants(request.pathname):
            fetcher.delayed[request.pathname] = pointer_chunks
            send_status(writer, "delayed")
            writer.send()
            return
    out = filters.smudge(ctx, request.pathname, pointer_chunks)
    try:
        first = next(out, b"")
    except (DatavcError, OSError) as e:
        _report(request, e)
        send_status(writer, "error")
        writer.send()
        return
    send_status(writer, "success")
    try:
        writer.packets(itertools.chain([first], out))
    except (DatavcError, OSError) as e:
        writer.flush_pkt()
        _report(request, e)
        send_status(writer, "error")
        writer.send()
        return
    writer.flush_pkt()
    writer.flush_pkt()  # keep the status
    writer.send()


def _report(request: Request, e: Exception) -> None:
    message = e.message if isinstance(e, DatavcError) else str(e)
    output.error(f"{request.command} {request.pathname}: {message}")


def main_single(command: str, pathname: str) -> int:
    """`git-datavc clean|smudge -- PATH`: one file over stdin/stdout (filter.datavc.clean)."""
    repo = find_repo()
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    stdin = sys.stdin.buffer
    chunks = iter(lambda: stdin.read(1 << 20), b"")
    with cache.writer() as cache_writer:
        ctx = filters.FilterContext(cache, cache_writer,
                                    State(repo.datavc_dir / "state.db", table="clean_hints"),
                                    repo.root)
        if command == "clean":
            sys.stdout.buffer.write(filters.clean(ctx, pathname, chunks))
        else:
            for chunk in filters.smudge(ctx, pathname, chunks):
                sys.stdout.buffer.write(chunk)
        assert ctx.hints is not None
        ctx.hints.close()
    return 0
