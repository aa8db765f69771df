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


class PktReader:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def _exact(self, n: int) -> bytes:
        data = self.stream.read(n)
        if data is None or len(data) != n:
            raise ProtocolError("git's filter stream ended in the middle of a packet")
        return data

    def packet(self) -> bytes | None:
        """One payload, or None for a flush packet. EOFError on a clean end of stream."""
        header = self.stream.read(4)
        if not header:
            raise EOFError
        if len(header) != 4:
            raise ProtocolError("git's filter stream ended in the middle of a packet header")
        try:
            length = int(header, 16)
        except ValueError:
            raise ProtocolError(f"bad pkt-line header {header!r}") from None
        if length == 0:
            return FLUSH
        if length < 4 or length > MAX_DATA + 4:
            raise ProtocolError(f"bad pkt-line length {length}")
        return self._exact(length - 4)

    def text_list(self) -> list[str]:
        """Text packets up to the next flush, without their trailing newlines."""
        items = []
        while (pkt := self.packet()) is not FLUSH:
            items.append(pkt.decode("utf-8", "surrogateescape").removesuffix("\n"))
        return items

    def content(self) -> Iterator[bytes]:
        """Binary packets up to the next flush."""
        while True:
            try:
                pkt = self.packet()
            except EOFError:
                raise ProtocolError("git's filter stream ended in the middle of content") from None
            if pkt is FLUSH:
                return
            yield pkt


class PktWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def packet(self, data: bytes) -> None:
        self.stream.write(b"%04x" % (len(data) + 4))
        self.stream.write(data)

    def flush_pkt(self) -> None:
        self.stream.write(b"0000")
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
    offered = {item.removeprefix("capability=") for item in reader.text_list()}
    agreed = [c for c in capabilities if c in offered]
    writer.text_list(f"capability={c}" for c in agreed)
    return set(agreed)


def read_request(reader: PktReader) -> Request:
    """The next request's headers (its content is read with `reader.content()`).
    EOFError when git closes the stream between requests: the normal end."""
    headers = {}
    for item in reader.text_list():
        key, _, value = item.partition("=")
        headers[key] = value
    if "command" not in headers:
        raise ProtocolError(f"filter request without a command: {headers!r}")
    return Request(headers["command"], headers.get("pathname", ""), headers)


def send_status(writer: PktWriter, status: str) -> None:
    writer.text_list([f"status={status}"])
