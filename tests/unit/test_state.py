"""The stat cache: (inode, size, mtime_ns, ctime_ns) -> object id."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from git_datavc.hashing import hash_bytes
from git_datavc.state import State, same_file

OID_A = hash_bytes(b"a")
OID_B = hash_bytes(b"b")


def fake_stat(ino: int, size: int = 5, mtime_ns: int = 2_000_000_001,
              ctime_ns: int = 3_000_000_002) -> os.stat_result:
    return os.stat_result(
        (0o100644, ino, 1, 1, 0, 0, size, 1, mtime_ns // 10**9, ctime_ns // 10**9),
        {"st_mtime_ns": mtime_ns, "st_ctime_ns": ctime_ns})


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    s = State(tmp_path / "git" / "datavc" / "state.db")
    yield s
    s.close()


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(b"hello")
    past = time.time_ns() - 10 * 10**9 + 123  # written a while ago: not racy
    os.utime(path, ns=(past, past))
    return path


def test_a_file_as_new_as_the_write_is_not_recorded(state: State, tmp_path: Path) -> None:
    # racy git: changed again within the same clock tick, the file would keep its stat
    path = tmp_path / "fresh.bin"
    path.write_bytes(b"hello")
    state.put(os.stat(path), OID_A)
    assert state.get(os.stat(path)) is None
    past = time.time_ns() - 10**9 + 7
    os.utime(path, ns=(past, past))
    state.put(os.stat(path), OID_A)
    assert state.get(os.stat(path)) == OID_A


def test_racy_margin(file: Path) -> None:
    from git_datavc.state import RACY_NS, settled

    st = os.stat(file)
    assert settled(st, st.st_mtime_ns + RACY_NS + 1)
    assert not settled(st, st.st_mtime_ns + RACY_NS)
    whole = fake_stat(1, mtime_ns=5 * 10**9)  # a file system with whole-second times
    assert not settled(whole, 5 * 10**9 + 10**9)
    assert settled(whole, 5 * 10**9 + 2 * 10**9 + 1)


def test_same_size_change_with_the_mtime_put_back_is_a_miss(state: State, file: Path) -> None:
    before = os.stat(file)
    state.put(before, OID_A)
    time.sleep(0.03)  # past the clock tick of the fixture's utime (the old ctime)
    file.write_bytes(b"HELLO")  # same size, then the old mtime restored: ctime still moves
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(file)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
        (before.st_size, before.st_mtime_ns, before.st_ino)
    assert state.get(after) is None


def test_put_get_round_trip(state: State, file: Path) -> None:
    st = os.stat(file)
    assert state.get(st) is None
    state.put(st, OID_A)
    assert state.get(os.stat(file)) == OID_A
    assert state.path.is_file()  # parent directories were made


def test_put_replaces(state: State, file: Path) -> None:
    st = os.stat(file)
    state.put(st, OID_A)
    state.put(st, OID_B)
    assert state.get(st) == OID_B


def test_size_change_is_a_miss(state: State, file: Path) -> None:
    state.put(os.stat(file), OID_A)
    with open(file, "ab") as f:
        f.write(b"!")
    assert state.get(os.stat(file)) is None


def test_mtime_change_is_a_miss(state: State, file: Path) -> None:
    st = os.stat(file)
    state.put(st, OID_A)
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert os.stat(file).st_size == st.st_size
    assert state.get(os.stat(file)) is None


def test_same_size_rewrite_in_place_is_a_miss(state: State, file: Path) -> None:
    st = os.stat(file)
    state.put(st, OID_A)
    time.sleep(0.02)  # past a coarse timestamp tick, so the ctime can move
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime, new ctime
    with open(file, "r+b") as f:
        f.write(b"HELLO")
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored by hand
    st2 = os.stat(file)
    assert (st2.st_ino, st2.st_size, st2.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert state.get(st2) is None  # the ctime gives it away


def test_only_the_exact_fields_match(state: State) -> None:
    state.put(fake_stat(7), OID_A)
    assert state.get(fake_stat(7)) == OID_A
    assert state.get(fake_stat(8)) is None
    assert state.get(fake_stat(7, size=6)) is None
    assert state.get(fake_stat(7, mtime_ns=2_000_000_002)) is None
    assert state.get(fake_stat(7, ctime_ns=3_000_000_003)) is None


def test_forget(state: State, file: Path) -> None:
    st = os.stat(file)
    state.put(st, OID_A)
    state.forget(st)
    assert state.get(st) is None
    state.forget(st)  # forgetting twice is fine


def test_survives_close_and_reopen(tmp_path: Path, file: Path) -> None:
    path = tmp_path / "state.db"
    s = State(path)
    s.put(os.stat(file), OID_A)
    s.close()
    s.close()  # closing twice is fine
    s2 = State(path)
    try:
        assert s2.get(os.stat(file)) == OID_A
    finally:
        s2.close()


def test_commit_makes_it_visible_to_another_connection(tmp_path: Path, file: Path) -> None:
    path = tmp_path / "state.db"
    a, b = State(path), State(path)
    try:
        a.put(os.stat(file), OID_A)
        a.commit()
        assert b.get(os.stat(file)) == OID_A
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("ino", [2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1])
def test_large_inodes(state: State, ino: int) -> None:
    st = fake_stat(ino)
    state.put(st, OID_A)
    assert state.get(st) == OID_A
    state.put(fake_stat(1), OID_B)  # does not collide with small inodes
    assert state.get(st) == OID_A
    assert state.get(fake_stat(1)) == OID_B
    state.forget(st)
    assert state.get(st) is None
    assert state.get(fake_stat(1)) == OID_B


def test_large_inodes_are_distinct(state: State) -> None:
    inodes = [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
    oids = [hash_bytes(str(i).encode()) for i in inodes]
    for ino, oid in zip(inodes, oids):
        state.put(fake_stat(ino), oid)
    assert [state.get(fake_stat(i)) for i in inodes] == oids


def test_stat_result_built_from_a_plain_tuple(state: State) -> None:
    # Without the *_ns fields os.stat_result reports them as None: must not crash.
    st = os.stat_result((0o100644, 2**64 - 2, 1, 1, 0, 0, 5, 1, 2, 3))
    state.put(st, OID_A)
    assert state.get(st) == OID_A


def test_same_file(file: Path, tmp_path: Path) -> None:
    st = os.stat(file)
    assert same_file(st, os.stat(file))
    other = tmp_path / "other.bin"
    other.write_bytes(b"hello")
    assert not same_file(st, os.stat(other))
    with open(file, "ab") as f:
        f.write(b"!")
    assert not same_file(st, os.stat(file))


def test_status_knows_the_pipeline_file_names() -> None:
    from git_datavc import pipeline
    from git_datavc.commands.status import PIPELINE_FILES

    assert PIPELINE_FILES == pipeline.FILES
