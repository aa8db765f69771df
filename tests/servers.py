"""Real storage servers for remote tests, started on 127.0.0.1 by the tests themselves.

- `MotoServer`: moto's S3-compatible HTTP server (`python -m moto.server`) in a subprocess,
  so killing it is a real fault (state is in memory: a restart starts empty).
- `SSHServer`: OpenSSH `sshd -D` with a temporary host key, an authorised temporary client
  key, `UsePAM no`, `StrictModes no`; stopping it also kills its per-connection children.

Use them through the session fixtures `moto_server` and `sshd_server` (import this module
or list it in `pytest_plugins`), or make a private one for tests that stop a server.
`aws_env` keeps the machine's AWS configuration out of the tests.
"""

from __future__ import annotations

import getpass
import shutil
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

SSHD = "/usr/sbin/sshd"
AWS_KEY, AWS_SECRET = "testing", "testing"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path,
                  timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first found last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


class MotoServer:
    def __init__(self, workdir: Path, port: int = 0, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.workdir / f"moto-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
            env={**os.environ, **self.env})
        wait_for_port(self.port, self.proc, "moto server", log)

    def stop(self) -> None:
        if self.proc is not None:
            _kill_tree(self.proc)
            self.proc = None

    def client(self, key: str = AWS_KEY, secret: str = AWS_SECRET) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret)

    def make_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def remote_values(self, name: str, url: str) -> dict[str, str]:
        """Settings values of a remote `name` on this server."""
        return {f"remote.{name}.url": url, f"remote.{name}.endpointurl": self.endpoint,
                f"remote.{name}.accesskeyid": AWS_KEY,
                f"remote.{name}.secretaccesskey": AWS_SECRET,
                f"remote.{name}.region": "us-east-1"}


def start_moto_with_auth(workdir: Path, bucket: str) -> tuple[MotoServer, str, str]:
    """A moto server that checks credentials (after the 4 requests that create them), with
    one IAM user allowed everything and `bucket` made; returns (server, key id, secret)."""
    import json

    import boto3

    server = MotoServer(workdir, env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"})
    server.start()
    iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="ci")
    iam.put_user_policy(UserName="ci", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    server.client(key["AccessKeyId"], key["SecretAccessKey"]).create_bucket(Bucket=bucket)
    return server, key["AccessKeyId"], key["SecretAccessKey"]


class SSHServer:
    def __init__(self, workdir: Path, port: int = 0) -> None:
        if not os.path.exists(SSHD):
            raise RuntimeError(f"{SSHD} is missing: install openssh-server (.ci/run does)")
        self.workdir = workdir
        self.port = port or free_port()
        self.user = getpass.getuser()
        self.host_key = workdir / "host_ed25519"
        self.client_key = workdir / "client_ed25519"
        self.known_hosts = workdir / "known_hosts"
        self.config = workdir / "sshd_config"
        self.proc: subprocess.Popen[bytes] | None = None
        self._setup()

    def _setup(self) -> None:
        for key in (self.host_key, self.client_key):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                               check=True)
        (self.workdir / "authorized_keys").write_text(
            Path(f"{self.client_key}.pub").read_text())
        host_pub = " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub}\n")
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
            f"PidFile {self.workdir / 'sshd.pid'}", "UsePAM no", "StrictModes no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp",     # MaxSessions, MaxStartups: the stock ones
            "LogLevel ERROR", ""]))
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # privilege separation dir

    def start(self) -> None:
        log = self.workdir / "sshd.log"
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
        wait_for_port(self.port, self.proc, "sshd", log)

    def stop(self) -> None:
        if self.proc is not None:
            _kill_tree(self.proc)
            self.proc = None

    def remote_values(self, name: str, path: Path) -> dict[str, str]:
        return {f"remote.{name}.url": f"ssh://{self.user}@127.0.0.1:{self.port}{path}",
                f"remote.{name}.keyfile": str(self.client_key),
                f"remote.{name}.knownhostsfile": str(self.known_hosts)}


class WatchmanServer:
    """A Watchman daemon of the tests' own (its socket, state and log in `workdir`); the
    client finds it through WATCHMAN_SOCK."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("watchman")
        if exe is None:
            raise RuntimeError("watchman is missing: install it (.ci/run does: apt watchman)")
        self.exe = exe
        self.workdir = workdir
        self.sock = str(workdir / "sock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.workdir / "watchman.log"
        self.proc = subprocess.Popen(
            [self.exe, "--foreground", f"--sockname={self.sock}", "--no-save-state",
             f"--statefile={self.workdir / 'state'}", f"--logfile={log}",
             f"--pidfile={self.workdir / 'pid'}"],
            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"watchman exited: {log.read_text()[-2000:]}")
            ping = subprocess.run([self.exe, f"--sockname={self.sock}", "--no-spawn",
                                   "version"], capture_output=True)
            if ping.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"watchman did not answer: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            _kill_tree(self.proc)
            self.proc = None


def _serving(server: Any) -> Iterator[Any]:
    """A session fixture's body: the server started, then stopped whatever happened."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def watchman_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WatchmanServer]:
    yield from _serving(WatchmanServer(tmp_path_factory.mktemp("watchman")))


@pytest.fixture
def watchman_server(watchman_daemon: WatchmanServer,
                    monkeypatch: pytest.MonkeyPatch) -> WatchmanServer:
    """The tests' Watchman, found by every `watchman` client the test runs."""
    monkeypatch.setenv("WATCHMAN_SOCK", watchman_daemon.sock)
    return watchman_daemon


@pytest.fixture(autouse=False)
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS settings of the machine: no env credentials, no ~/.aws files."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from _serving(MotoServer(tmp_path_factory.mktemp("moto")))


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    yield from _serving(SSHServer(tmp_path_factory.mktemp("sshd")))
