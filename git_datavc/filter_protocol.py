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


class PktReader:
    """Reads pkt-lines from a binary stream through its own buffer: one read call for
    many packets, and `buffered()` tells whether more input is already here."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.buf = bytearray()
        self.pos = 0
        # reads land in one reused buffer: a new 1 MiB bytes per read costs an mmap,
        # page faults and an munmap per file
        self._chunk = bytearray(READ_SIZE)
        self._view = memoryview(self._chunk)

    def buffered(self) -> bool:
        return self.pos < len(self.buf)

    def _fill(self, need: int) -> bool:
        """Make `need` bytes available from pos; False when the stream ends first."""
        while len(self.buf) - self.pos < need:
            n = self.stream.readinto(self._view)  # type: ignore[attr-defined]
            if not n:
                return False
            if self.pos:
                del self.buf[:self.pos]  # cheap: bytearray drops its head in place
                self.pos = 0
            self.buf += self._view[:n]
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
        with memoryview(self.buf) as view:  # one copy, and the view is gone before a resize
            data = bytes(view[self.pos + 4:self.pos + length])
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
                yield bytes(block)
            if done:
                return
            if not block and not self._fill(self._next_length()):
                raise ProtocolError("git's filter stream ended in the middle of content")

    def _next_length(self) -> int:
        """Bytes the next packet needs, header included (4 for a flush, and while the
        header is not all here); ProtocolError for a header that is not one."""
        if len(self.buf) - self.pos < 4:
            return 4
        header = bytes(self.buf[self.pos:self.pos + 4])
        if not _HEX.issuperset(header):
            raise ProtocolError(f"bad pkt-line header {header!r}")
        length = int(header, 16)
        if length and (length < 4 or length > MAX_DATA + 4):
            raise ProtocolError(f"bad pkt-line length {length}")
        return max(length, 4)

    def _buffered_payload(self) -> tuple[bytearray, bool]:
        """(payload of the whole packets in the buffer, whether a flush ended the content)."""
        block = bytearray()
        buf, pos, end = self.buf, self.pos, len(self.buf)
        with memoryview(buf) as view:  # released before the buffer is resized
            while end - pos >= 4:
                length = self._next_length()
                if length == 4 and buf[pos:pos + 4] == b"0000":
                    self.pos = pos + 4
                    return block, True
                if end - pos < length:
                    break
                block += view[pos + 4:pos + length]
                pos += length
                self.pos = pos
        return block, False


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
