"""A real OpenSSH server on 127.0.0.1 for the SFTP tests (a pytest plugin module).

Registered in tests/conftest.py with ``pytest_plugins = ["tests.sshd"]``.
Needs root (users are created with useradd, sshd runs as root) and
/usr/sbin/sshd. Elsewhere the tests are skipped, except under ``CI=...``
where they fail: CI must run them.

Fixtures (see each docstring):
- ``sshd_world`` (session): the test users, their keys and the chroot folder.
- ``sshd`` (session): the main sshd (internal-sftp, chrooted).
- ``sshd_no_sftp`` (session): an sshd without any SFTP subsystem.
- ``sshd_rekeyable`` (function): an sshd of its own that can restart with
  another host key (``restart(new_host_key=True)``).
- ``chroot_dir`` (function): a factory making fresh folders in the chroot.
- ``closed_port``, ``silent_port``, ``http_port``, ``eof_port``,
  ``banner_only_port`` (function): misbehaving TCP endpoints on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.transport import FileTransport

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
HOST = "127.0.0.1"
SAMPLE_NAME = "ftp_46390_14016_full_1486140843000001.sync"
SAMPLE_BYTES = b"59767559181262060060278870901087098252 24,26,27 25,28\n" * 100


def _unavailable() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the sshd tests need root (they create users and run sshd)"
    if not os.path.exists(SSHD):
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    for tool in (SSH_KEYGEN, "useradd", "userdel", "chpasswd", "usermod"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def require_sshd() -> None:
    """Skips the test when sshd cannot run here; fails instead when ``CI`` is set."""
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the sshd tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def join_paramiko_threads(timeout: float = 30) -> None:
    """Waits until the paramiko transport threads have ended (a closed connection ends its
    thread), so that whatever they would log has been logged; ``timeout`` per thread is
    only a safety net."""
    import paramiko

    for thread in threading.enumerate():
        if isinstance(thread, paramiko.Transport):
            thread.join(timeout)


#: Tests run in parallel (pytest-xdist): each worker makes its own users, but useradd,
#: chpasswd, usermod and userdel lock /etc/passwd and fail at once when another holds it.
_ACCOUNTS_LOCK = Path(tempfile.gettempdir()) / "audiencectl-tests-accounts.lock"


@contextlib.contextmanager
def _accounts_lock() -> Iterator[None]:
    """Serializes the user-account commands between the processes of one test run."""
    with open(_ACCOUNTS_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(list(args), input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class KeyPair:
    """A client key: its private key text, public line and SHA256 fingerprint."""

    path: Path
    text: str
    public: str
    fingerprint: str


def make_key(folder: Path, name: str, *args: str) -> KeyPair:
    """``ssh-keygen -N '' ARGS`` into folder/name."""
    path = folder / name
    _run(SSH_KEYGEN, "-q", "-N", "", "-C", name, "-f", str(path), *args)
    public = Path(f"{path}.pub")
    fp = _run(SSH_KEYGEN, "-lf", str(public)).split()[1]
    return KeyPair(path, path.read_text(), public.read_text().strip(), fp)


@dataclass
class SshdWorld:
    """Users, keys and the chroot shared by every sshd of the session.

    ``chroot`` is root-owned under /srv (never /tmp: sshd refuses chroots with
    a world-writable component). Folders inside it, as the server shows them:
    ``/inbox`` (the password user's, with SAMPLE_NAME), ``/outbox`` and
    ``/empty`` (the password user's), ``/keyhome`` (the key user's),
    ``/locked`` (root, 0700: unreadable), ``/readonly`` (root, 0755, one file).
    """

    base: Path
    chroot: Path
    password_user: str
    password: str
    key_user: str
    keys: dict[str, KeyPair] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)

    def disk(self, remote: str) -> Path:
        """Where a server path (``/inbox/x``) lives on this machine."""
        return self.chroot / remote.lstrip("/")

    def make_dir(self, name: str, owner: str | None = None, mode: int = 0o755) -> Path:
        """Creates chroot/name owned by ``owner`` (default root) with ``mode``."""
        path = self.chroot / name
        path.mkdir(parents=True, exist_ok=True)
        if owner:
            info = pwd.getpwnam(owner)
            os.chown(path, info.pw_uid, info.pw_gid)
        path.chmod(mode)
        return path

    def give(self, path: Path, owner: str) -> None:
        info = pwd.getpwnam(owner)
        os.chown(path, info.pw_uid, info.pw_gid)


class Sshd:
    """One sshd process with its own config, host key and port."""

    def __init__(self, world: SshdWorld, name: str, *, sftp: bool = True) -> None:
        self.world = world
        self.name = name
        self.sftp = sftp
        self.port = free_port()
        self.folder = world.base / name
        self.folder.mkdir(mode=0o755)
        self.host_key_path = self.folder / "ssh_host_ed25519_key"
        self.config_path = self.folder / "sshd_config"
        self.pid_path = self.folder / "sshd.pid"
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self.host_key_fingerprint = ""
        self.started_once = False
        self._new_host_key()

    def _new_host_key(self) -> None:
        for path in (self.host_key_path, Path(f"{self.host_key_path}.pub")):
            path.unlink(missing_ok=True)
        _run(SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key_path))
        self.host_key_fingerprint = _run(SSH_KEYGEN, "-lf", f"{self.host_key_path}.pub").split()[1]

    def _write_config(self) -> None:
        w = self.world
        sftp = "Subsystem sftp internal-sftp\nForceCommand internal-sftp\n" if self.sftp else ""
        self.config_path.write_text(
            f"ListenAddress {HOST}\n"
            f"Port {self.port}\n"
            f"HostKey {self.host_key_path}\n"
            f"PidFile {self.pid_path}\n"
            "UsePAM no\n"
            "PasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "PermitRootLogin no\n"
            "PermitEmptyPasswords no\n"
            f"AllowUsers {w.password_user} {w.key_user}\n"
            f"AuthorizedKeysFile {w.base}/authorized_keys/%u\n"
            "StrictModes no\n"
            "AllowTcpForwarding no\n"
            "X11Forwarding no\n"
            "PrintMotd no\n"
            "MaxStartups 100:30:200\n"
            "LogLevel VERBOSE\n"
            f"{sftp}"
            f"ChrootDirectory {w.chroot}\n"
            f"\nMatch User {w.key_user}\n"
            "    PasswordAuthentication no\n"
        )

    def start(self) -> Sshd:
        """Starts sshd and waits until it listens; on a first start, a port that another
        process took meanwhile (tests run in parallel) is replaced by a fresh one."""
        for attempt in range(3):
            try:
                return self._start_once()
            except RuntimeError:
                if self.started_once or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("not reached")

    def _start_once(self) -> Sshd:
        """Starts sshd and waits until it listens (60 s at most: a safety net)."""
        self._write_config()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = []
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.proc = proc
        ready = threading.Event()
        marker = f"Server listening on {HOST} port {self.port}"

        def drain() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.log.append(line.rstrip("\n"))
                if marker in line:
                    ready.set()

        threading.Thread(target=drain, name=f"sshd-{self.name}-log", daemon=True).start()
        deadline = time.monotonic() + 60
        while not ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sshd {self.name} did not start:\n" + "\n".join(self.log))
        self.started_once = True
        return self

    def stop(self) -> None:
        """Stops sshd by its PID (and the sessions it forked, via the PID file's group)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def restart(self, *, new_host_key: bool = False) -> None:
        """Stops and starts again on the same port, with a new host key if asked."""
        self.stop()
        if new_host_key:
            self._new_host_key()
        self.start()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log[-lines:])


def _user_name(kind: str) -> str:
    return f"ac{kind}{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def sshd_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdWorld]:
    """Creates the test users (password user, key-only user), their client keys
    (``ed25519``, ``rsa`` OpenSSH, ``rsa_pem`` PEM, ``stranger`` not authorized)
    and the chroot; removes users and chroot at the end."""
    require_sshd()

    base = Path(tempfile.mkdtemp(prefix="audiencectl-sshd-"))
    base.chmod(0o755)  # the users must read their authorized_keys
    Path("/srv").mkdir(mode=0o755, exist_ok=True)
    chroot = Path(f"/srv/audiencectl-test-{secrets.token_hex(4)}")
    world = SshdWorld(
        base=base,
        chroot=chroot,
        password_user=_user_name("pw"),
        password="pw-" + secrets.token_urlsafe(12),
        key_user=_user_name("key"),
    )
    try:
        with _accounts_lock():
            for user in (world.password_user, world.key_user):
                _run("useradd", "-M", "-s", "/usr/sbin/nologin", "-d", "/", user)
                world.users.append(user)
            _run("chpasswd", stdin=f"{world.password_user}:{world.password}\n")
            _run("usermod", "-p", "*", world.key_user)  # '!' would make sshd refuse keys too

        keys = base / "keys"
        keys.mkdir(mode=0o700)
        world.keys["ed25519"] = make_key(keys, "id_ed25519", "-t", "ed25519")
        world.keys["rsa"] = make_key(keys, "id_rsa", "-t", "rsa", "-b", "2048")
        world.keys["rsa_pem"] = make_key(keys, "id_rsa_pem", "-t", "rsa", "-b", "2048", "-m", "PEM")
        world.keys["stranger"] = make_key(keys, "id_stranger", "-t", "ed25519")
        authorized = base / "authorized_keys"
        authorized.mkdir(mode=0o755)
        lines = "".join(world.keys[k].public + "\n" for k in ("ed25519", "rsa", "rsa_pem"))
        for user in (world.password_user, world.key_user):
            (authorized / user).write_text(lines)
            (authorized / user).chmod(0o644)

        chroot.mkdir(mode=0o755)
        chroot.chmod(0o755)
        inbox = world.make_dir("inbox", world.password_user)
        sample = inbox / SAMPLE_NAME
        sample.write_bytes(SAMPLE_BYTES)
        world.give(sample, world.password_user)
        world.make_dir("outbox", world.password_user)
        world.make_dir("empty", world.password_user)
        world.make_dir("keyhome", world.key_user)
        world.make_dir("locked", None, 0o700)
        readonly = world.make_dir("readonly", None, 0o755)
        (readonly / "readme.sync").write_bytes(b"1 2\n")
        yield world
    finally:
        with _accounts_lock():
            for user in world.users:
                subprocess.run(["userdel", user], capture_output=True, check=False)
        shutil.rmtree(chroot, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd(sshd_world: SshdWorld) -> Iterator[Sshd]:
    """The main sshd: internal-sftp, ForceCommand internal-sftp, chrooted."""
    server = Sshd(sshd_world, "main").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sshd_no_sftp(sshd_world: SshdWorld) -> Iterator[Sshd]:
    """An sshd without the Subsystem line (and no ForceCommand): SFTP is refused."""
    server = Sshd(sshd_world, "nosftp", sftp=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sshd_rekeyable(sshd_world: SshdWorld) -> Iterator[Sshd]:
    """An sshd of this test's own; ``restart(new_host_key=True)`` changes its host key."""
    server = Sshd(sshd_world, f"rekey-{secrets.token_hex(3)}").start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def chroot_dir(sshd_world: SshdWorld) -> Iterator[Callable[..., str]]:
    """``make(owner=None, mode=0o755) -> "/name"``: a fresh folder in the chroot
    (owned by the password user unless ``owner`` says otherwise); returns its
    path as the server shows it. Removed after the test."""
    made: list[Path] = []

    def make(owner: str | None = None, mode: int = 0o755) -> str:
        name = f"work-{secrets.token_hex(4)}"
        made.append(sshd_world.make_dir(name, owner or sshd_world.password_user, mode))
        return "/" + name

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


class _Listener:
    """A TCP server on 127.0.0.1 whose behaviour on accept is given by ``on_accept``."""

    def __init__(self, on_accept: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self.on_accept = on_accept
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="test-listener", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)
            with contextlib.suppress(OSError):
                self.on_accept(conn)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()
        for conn in self.held:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections and never writes a byte."""
    listener = _Listener(lambda conn: None)
    yield listener.port
    listener.close()


@pytest.fixture
def http_port() -> Iterator[int]:
    """Answers ``HTTP/1.1 400 Bad Request`` right away and closes."""

    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    listener = _Listener(answer)
    yield listener.port
    listener.close()


@pytest.fixture
def eof_port() -> Iterator[int]:
    """Accepts and closes at once (what a ban or MaxStartups looks like)."""
    listener = _Listener(lambda conn: conn.close())
    yield listener.port
    listener.close()


@pytest.fixture
def banner_only_port() -> Iterator[int]:
    """Sends an SSH banner, then nothing (a server stuck before the key exchange)."""
    listener = _Listener(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.2 stuck\r\n"))
    yield listener.port
    listener.close()


@pytest.fixture
def sftp_files(
    sshd: Sshd, sshd_world: SshdWorld, chroot_dir: Callable[..., str]
) -> Iterator[tuple[FileTransport, Path]]:
    """A transport on a fresh folder of the password user, and that folder on disk."""
    from core.hostkeys import HostKeyCheck, MemoryHostKeyStore
    from core.model import Account, Role
    from core.probe import Credentials
    from core.transport import open_transport

    folder = chroot_dir()
    account = Account(
        role=Role.EXPORT,
        host=HOST,
        port=sshd.port,
        user=sshd_world.password_user,
        remote_dir=folder,
    )
    check = HostKeyCheck(MemoryHostKeyStore(), trust_new=True)
    with open_transport(account, Credentials(password=sshd_world.password), check, 5) as files:
        yield files, sshd_world.disk(folder)
