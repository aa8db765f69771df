"""git's long-running filter protocol v2: pkt-line framing, handshake, requests."""

from __future__ import annotations

import io

import pytest

from git_datavc.errors import DatavcError
from git_datavc.filter_protocol import (MAX_DATA, PktReader, PktWriter, ProtocolError,
                                        handshake, read_request, send_status)


def pkt(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return b"%04x" % (len(data) + 4) + data


FLUSH = b"0000"


def reader_of(data: bytes) -> PktReader:
    return PktReader(io.BytesIO(data))


def split_packets(raw: bytes) -> list[bytes | None]:
    """An independent pkt-line parser, to check what the writer produced."""
    out: list[bytes | None] = []
    pos = 0
    while pos < len(raw):
        length = int(raw[pos:pos + 4], 16)
        if length == 0:
            out.append(None)
            pos += 4
        else:
            out.append(raw[pos + 4:pos + length])
            pos += length
    assert pos == len(raw)
    return out


def test_protocol_error_is_a_datavc_error() -> None:
    assert issubclass(ProtocolError, DatavcError)


def test_max_payload_is_65516() -> None:
    assert MAX_DATA == 65516


def test_packet_bytes() -> None:
    buf = io.BytesIO()
    w = PktWriter(buf)
    w.packet(b"abc")
    w.flush_pkt()
    assert buf.getvalue() == b"0007abc0000"


@pytest.mark.parametrize("size, sizes", [
    (0, []),
    (1, [1]),
    (65516, [65516]),
    (65517, [65516, 1]),
    (200_000, [65516, 65516, 65516, 200_000 - 3 * 65516]),
])
def test_content_round_trip_and_packet_boundaries(size: int, sizes: list[int]) -> None:
    data = bytes(i % 251 for i in range(size))
    buf = io.BytesIO()
    PktWriter(buf).content([data])
    raw = buf.getvalue()
    packets = split_packets(raw)
    assert packets[-1] is None and None not in packets[:-1]
    assert [len(p) for p in packets[:-1]] == sizes  # type: ignore[arg-type]
    r = reader_of(raw)
    assert b"".join(r.content()) == data
    with pytest.raises(EOFError):
        r.packet()


def test_content_from_many_chunks_round_trips() -> None:
    chunks = [b"", b"a" * 70000, b"", b"b", b"c" * 65516]
    buf = io.BytesIO()
    PktWriter(buf).content(chunks)
    packets = split_packets(buf.getvalue())
    assert all(p is None or 0 < len(p) <= MAX_DATA for p in packets)  # never an empty packet
    assert b"".join(reader_of(buf.getvalue()).content()) == b"".join(chunks)


def test_largest_packet_is_accepted() -> None:
    data = b"x" * MAX_DATA
    assert reader_of(b"fff0" + data).packet() == data


def test_text_list_round_trip() -> None:
    buf = io.BytesIO()
    PktWriter(buf).text_list(["command=clean", "pathname=dir/a b=c.bin", "ünïcode"])
    assert buf.getvalue().startswith(pkt("command=clean\n"))
    r = reader_of(buf.getvalue())
    assert r.text_list() == ["command=clean", "pathname=dir/a b=c.bin", "ünïcode"]


def test_flush_packet_reads_as_none() -> None:
    r = reader_of(FLUSH + pkt("x"))
    assert r.packet() is None
    assert r.packet() == b"x"


# --- handshake --------------------------------------------------------------------

GIT_HELLO = pkt("git-filter-client\n") + pkt("version=2\n") + FLUSH


def git_caps(*caps: str) -> bytes:
    return b"".join(pkt(f"capability={c}\n") for c in caps) + FLUSH


def test_handshake_answers_only_what_both_sides_have() -> None:
    out = io.BytesIO()
    agreed = handshake(reader_of(GIT_HELLO + git_caps("clean", "smudge", "delay")),
                       PktWriter(out), ["clean", "smudge"])
    assert agreed == {"clean", "smudge"}
    assert out.getvalue() == (pkt("git-filter-server\n") + pkt("version=2\n") + FLUSH
                              + pkt("capability=clean\n") + pkt("capability=smudge\n") + FLUSH)


def test_handshake_does_not_offer_what_git_did_not_ask_for() -> None:
    out = io.BytesIO()
    agreed = handshake(reader_of(GIT_HELLO + git_caps("clean")), PktWriter(out),
                       ["clean", "smudge"])
    assert agreed == {"clean"}
    assert split_packets(out.getvalue())[3:] == [b"capability=clean\n", None]


def test_handshake_accepts_several_versions() -> None:
    hello = pkt("git-filter-client\n") + pkt("version=2\n") + pkt("version=3\n") + FLUSH
    out = io.BytesIO()
    handshake(reader_of(hello + git_caps("clean")), PktWriter(out), ["clean"])
    assert split_packets(out.getvalue())[:3] == [b"git-filter-server\n", b"version=2\n", None]


@pytest.mark.parametrize("hello", [
    pytest.param(pkt("git-filter-server\n") + pkt("version=2\n") + FLUSH, id="wrong-welcome"),
    pytest.param(pkt("git-filter-client\n") + pkt("version=3\n") + FLUSH, id="no-version-2"),
    pytest.param(pkt("git-filter-client\n") + FLUSH, id="no-version"),
    pytest.param(FLUSH, id="empty"),
    pytest.param(b"", id="eof"),
])
def test_handshake_rejects(hello: bytes) -> None:
    with pytest.raises(ProtocolError):
        handshake(reader_of(hello + git_caps("clean")), PktWriter(io.BytesIO()), ["clean"])


def test_handshake_cut_in_capabilities_is_a_protocol_error() -> None:
    # git died after the welcome: not a clean end between requests.
    with pytest.raises(ProtocolError):
        handshake(reader_of(GIT_HELLO + pkt("capability=clean\n")), PktWriter(io.BytesIO()),
                  ["clean"])


# --- malformed streams ------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    pytest.param(b"zzzz", id="not-hex"),
    pytest.param(b"0001", id="length-1"),
    pytest.param(b"0002", id="length-2"),
    pytest.param(b"0003", id="length-3"),
    pytest.param(b"fff1" + b"x" * 65517, id="length-65521"),
    pytest.param(b"ffff" + b"x" * 65531, id="length-65535"),
    pytest.param(b"00", id="cut-in-header"),
    pytest.param(b"000", id="cut-in-header-3"),
    pytest.param(b"0009ab", id="cut-in-payload"),
])
def test_bad_packets_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader_of(raw).packet()


def test_header_must_be_four_hex_digits() -> None:
    # int(x, 16) also takes signs, spaces, "0x" and "_"; none of them is a pkt-line header
    # (git dies on them), and "-000" would even read as a flush.
    accepted = []
    for header in (b"+00a", b"-000", b" 00a", b"00a ", b"0x0a", b"0_0a"):
        try:
            reader_of(header + b"x" * 20).packet()
        except ProtocolError:
            continue
        accepted.append(header)
    assert accepted == []


def test_stream_cut_inside_content_is_a_protocol_error() -> None:
    r = reader_of(pkt(b"abc") + pkt(b"def"))  # no closing flush
    with pytest.raises(ProtocolError):
        list(r.content())


def test_stream_cut_inside_a_content_packet_is_a_protocol_error() -> None:
    r = reader_of(pkt(b"abc") + b"0010abc")
    with pytest.raises(ProtocolError):
        list(r.content())


def test_stream_cut_inside_text_list_payload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        reader_of(pkt("command=clean\n")[:-3]).text_list()


# --- requests ---------------------------------------------------------------------

def test_read_request_and_its_content() -> None:
    raw = (pkt("command=clean\n") + pkt("pathname=dir/a b=c.bin\n") + pkt("can-delay=1\n")
           + FLUSH + pkt(b"hello ") + pkt(b"world") + FLUSH
           + pkt("command=smudge\n") + pkt("pathname=x\n") + FLUSH + FLUSH)
    r = reader_of(raw)
    req = read_request(r)
    assert (req.command, req.pathname) == ("clean", "dir/a b=c.bin")
    assert req.headers["can-delay"] == "1"
    assert b"".join(r.content()) == b"hello world"
    req = read_request(r)
    assert (req.command, req.pathname) == ("smudge", "x")
    assert b"".join(r.content()) == b""
    with pytest.raises(EOFError):
        read_request(r)


def test_eof_between_requests_is_eof_error() -> None:
    with pytest.raises(EOFError):
        read_request(reader_of(b""))


def test_request_without_command_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        read_request(reader_of(pkt("pathname=a\n") + FLUSH))


def test_stream_cut_inside_request_headers_is_a_protocol_error() -> None:
    # EOF after some headers is not the normal end between requests.
    with pytest.raises(ProtocolError):
        read_request(reader_of(pkt("command=clean\n") + pkt("pathname=a\n")))


def test_send_status_bytes() -> None:
    buf = io.BytesIO()
    send_status(PktWriter(buf), "success")
    assert buf.getvalue() == pkt("status=success\n") + FLUSH


class _Trickle(io.RawIOBase):
    """A pipe that hands over at most `step` bytes per read, as a busy git does."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self.step, len(self.data) - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


@pytest.mark.parametrize("step", [1, 3, 4, 5, 65520, 1 << 20])
def test_content_joins_buffered_packets_and_keeps_what_follows(step: int) -> None:
    data = bytes(i % 253 for i in range(3 * MAX_DATA + 17))
    buf = io.BytesIO()
    PktWriter(buf).content([data])
    PktWriter(buf).text_list(["status=success"])
    r = PktReader(_Trickle(buf.getvalue(), step))  # type: ignore[arg-type]
    blocks = list(r.content())
    assert b"".join(blocks) == data
    assert all(blocks)  # no empty blocks
    if step == 1 << 20:  # everything arrived in one read: one block, not four packets
        assert len(blocks) == 1
    assert r.text_list() == ["status=success"]  # the bytes after the flush are kept


def test_content_with_a_bad_header_inside_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        list(reader_of(pkt(b"abc") + b"zzzz").content())
    with pytest.raises(ProtocolError):
        list(reader_of(pkt(b"abc") + b"0002").content())
