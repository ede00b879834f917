"""The SFTP probe: ``dns``, ``tcp``, ``banner``, ``hostkey``, ``auth``, ``sftp``, ``list``,
then ``read`` (import account) or ``write`` (export account).

The connection steps are also used by ``core.transport`` (as ``SshSession``)
so that transfers meet the same checks, the same host key policy included.
paramiko's loggers are silenced: a probe never prints.
"""

from __future__ import annotations

import logging
import posixpath
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from core.errors import AudienceError, InputError
from core.hostkeys import HostKey, HostKeyChanged, HostKeyCheck, HostKeyUnknown, fingerprint
from core.model import Account, Role
from core.probe.common import (
    H_DROPPED,
    H_WRITE,
    PROBE_PAYLOAD,
    READ_LIMIT,
    Credentials,
    Outcome,
    StageError,
    StageRunner,
    StageStatus,
    addr_text,
    connect_tcp,
    probe_names,
    resolve,
    secs,
)
from core.text import printable_name

NETWORK_STAGES: tuple[str, ...] = ("dns", "tcp", "banner", "hostkey", "auth", "sftp")
IMPORT_STAGES: tuple[str, ...] = (*NETWORK_STAGES, "list", "read")
EXPORT_STAGES: tuple[str, ...] = (*NETWORK_STAGES, "list", "write")


def quiet_paramiko() -> None:
    """Keeps paramiko's log records (tracebacks included) off stderr: a NullHandler
    on the ``paramiko`` logger and no propagation to the root logger."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


quiet_paramiko()

H_SILENT = "accepts TCP but never speaks SSH: not an SSH port, a proxy or an overloaded server"
H_OTHER_SERVICE = "wrong port, that is an HTTP/other service"
H_EOF = "closed right after connecting: banned (fail2ban/MaxStartups) or IP not allow-listed"
H_KEYS_ONLY = "this account accepts only keys: configure a private key"
H_BAD_PASSWORD = "wrong user name or password (the server does not say which)"
H_UNKNOWN_KEY = "the server does not know this key: send Adobe the public key"
H_NO_SFTP = "no SFTP subsystem: shell/SCP-only account"

_OTHER_PROTOCOL = ("HTTP/", "<", "220 ", "220-", "+OK", "* OK", "500 ", "421 ")


def read_banner(sock: socket.socket, timeout: float) -> str:
    """Waits for the server's SSH identification line without consuming it (MSG_PEEK),
    so paramiko reads it again; returns the line. StageError when it never comes."""
    deadline = time.monotonic() + timeout
    seen = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if seen:
                raise StageError(
                    f"the server sent {_shorten(seen)!r} but no SSH banner", H_OTHER_SERVICE
                )
            raise StageError(
                f"the server accepted TCP but sent nothing in {secs(timeout)}", H_SILENT
            )
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(8192, socket.MSG_PEEK)
        except TimeoutError:
            continue
        except ConnectionResetError:
            raise StageError("the connection was reset by the server", H_OTHER_SERVICE) from None
        except OSError as exc:
            raise StageError(f"error while waiting for the banner: {exc}", H_DROPPED) from None
        if not chunk:
            raise StageError("the server closed the connection without a word", H_EOF)
        lines = chunk.split(b"\n")
        for number, raw in enumerate(lines[:-1]):
            text = raw.rstrip(b"\r").decode("utf-8", "replace")
            if text.startswith("SSH-"):
                if not text.startswith(("SSH-2.0-", "SSH-1.99-")):
                    raise StageError(
                        f"the server speaks only SSH protocol 1 ({text})",
                        "a legacy server: SSH-1 is insecure and not supported",
                    )
                return text
            if number == 0 and text.startswith(_OTHER_PROTOCOL):
                raise StageError(f"the server answered {_shorten(raw)!r}, not SSH", H_OTHER_SERVICE)
        if len(chunk) >= 8192 or len(lines) > 20:
            raise StageError(f"the server sent {_shorten(chunk)!r}, not SSH", H_OTHER_SERVICE)
        if chunk == seen:
            time.sleep(0.02)  # partial line: wait for more without spinning
        seen = chunk


def _shorten(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "replace").replace("\r", "").split("\n")[0]
    return text if len(text) <= limit else text[:limit] + "…"


def handshake(sock: socket.socket, timeout: float) -> paramiko.Transport:
    """Starts an SSH client transport on ``sock`` (key exchange); every paramiko
    timeout is set to ``timeout``. The caller closes the transport."""
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    transport.auth_timeout = timeout
    done = threading.Event()
    try:
        transport.start_client(event=done)
    except paramiko.SSHException as exc:
        transport.close()
        raise StageError(f"SSH negotiation failed: {exc}", H_DROPPED) from None
    started = time.monotonic()
    deadline = started + timeout
    while not done.is_set() and transport.is_active() and time.monotonic() < deadline:
        done.wait(0.05)
    if transport.is_active() and done.is_set():
        return transport
    error = transport.get_exception()
    transport.close()
    timed_out = time.monotonic() - started >= timeout * 0.95
    if (error is None and not done.is_set()) or (timed_out and isinstance(error, EOFError)):
        # paramiko reports its own handshake timeout as EOFError
        raise StageError(
            f"the key exchange did not finish within {secs(timeout)}",
            "the server stopped answering after its banner: an overloaded server or a proxy",
        )
    if isinstance(error, paramiko.IncompatiblePeer):
        raise StageError(
            f"no algorithm in common with the server: {error}",
            "a legacy server: paramiko 5 no longer speaks ssh-rsa (SHA-1), DSA or SHA-1 key "
            "exchange; ask Adobe for a modern endpoint",
        )
    context = getattr(error, "__context__", None)
    if isinstance(error, EOFError) or isinstance(context, EOFError):
        raise StageError("the server closed the connection during the key exchange", H_EOF)
    if isinstance(context, ConnectionResetError):
        raise StageError("the connection was reset during the key exchange", H_OTHER_SERVICE)
    if isinstance(context, TimeoutError):
        raise StageError("the server stopped answering during the key exchange", H_SILENT)
    raise StageError(f"SSH negotiation failed: {error or 'connection closed'}", H_DROPPED)


def server_host_key(transport: paramiko.Transport) -> HostKey:
    """The fingerprint of the key the server proved it holds."""
    return fingerprint(transport.get_remote_server_key())


def authenticate(transport: paramiko.Transport, user: str, creds: Credentials) -> str:
    """Logs in with the configured credential only (never an agent or local keys).

    ``auth_none`` first learns which methods the server allows; returns a detail
    line on success and raises StageError with the matching hint otherwise.
    """
    if not user:
        raise StageError("no user name configured", "set the account's user")
    try:
        key = creds.load_private_key()
    except InputError as exc:
        raise StageError(exc.message, exc.hint) from None
    if key is None and not creds.password:
        raise StageError(
            "no password or private key configured",
            "configure the account's private key (recommended) or password",
        )
    try:
        try:
            transport.auth_none(user)
            return "the server let this user in without any credential"
        except paramiko.BadAuthenticationType as exc:
            allowed = list(exc.allowed_types)
        except paramiko.AuthenticationException:
            allowed = ["publickey", "password"]
        refused: list[str] = []
        if key is not None:
            key_fp = fingerprint(key)
            if "publickey" in allowed:
                try:
                    remaining = transport.auth_publickey(user, key)
                except paramiko.AuthenticationException:
                    refused.append("key")
                else:
                    if not remaining:
                        return f"public key accepted ({key_fp.key_type} {key_fp.fingerprint})"
                    allowed = list(remaining)
            elif not creds.password:
                raise StageError(
                    f"the server does not accept keys for {user} (it accepts: "
                    f"{', '.join(allowed) or 'nothing'})",
                    "configure the account's password instead of a key",
                )
        if creds.password:
            if "password" in allowed:
                try:
                    transport.auth_password(user, creds.password, fallback=False)
                    return "password accepted"
                except paramiko.BadAuthenticationType:
                    pass
                except paramiko.AuthenticationException:
                    refused.append("password")
            elif "keyboard-interactive" in allowed:
                try:
                    transport.auth_interactive(user, _answer_with(creds.password))
                    return "password accepted (keyboard-interactive)"
                except paramiko.AuthenticationException:
                    refused.append("password")
            elif not refused:
                raise StageError(
                    f"a password was offered, but the server accepts only: {', '.join(allowed)}",
                    H_KEYS_ONLY,
                )
        if refused == ["key"]:
            raise StageError(
                f"the server refused the key {key_fp.fingerprint} for {user}", H_UNKNOWN_KEY
            )
        if refused == ["password"]:
            raise StageError(
                f"the server refused the user name or password ({user})", H_BAD_PASSWORD
            )
        if refused:
            raise StageError(
                f"the server refused both the key and the password for {user}",
                f"{H_BAD_PASSWORD}; {H_UNKNOWN_KEY}",
            )
        raise StageError(
            f"the server accepts only: {', '.join(allowed)}", "configure a credential of that kind"
        )
    except paramiko.SSHException as exc:
        if "No existing session" in str(exc):
            raise StageError(
                "the server closed the session during authentication",
                "too many authentication attempts (MaxAuthTries) or an account lock",
            ) from None
        raise StageError(f"authentication failed: {exc}", H_DROPPED) from None
    except (EOFError, OSError) as exc:
        raise StageError(
            f"the connection dropped during authentication: {exc}", H_DROPPED
        ) from None


def _answer_with(password: str) -> Callable[[str, str, list[tuple[str, bool]]], list[str]]:
    def handler(_title: str, _instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
        return [password if not echo else "" for _prompt, echo in prompts]

    return handler


def open_sftp(transport: paramiko.Transport, timeout: float) -> paramiko.SFTPClient:
    """Opens the SFTP subsystem; its channel times out after ``timeout`` so every
    later SFTP call is bounded."""
    try:
        channel = transport.open_session(timeout=timeout)
        channel.settimeout(timeout)
        channel.invoke_subsystem("sftp")
        return paramiko.SFTPClient(channel)
    except paramiko.SSHException as exc:
        if "Channel closed" in str(exc) or "request failed" in str(exc).lower():
            raise StageError("the server refused the SFTP subsystem", H_NO_SFTP) from None
        raise StageError(f"cannot start SFTP: {exc}", H_DROPPED) from None
    except TimeoutError:
        raise StageError(
            f"the SFTP subsystem did not answer within {secs(timeout)}", H_DROPPED
        ) from None
    except (EOFError, OSError) as exc:
        raise StageError(f"the connection dropped while starting SFTP: {exc}", H_DROPPED) from None


class SshSession:
    """One SFTP connection: socket, transport and SFTP client, closed together.

    Not thread-safe: use one session per thread.
    """

    def __init__(self, account: Account, timeout: float) -> None:
        self.account = account
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.transport: paramiko.Transport | None = None
        self.sftp: paramiko.SFTPClient | None = None
        self.banner = ""
        self.host_key: HostKey | None = None
        self.host_key_note = ""
        self.aborted = False

    def connect(self, creds: Credentials, hostkeys: HostKeyCheck) -> None:
        """All steps at once; StageError, HostKeyChanged or HostKeyUnknown on failure."""
        addrs = resolve(self.account.host, self.account.port, self.timeout)
        self.sock = connect_tcp(addrs, self.account.port, self.timeout)
        with self.watchdog():
            self.banner = read_banner(self.sock, self.timeout)
        with self.watchdog():
            self.transport = handshake(self.sock, self.timeout)
        self.check_host_key(hostkeys)
        with self.watchdog():
            authenticate(self.transport, self.account.user, creds)
        with self.watchdog():
            self.sftp = open_sftp(self.transport, self.timeout)

    def check_host_key(self, hostkeys: HostKeyCheck) -> str:
        assert self.transport is not None
        self.host_key = server_host_key(self.transport)
        self.host_key_note = hostkeys.check(self.account.host, self.account.port, self.host_key)
        return self.host_key_note

    @contextmanager
    def watchdog(self, seconds: float | None = None) -> Iterator[None]:
        """Aborts the connection when the block outlives ``seconds`` (default timeout + 1 s):
        a last resort for paramiko calls that have no timeout of their own."""
        timer = threading.Timer(seconds or self.timeout + 1.0, self.abort)
        timer.daemon = True
        timer.start()
        try:
            yield
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self.aborted:
                raise StageError(f"no answer within {secs(self.timeout)}", H_DROPPED) from exc
            raise
        finally:
            timer.cancel()

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def close(self) -> None:
        """Closes SFTP, transport and socket; never raises."""
        for thing in (self.sftp, self.transport, self.sock):
            if thing is not None:
                with suppress(Exception):
                    thing.close()


def probe_sftp(
    account: Account,
    creds: Credentials,
    hostkeys: HostKeyCheck,
    runner: StageRunner,
    timeout: float,
) -> tuple[HostKey | None, AudienceError | None]:
    """Runs the SFTP stages of ``account`` through ``runner``; returns the host key the
    server presented (None if not reached) and the host key policy's error, if any.
    The write stage leaves nothing behind; socket and transport are always closed."""
    folder_stage = "read" if account.role is Role.IMPORT else "write"
    box: dict[str, Any] = {}
    session = SshSession(account, timeout)
    error_box: dict[str, AudienceError] = {}

    def dns() -> Outcome:
        if not account.host:
            raise StageError("no host configured", "set the account's host, e.g. sftp.example.net")
        box["addrs"] = resolve(account.host, account.port, timeout)
        return Outcome(f"{account.host} → {addr_text(box['addrs'])}")

    def tcp() -> Outcome:
        session.sock = connect_tcp(box["addrs"], account.port, timeout)
        peer = session.sock.getpeername()
        return Outcome(f"connected to {peer[0]} port {peer[1]}")

    def banner() -> Outcome:
        assert session.sock is not None
        with session.watchdog():
            session.banner = read_banner(session.sock, timeout)
        return Outcome(session.banner)

    def hostkey() -> Outcome:
        assert session.sock is not None
        with session.watchdog():
            session.transport = handshake(session.sock, timeout)
        try:
            note = session.check_host_key(hostkeys)
        except (HostKeyChanged, HostKeyUnknown) as exc:
            error_box["error"] = exc
            raise
        key = session.host_key
        assert key is not None
        return Outcome(f"{key.key_type} {key.fingerprint}: {note}")

    def auth() -> Outcome:
        assert session.transport is not None
        with session.watchdog():
            detail = authenticate(session.transport, account.user, creds)
        status: StageStatus = "warn" if "without any credential" in detail else "pass"
        return Outcome(detail, status)

    def sftp() -> Outcome:
        assert session.transport is not None
        with session.watchdog():
            session.sftp = open_sftp(session.transport, timeout)
            box["home"] = _home(session.sftp)
        return Outcome(f"SFTP started; the session starts in {box['home']}")

    def listing() -> Outcome:
        assert session.sftp is not None
        with session.watchdog():
            return _sftp_list(session.sftp, account.remote_dir or ".", box)

    def read() -> Outcome:
        assert session.sftp is not None
        with session.watchdog():
            return _sftp_read(session.sftp, account.remote_dir or ".", box)

    def write() -> Outcome:
        assert session.sftp is not None
        with session.watchdog(timeout * 4 + 1.0):
            return _sftp_write(session.sftp, account.remote_dir or ".")

    try:
        runner.run("dns", dns)
        runner.run("tcp", tcp)
        runner.run("banner", banner)
        runner.run("hostkey", hostkey)
        runner.run("auth", auth)
        runner.run("sftp", sftp)
        runner.run("list", listing)
        runner.saw(box)
        runner.run(folder_stage, read if folder_stage == "read" else write)
    finally:
        session.close()
    return session.host_key, error_box.get("error")


def _home(sftp: paramiko.SFTPClient) -> str:
    try:
        return sftp.normalize(".")
    except (OSError, paramiko.SSHException):
        return "?"


# ----------------------------------------------------------------- folder stages


def raw_entries(
    sftp: paramiko.SFTPClient, path: str
) -> Iterator[tuple[bytes, paramiko.SFTPAttributes]]:
    """The folder's entries with their names as bytes: paramiko's ``listdir_iter`` decodes
    names as UTF-8 and raises on a Latin-1 name, which would break the listing."""
    kind, msg = sftp._request(CMD_OPENDIR, path)
    if kind != CMD_HANDLE or msg is None:
        raise StageError(f"cannot list {path}: unexpected server reply", H_DROPPED)
    handle = msg.get_binary()
    try:
        while True:
            try:
                kind, msg = sftp._request(CMD_READDIR, handle)
            except EOFError:
                return
            if kind != CMD_NAME or msg is None:
                raise StageError(f"cannot list {path}: unexpected server reply", H_DROPPED)
            for _ in range(msg.get_int()):
                raw = msg.get_string()
                msg.get_string()  # longname
                attr = paramiko.SFTPAttributes._from_msg(msg)
                if raw not in (b".", b".."):
                    yield raw, attr
    finally:
        with suppress(Exception):
            sftp._request(CMD_CLOSE, handle)


def _sftp_list(sftp: paramiko.SFTPClient, folder: str, box: dict[str, Any]) -> Outcome:

    home = box.get("home") or _home(sftp)
    files: list[tuple[str, int, float]] = []
    raw_names: dict[str, bytes] = {}
    dirs: list[str] = []
    others = 0
    try:
        for count, (raw, attr) in enumerate(raw_entries(sftp, folder), start=1):
            if count > 100_000:
                raise StageError(
                    f"{folder} lists more than 100 000 entries",
                    "endless listing: a broken server or the wrong folder",
                )
            if attr.st_mode is not None and stat.S_ISREG(attr.st_mode):
                name = printable_name(raw)  # shown escaped when not UTF-8 (issue 17)
                raw_names[name] = raw
                files.append((name, attr.st_size or 0, float(attr.st_mtime or 0)))
            else:
                others += 1
                if attr.st_mode is not None and stat.S_ISDIR(attr.st_mode):
                    dirs.append(printable_name(raw))
    except FileNotFoundError:
        raise StageError(
            f"the folder {folder} does not exist (the session starts in {home})",
            "folder missing: check remote_dir; a chroot changes absolute paths, so give "
            f"the path as this server shows it (relative to {home})",
        ) from None
    except PermissionError:
        raise StageError(
            f"permission denied listing {folder}",
            "permission denied: ask Adobe to grant this account access to the "
            "folder, or check remote_dir",
        ) from None
    except TimeoutError:
        raise StageError(f"listing {folder} got no answer within the timeout", H_DROPPED) from None
    except OSError as exc:
        raise StageError(f"cannot list {folder}: {exc}", "check remote_dir") from None
    box["files"] = files
    box["dirs"] = dirs
    box["raw_names"] = raw_names
    where = sftp.normalize(folder) if folder == "." else folder
    return Outcome(f"{where}: {len(files)} files, {others} other entries")


def _sftp_read(sftp: paramiko.SFTPClient, folder: str, box: dict[str, Any]) -> Outcome:
    files: list[tuple[str, int, float]] = box.get("files", [])
    if not files:
        return Outcome("the folder is empty; it could be listed, so it is readable")
    name, _size, _mtime = max(files, key=lambda f: (f[2], f[0]))
    raw = box.get("raw_names", {}).get(name, name.encode("utf-8", "surrogateescape"))
    path = posixpath.join(folder.encode("utf-8"), raw)
    try:
        attr = sftp.stat(path)
        with sftp.open(path, "rb") as handle:
            data = handle.read(READ_LIMIT)
    except PermissionError:
        raise StageError(
            f"permission denied reading {name}",
            "the account can list but not read the files: ask Adobe to fix the file permissions",
        ) from None
    except FileNotFoundError:
        raise StageError(
            f"{name} disappeared before it could be read", "another client moved it; probe again"
        ) from None
    except TimeoutError:
        raise StageError(f"reading {name} got no answer within the timeout", H_DROPPED) from None
    except OSError as exc:
        raise StageError(f"cannot read {name}: {exc}", H_DROPPED) from None
    when = datetime.fromtimestamp(attr.st_mtime or 0, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Outcome(
        f"read {len(data)} bytes of the newest file {name} ({attr.st_size} bytes, modified {when})"
    )


def _sftp_write(sftp: paramiko.SFTPClient, folder: str) -> Outcome:
    first, second = probe_names()
    paths = [posixpath.join(folder, first), posixpath.join(folder, second)]
    created = False
    renamed = False
    status: StageStatus = "pass"
    note = ""
    try:
        try:
            handle = sftp.open(paths[0], "wb")
        except PermissionError:
            raise StageError(f"permission denied creating a file in {folder}", H_WRITE) from None
        created = True
        with handle:
            handle.write(PROBE_PAYLOAD)
        size = sftp.stat(paths[0]).st_size
        if size != len(PROBE_PAYLOAD):
            raise StageError(
                f"the probe file has {size} bytes instead of {len(PROBE_PAYLOAD)}",
                "the server truncates uploads: disk full or quota?",
            )
        try:
            sftp.posix_rename(paths[0], paths[1])
        except OSError as exc:
            if "unsupported" not in str(exc).lower():
                raise
            sftp.rename(paths[0], paths[1])
            status = "warn"
            note = "; the server lacks posix-rename, so a plain rename was used"
        renamed = True
        sftp.remove(paths[1])
        created = False
    except StageError:
        raise
    except PermissionError:
        step = "delete" if renamed else "rename"
        raise StageError(
            f"permission denied: the probe file could be created but not {step}d",
            "the account must be allowed to rename and delete its own files",
        ) from None
    except TimeoutError:
        raise StageError("the write test got no answer within the timeout", H_DROPPED) from None
    except OSError as exc:
        raise StageError(f"the write test failed: {exc}", H_WRITE) from None
    finally:
        if created:
            left = _sftp_cleanup(sftp, paths)
            if left:
                note = f"; could not delete {', '.join(left)}: delete it by hand"
    return Outcome(
        f"created, renamed and deleted a {len(PROBE_PAYLOAD)}-byte probe file in {folder}{note}",
        status,
    )


def _sftp_cleanup(sftp: paramiko.SFTPClient, paths: list[str]) -> list[str]:
    left: list[str] = []
    for path in paths:
        try:
            sftp.remove(path)
        except FileNotFoundError:
            pass
        except Exception:
            try:
                sftp.stat(path)
            except FileNotFoundError:
                continue
            except Exception:
                pass
            left.append(path)
    return left
