"""git's long-running filter protocol, version 2: pkt-line framing and the request loop.

Knows nothing of caches or pointers. See gitattributes(5), "Long Running Filter Process",
and git's convert.c / t/helper/test-rot13-filter.c for the other side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Iterable, Iterator

from .errors import DatavcError

MAX_DATA = 65516  # largest pkt-line payload
FLUSH = None


class ProtocolError(DatavcError):
    """git sent something that is not the filter protocol (or the stream ended early)."""


@dataclass
class Request:
    command: str
    pathname: str
    headers: dict[str, str]


_HEX = frozenset(b"0123456789abcdefABCDEF")
READ_SIZE = 1 << 20
MIN_READ = 256 << 10     # a read into less room than this moves the buffer's tail first


class PktReader:
    """Reads pkt-lines from a binary stream into one fixed buffer: one read call for many
    packets, `buffered()` tells whether more input is already here, and content is joined
    straight from the buffer (the bytes cross Python once, from the pipe to the block)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        # a reused buffer, never resized: [pos, end) is read and not yet consumed. A new
        # 1 MiB bytes per read would cost an mmap, page faults and an munmap each time.
        self.buf = bytearray(READ_SIZE + MAX_DATA + 4)
        self._view = memoryview(self.buf)
        self.pos = 0
        self.end = 0

    def buffered(self) -> bool:
        return self.pos < self.end

    def _fill(self, need: int) -> bool:
        """Make `need` bytes available from pos; False when the stream ends first."""
        if self.end - self.pos >= need:
            return True
        if len(self.buf) - self.end < MIN_READ or self.pos + need > len(self.buf):
            left = self.end - self.pos   # less than a packet: move it to the front
            self.buf[:left] = self._view[self.pos:self.end].tobytes()
            self.pos, self.end = 0, left
        while self.end - self.pos < need:
            n = self.stream.readinto(self._view[self.end:])  # type: ignore[attr-defined]
            if not n:
                return False
            self.end += n
        return True

    def packet(self) -> bytes | None:
        """One payload, or None for a flush packet. EOFError on a clean end of stream."""
        if not self._fill(4):
            if self.buffered():
                raise ProtocolError("git's filter stream ended in the middle of a packet header")
            raise EOFError
        length = self._next_length()
        if self.buf[self.pos:self.pos + 4] == b"0000":
            self.pos += 4
            return FLUSH
        if not self._fill(length):
            raise ProtocolError("git's filter stream ended in the middle of a packet")
        data = self._view[self.pos + 4:self.pos + length].tobytes()
        self.pos += length
        return data

    def _packet_inside(self, what: str) -> bytes | None:
        try:
            return self.packet()
        except EOFError:
            raise ProtocolError(f"git's filter stream ended in the middle of {what}") from None

    def text_list(self, what: str = "a list") -> list[str]:
        """Text packets up to the next flush, without their trailing newlines.
        EOFError only when the stream ends before the list's first packet."""
        items = []
        pkt = self.packet()
        while pkt is not FLUSH:
            items.append(pkt.decode("utf-8", "surrogateescape").removesuffix("\n"))
            pkt = self._packet_inside(what)
        return items

    def content(self) -> Iterator[bytes]:
        """The payload up to the next flush, in blocks: every packet already read is joined
        into one block (up to a read's worth, 1 MiB), so a 1 GiB file costs a thousand
        steps for the caller instead of sixteen thousand."""
        while True:
            block, done = self._buffered_payload()
            if block:
                yield block
            if done:
                return
            if not block and not self._fill(self._next_length()):
                raise ProtocolError("git's filter stream ended in the middle of content")

    def _next_length(self) -> int:
        """Bytes the next packet needs, header included (4 for a flush, and while the
        header is not all here); ProtocolError for a header that is not one."""
        if self.end - self.pos < 4:
            return 4
        header = bytes(self.buf[self.pos:self.pos + 4])
        if not _HEX.issuperset(header):
            raise ProtocolError(f"bad pkt-line header {header!r}")
        length = int(header, 16)
        if length and (length < 4 or length > MAX_DATA + 4):
            raise ProtocolError(f"bad pkt-line length {length}")
        return max(length, 4)

    def _buffered_payload(self) -> tuple[bytes, bool]:
        """(payload of the whole packets in the buffer, whether a flush ended the content)."""
        parts: list[memoryview] = []
        buf, view, pos, end = self.buf, self._view, self.pos, self.end
        try:
            while end - pos >= 4:
                length = self._next_length()
                if length == 4 and buf[pos:pos + 4] == b"0000":
                    self.pos = pos + 4
                    return b"".join(parts), True
                if end - pos < length:
                    break
                parts.append(view[pos + 4:pos + length])
                pos += length
                self.pos = pos
            return b"".join(parts), False
        finally:
            for part in parts:
                part.release()


class PktWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def packet(self, data: bytes) -> None:
        self.stream.write(b"%04x" % (len(data) + 4))
        self.stream.write(data)

    def flush_pkt(self) -> None:
        self.stream.write(b"0000")

    def send(self) -> None:
        """Push everything written so far to git: once per response, not per packet."""
        self.stream.flush()

    def text_list(self, items: Iterable[str]) -> None:
        for item in items:
            self.packet(item.encode("utf-8", "surrogateescape") + b"\n")
        self.flush_pkt()

    def packets(self, chunks: Iterable[bytes]) -> None:
        """Content of any size, cut into packets (no flush)."""
        for chunk in chunks:
            view = memoryview(chunk)
            for i in range(0, len(view), MAX_DATA):
                self.packet(view[i:i + MAX_DATA])  # type: ignore[arg-type]

    def content(self, chunks: Iterable[bytes]) -> None:
        self.packets(chunks)
        self.flush_pkt()


def handshake(reader: PktReader, writer: PktWriter, capabilities: Iterable[str]) -> set[str]:
    """Welcome and version, then capabilities; returns the ones both sides have."""
    try:
        hello = reader.text_list()
    except EOFError:
        raise ProtocolError("git closed the filter stream before the handshake") from None
    if not hello or hello[0] != "git-filter-client" or "version=2" not in hello[1:]:
        raise ProtocolError(f"unexpected filter handshake {hello!r}")
    writer.text_list(["git-filter-server", "version=2"])
    writer.send()
    try:
        offered = {item.removeprefix("capability=") for item in reader.text_list()}
    except EOFError:
        raise ProtocolError("git closed the filter stream during the handshake") from None
    agreed = [c for c in capabilities if c in offered]
    writer.text_list(f"capability={c}" for c in agreed)
    writer.send()
    return set(agreed)


def read_request(reader: PktReader) -> Request:
    """The next request's headers (its content is read with `reader.content()`).
    EOFError when git closes the stream between requests: the normal end."""
    headers = {}
    for item in reader.text_list("a request"):
        key, _, value = item.partition("=")
        headers[key] = value
    if "command" not in headers:
        raise ProtocolError(f"filter request without a command: {headers!r}")
    return Request(headers["command"], headers.get("pathname", ""), headers)


def send_status(writer: PktWriter, status: str) -> None:
    writer.text_list([f"status={status}"])
