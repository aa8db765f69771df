"""The filter-mode pointer (DESIGN §4): exactly three canonical lines, nothing else."""

from __future__ import annotations

import pytest

from git_datavc import pointer
from git_datavc.errors import DatavcError
from git_datavc.hashing import hash_bytes
from git_datavc.pointer import Pointer

OID = hash_bytes(b"hello world")
CANONICAL = b"version: datavc/1\nblake3: " + OID.encode() + b"\nsize: 11\n"


def test_encode_is_the_exact_canonical_bytes() -> None:
    assert Pointer(OID, 11).encode() == CANONICAL


def test_encode_of_size_zero() -> None:
    assert Pointer(OID, 0).encode().endswith(b"\nsize: 0\n")


@pytest.mark.parametrize("size", [0, 1, 11, 10 << 20, 2**63, 10**30])
def test_round_trip(size: int) -> None:
    ptr = Pointer(OID, size)
    assert pointer.parse(ptr.encode()) == ptr


def test_parse_canonical() -> None:
    ptr = pointer.parse(CANONICAL)
    assert ptr is not None
    assert (ptr.oid, ptr.size) == (OID, 11)


def test_parse_boundary_200_bytes_accepted_201_rejected() -> None:
    fixed = len(b"version: datavc/1\nblake3: \nsize: \n") + 64
    at_limit = Pointer(OID, int("1" * (200 - fixed))).encode()
    assert len(at_limit) == 200
    assert pointer.parse(at_limit) is not None
    too_long = Pointer(OID, int("1" * (201 - fixed))).encode()
    assert len(too_long) == 201
    assert pointer.parse(too_long) is None


@pytest.mark.parametrize("data", [
    pytest.param(CANONICAL + b"extra: line\n", id="extra-line"),
    pytest.param(CANONICAL + b"\n", id="extra-empty-line"),
    pytest.param(CANONICAL[:-1], id="missing-final-newline"),
    pytest.param(CANONICAL.replace(OID.encode(), OID.upper().encode()), id="uppercase-hex"),
    pytest.param(CANONICAL.replace(OID.encode(), OID[:63].encode()), id="63-hex"),
    pytest.param(CANONICAL.replace(OID.encode(), OID.encode() + b"0"), id="65-hex"),
    pytest.param(CANONICAL.replace(OID.encode(), b"g" + OID[1:].encode()), id="non-hex"),
    pytest.param(CANONICAL.replace(OID.encode(), OID.encode() + b".dir"), id="dir-id"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: 011"), id="leading-zero"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: 00"), id="double-zero"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: -1"), id="negative"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: +11"), id="plus-sign"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: 1x"), id="non-digit"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: "), id="empty-size"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size:  11"), id="two-spaces"),
    pytest.param(CANONICAL.replace(b"size: 11", b"size: 11 "), id="trailing-space"),
    pytest.param(CANONICAL.replace(b"size: 11", "size: \u0661".encode()), id="unicode-digit"),
    pytest.param(CANONICAL.replace(b"\n", b"\r\n"), id="crlf"),
    pytest.param(CANONICAL.replace(b"\nsize", b"\r\nsize"), id="cr-in-oid-line"),
    pytest.param(CANONICAL.replace(b"datavc/1", b"datavc/2"), id="other-version"),
    pytest.param(CANONICAL.replace(b"blake3:", b"sha256:"), id="other-hash-key"),
    pytest.param(CANONICAL.replace(b"blake3: ", b"blake3:"), id="no-space-after-key"),
    pytest.param(b"version: datavc/1\nsize: 11\nblake3: " + OID.encode() + b"\n", id="reordered"),
    pytest.param(b" " + CANONICAL, id="leading-space"),
    pytest.param(b"", id="empty"),
    pytest.param(b"version: datavc/1\n", id="version-only"),
    pytest.param(CANONICAL + b"x" * 200, id="over-200-bytes"),
    pytest.param(b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64
                 + b"\nsize 11\n", id="git-lfs-pointer"),
])
def test_parse_rejects(data: bytes) -> None:
    assert pointer.parse(data) is None


@pytest.mark.parametrize("oid", ["", "abc", OID.upper(), OID[:63], OID + "0", OID + ".dir",
                                 "g" * 64, " " + OID[1:]])
def test_pointer_with_bad_oid_raises(oid: str) -> None:
    with pytest.raises(DatavcError):
        Pointer(oid, 1)


def test_pointer_with_negative_size_raises() -> None:
    with pytest.raises(DatavcError):
        Pointer(OID, -1)


def test_looks_like_pointer() -> None:
    assert pointer.looks_like_pointer(CANONICAL)
    assert pointer.looks_like_pointer(b"version: datavc/1\nbroken")
    assert not pointer.looks_like_pointer(b"hello")
    assert not pointer.looks_like_pointer(b"")
