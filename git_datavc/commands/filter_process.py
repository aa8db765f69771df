"""`git-datavc filter-process`: the long-running filter git starts once per command.

Contract (gitattributes(5)): git writes the handshake, then for each file a request
(`command=clean|smudge`, `pathname=...`, flush, content packets, flush) and reads back
`status=success|error` (flush), content packets (flush) and an optional final status.
The process runs in the top of the work tree and ends when git closes its stdin.
"""

from __future__ import annotations

import itertools
import sys
from typing import Iterator

from .. import config, filters, output
from ..cache import Cache
from ..errors import DatavcError
from ..filter_protocol import (PktReader, PktWriter, ProtocolError, Request, handshake,
                               read_request, send_status)
from ..git import find_repo
from ..state import State

IDLE_SECONDS = 0.05


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


def run() -> int:
    reader = PktReader(open(0, "rb", buffering=0, closefd=False))
    writer = PktWriter(open(1, "wb", buffering=1 << 20, closefd=False))
    handshake(reader, writer, ["clean", "smudge"])
    repo = find_repo()
    settings = config.load(repo.root)
    cache = Cache(config.cache_root(repo, settings))
    state = State(repo.datavc_dir / "state.db", table="clean_hints")
    # Small objects become visible in batches (one sync for many). A batch is flushed when
    # git pauses between requests, as it does before running another git command whose
    # own filter may need these objects, and when it ends.
    with cache.writer(auto_flush=False) as cache_writer:
        ctx = filters.FilterContext(cache, cache_writer, state, repo.root)
        from ..filterlinks import link_mode

        if link_mode(repo, settings, cache.root) is not None:
            ctx.smudge_links = repo.git_dir
        try:
            while True:
                if cache_writer.pending and _idle(reader) or cache_writer.over_limit():
                    cache_writer.flush()
                try:
                    request = read_request(reader)
                except EOFError:
                    break
                _serve(ctx, request, reader, writer)
        finally:
            state.close()
    return 0


def _idle(reader: PktReader, wait: float = IDLE_SECONDS) -> bool:
    """No request from git within `wait` seconds."""
    if reader.buffered():
        return False
    import select

    return not select.select([0], [], [], wait)[0]


def _serve(ctx: filters.FilterContext, request: Request, reader: PktReader,
           writer: PktWriter) -> None:
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
