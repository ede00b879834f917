"""Probing an account stage by stage: where exactly does the SFTP connection break?

``probe()`` runs ``dns``, ``tcp``, ``banner``, ``hostkey``, ``auth``, ``sftp``,
``list`` and then ``read`` (import account) or ``write`` (export account), each
separately timed and bounded by ``timeout``. Every failure becomes a stage
with a detail (what happened) and a hint (what the admin should do); after the
first failure the remaining stages are ``skip``. The probe never raises for a
server-side problem and never prints: paramiko's loggers are silenced.

The connection steps are also used by ``core.transport`` (as ``SshSession``)
so that transfers meet the same checks, the same host key policy included.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from core import clock
from core.errors import AudienceError, InputError
from core.hostkeys import HostKey, HostKeyChanged, HostKeyCheck, HostKeyUnknown, fingerprint
from core.model import Account, AccountType, Role

StageStatus = Literal["pass", "fail", "warn", "skip"]

NETWORK_STAGES: tuple[str, ...] = ("dns", "tcp", "banner", "hostkey", "auth", "sftp")
IMPORT_STAGES: tuple[str, ...] = (*NETWORK_STAGES, "list", "read")
EXPORT_STAGES: tuple[str, ...] = (*NETWORK_STAGES, "list", "write")
READ_LIMIT = 64 * 1024
PROBE_PREFIX = ".audiencectl-probe-"
_MASK = "••••••"


def quiet_paramiko() -> None:
    """Keeps paramiko's log records (tracebacks included) off stderr: a NullHandler
    on the ``paramiko`` logger and no propagation to the root logger."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


quiet_paramiko()


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Credentials:
    """The secrets of one account, already resolved by the caller.

    ``private_key`` is the key's text (OpenSSH or PEM; RSA, ECDSA or Ed25519).
    ``repr`` and ``str`` never show a value, only which ones are set.
    """

    password: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    passphrase: str = field(default="", repr=False)

    def __repr__(self) -> str:
        def shown(value: str) -> str:
            return _MASK if value else "<none>"

        return (
            f"Credentials(password={shown(self.password)}, "
            f"private_key={shown(self.private_key)}, passphrase={shown(self.passphrase)})"
        )

    __str__ = __repr__

    def load_private_key(self) -> paramiko.PKey | None:
        """The private key as a paramiko key, or None when none is configured.

        Raises ``InputError`` when the text is not a usable key or the passphrase
        is missing or wrong.
        """
        text = self.private_key.strip()
        if not text:
            return None
        text += "\n"
        data = text.encode("utf-8", "replace")
        password = self.passphrase.encode() if self.passphrase else None
        loaded = _load_crypto_key(data, password)
        if loaded is None and password is not None:
            # A passphrase configured for a key that is not encrypted: ignore it.
            try:
                loaded = _load_crypto_key(data, None)
            except _PassphraseNeeded:
                raise InputError(
                    "cannot decrypt the private key", "the passphrase is wrong"
                ) from None
            password = None
        if loaded is None:
            raise InputError(
                "cannot read the private key",
                "wrong passphrase, or not an OpenSSH/PEM RSA, ECDSA or Ed25519 private key",
            )
        key_class: type[paramiko.PKey]
        if isinstance(loaded, rsa.RSAPrivateKey):
            key_class = paramiko.RSAKey
        elif isinstance(loaded, ed25519.Ed25519PrivateKey):
            key_class = paramiko.Ed25519Key
        elif isinstance(loaded, ec.EllipticCurvePrivateKey):
            key_class = paramiko.ECDSAKey
        else:
            raise InputError(
                f"unsupported private key type ({type(loaded).__name__})",
                "use an Ed25519, ECDSA or RSA key (DSA is no longer supported)",
            )
        try:
            return key_class.from_private_key(
                io.StringIO(text), password=password.decode() if password else None
            )
        except (paramiko.SSHException, ValueError, TypeError) as exc:
            raise InputError(
                f"cannot read the private key: {exc}",
                "use an OpenSSH or PEM key; Ed25519 keys must be in OpenSSH format",
            ) from None


class _PassphraseNeeded(InputError):
    pass


def _load_crypto_key(data: bytes, password: bytes | None) -> Any | None:
    """The cryptography key object, or None when the data or passphrase does not fit."""
    for loader in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            return loader(data, password)
        except TypeError as exc:
            text = str(exc).lower()
            if password is None and ("encrypted" in text or "password-protected" in text):
                raise _PassphraseNeeded(
                    "the private key is encrypted", "configure private_key_passphrase"
                ) from None
            continue
        except (ValueError, UnsupportedAlgorithm):
            continue
    return None


@dataclass(frozen=True)
class StageResult:
    """One probe stage: ``status`` is pass, fail, warn or skip; ``ms`` its duration."""

    name: str
    status: StageStatus
    ms: int = 0
    detail: str = ""
    hint: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "ms": self.ms,
            "detail": self.detail,
            "hint": self.hint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageResult:
        return cls(
            name=str(data["name"]),
            status=data["status"],
            ms=int(data.get("ms", 0)),
            detail=str(data.get("detail", "")),
            hint=str(data.get("hint", "")),
        )


@dataclass(frozen=True)
class ProbeReport:
    """The result of one probe.

    ``ok`` is True when no stage failed and the probe was not cancelled.
    ``host_key`` is the key the server presented (None when the probe did not
    get that far, or for local accounts). ``host_key_error`` keeps the
    ``HostKeyUnknown`` / ``HostKeyChanged`` raised by the policy, so a front
    end can ask for confirmation and retry; it is not part of the JSON.
    """

    role: Role
    ok: bool
    host_key: HostKey | None
    stages: tuple[StageResult, ...]
    started_at: datetime
    endpoint: str = ""
    host_key_error: AudienceError | None = field(default=None, compare=False, repr=False)

    def stage(self, name: str) -> StageResult | None:
        """The stage called ``name``, if the probe has it."""
        return next((s for s in self.stages if s.name == name), None)

    @property
    def first_failure(self) -> StageResult | None:
        return next((s for s in self.stages if s.status == "fail"), None)

    @property
    def cancelled(self) -> bool:
        return any(s.status == "skip" and s.detail == "cancelled" for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, per docs/reference.md §5 (plus ``endpoint`` and ``started_at``)."""
        return {
            "account": self.role.value,
            "endpoint": self.endpoint,
            "ok": self.ok,
            "host_key": self.host_key.to_json() if self.host_key else None,
            "started_at": clock.iso(self.started_at),
            "stages": [s.to_json() for s in self.stages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeReport:
        """Rebuilds a report from ``to_json()`` output (``host_key_error`` is lost)."""
        host_key = data.get("host_key")
        started = data.get("started_at")
        return cls(
            role=Role(data["account"]),
            ok=bool(data["ok"]),
            host_key=HostKey.from_json(host_key) if host_key else None,
            stages=tuple(StageResult.from_json(s) for s in data.get("stages", [])),
            started_at=clock.parse_iso(started) if started else clock.now(),
            endpoint=str(data.get("endpoint", "")),
        )


# ----------------------------------------------------------------- connection steps


class StageError(Exception):
    """A step that failed, with what happened and what to do about it."""

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


H_FILTERED = (
    "filtered port: a firewall or an IP allow-list drops the connection "
    "(Adobe allow-lists client IPs)"
)
H_SILENT = "accepts TCP but never speaks SSH: not an SSH port, a proxy or an overloaded server"
H_OTHER_SERVICE = "wrong port, that is an HTTP/other service"
H_EOF = "closed right after connecting: banned (fail2ban/MaxStartups) or IP not allow-listed"
H_KEYS_ONLY = "this account accepts only keys: configure a private key"
H_BAD_PASSWORD = "wrong user name or password (the server does not say which)"
H_UNKNOWN_KEY = "the server does not know this key: send Adobe the public key"
H_NO_SFTP = "no SFTP subsystem: shell/SCP-only account"
H_DROPPED = (
    "the server stopped answering or dropped the connection: overloaded server or network trouble"
)


def _secs(timeout: float) -> str:
    return f"{timeout:g} s"


def resolve(host: str, port: int, timeout: float) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` in a daemon thread, bounded by ``timeout``; StageError on failure."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="audiencectl-dns", daemon=True).start()
    if not done.wait(timeout):
        raise StageError(
            f"no DNS answer for {host} within {_secs(timeout)}",
            "DNS is slow or unreachable: check the network, VPN or DNS server",
        )
    error = box.get("error")
    if isinstance(error, socket.gaierror):
        code = error.args[0] if error.args else None
        if code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            raise StageError(
                f"the host name {host} does not resolve",
                "check the host name (no scheme, no path), or the VPN/DNS for internal names",
            )
        if code == socket.EAI_AGAIN:
            raise StageError(
                f"DNS could not be reached to resolve {host}",
                "check the network connection, VPN or DNS server",
            )
        raise StageError(f"DNS error for {host}: {error.strerror or error}", "check the host name")
    if error is not None:
        raise StageError(f"DNS error for {host}: {error}", "check the host name")
    addrs: list[tuple[Any, ...]] = box["addrs"]
    if not addrs:
        raise StageError(f"the host name {host} has no address", "check the host name")
    return addrs


def _addr_text(addrs: list[tuple[Any, ...]]) -> str:
    seen: list[str] = []
    for info in addrs:
        ip = str(info[4][0])
        if ip not in seen:
            seen.append(ip)
    more = f" (+{len(seen) - 3} more)" if len(seen) > 3 else ""
    return ", ".join(seen[:3]) + more


def connect_tcp(addrs: list[tuple[Any, ...]], port: int, timeout: float) -> socket.socket:
    """Connects to the first address that answers, all within ``timeout``."""
    deadline = time.monotonic() + timeout
    first: StageError | None = None
    for family, kind, proto, _name, sockaddr in addrs:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except ConnectionRefusedError:
            sock.close()
            error = StageError(
                f"connection refused by {sockaddr[0]} port {port}",
                "closed port: wrong port, or the SFTP service is down",
            )
        except TimeoutError:
            sock.close()
            error = StageError(
                f"no answer from {sockaddr[0]} port {port} within {_secs(timeout)}", H_FILTERED
            )
        except OSError as exc:
            sock.close()
            error = StageError(
                f"cannot reach {sockaddr[0]} port {port}: {exc.strerror or exc}",
                "no route to the host: check the network, VPN or proxy settings",
            )
        else:
            return sock
        first = first or error
    raise first or StageError(f"no answer on port {port} within {_secs(timeout)}", H_FILTERED)


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
                f"the server accepted TCP but sent nothing in {_secs(timeout)}", H_SILENT
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
            f"the key exchange did not finish within {_secs(timeout)}",
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
            f"the SFTP subsystem did not answer within {_secs(timeout)}", H_DROPPED
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
                raise StageError(f"no answer within {_secs(self.timeout)}", H_DROPPED) from exc
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


# ---------------------------------------------------------------------- the probe


@dataclass
class _Outcome:
    detail: str
    status: StageStatus = "pass"
    hint: str = ""


class _Runner:
    def __init__(
        self,
        on_stage: Callable[[StageResult], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> None:
        self.results: list[StageResult] = []
        self.failed: str = ""
        self.was_cancelled = False
        self.on_stage = on_stage
        self.cancelled = cancelled

    def record(self, result: StageResult) -> None:
        self.results.append(result)
        if self.on_stage is not None:
            self.on_stage(result)

    def run(self, name: str, step: Callable[[], _Outcome]) -> bool:
        """Runs one stage unless a previous one failed; True when it passed or warned."""
        if not self.failed and not self.was_cancelled and self.cancelled and self.cancelled():
            self.was_cancelled = True
        if self.was_cancelled:
            self.record(StageResult(name, "skip", 0, "cancelled"))
            return False
        if self.failed:
            self.record(StageResult(name, "skip", 0, f"not run: {self.failed} failed"))
            return False
        started = time.monotonic()
        try:
            outcome = step()
        except StageError as exc:
            outcome = _Outcome(exc.detail, "fail", exc.hint)
        except (HostKeyChanged, HostKeyUnknown) as exc:
            outcome = _Outcome(exc.message, "fail", exc.hint)
        except Exception as exc:  # a probe reports, it never crashes
            outcome = _Outcome(
                f"unexpected error: {type(exc).__name__}: {exc}",
                "fail",
                "please report this; the other stages were skipped",
            )
        ms = int((time.monotonic() - started) * 1000)
        self.record(StageResult(name, outcome.status, ms, outcome.detail, outcome.hint))
        if outcome.status == "fail":
            self.failed = name
            return False
        return True


def probe(
    account: Account,
    creds: Credentials,
    hostkeys: HostKeyCheck,
    *,
    timeout: float = 10.0,
    on_stage: Callable[[StageResult], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ProbeReport:
    """Probes ``account`` stage by stage and returns the report; never raises for a
    problem on the server's side.

    Each stage is bounded by ``timeout`` seconds, so a silent host ends the
    probe within about ``timeout``. ``on_stage`` is called with each result as
    it is known (skips included); ``cancelled`` is checked between stages and
    turns the remaining stages into ``skip`` "cancelled". The write stage of an
    export account leaves nothing behind, even when it fails half-way.
    Socket and transport are always closed.
    """
    started_at = clock.now()
    runner = _Runner(on_stage, cancelled)
    folder_stage = "read" if account.role is Role.IMPORT else "write"
    box: dict[str, Any] = {}
    if account.type is AccountType.LOCAL:
        for name in NETWORK_STAGES:
            runner.record(StageResult(name, "skip", 0, "local folder"))
        folder = Path(account.path)
        runner.run("list", lambda: _local_list(folder, box))
        if folder_stage == "read":
            runner.run("read", lambda: _local_read(folder, box))
        else:
            runner.run("write", lambda: _local_write(folder))
        return _report(account, runner, None, started_at, None)

    session = SshSession(account, timeout)
    error_box: dict[str, AudienceError] = {}

    def dns() -> _Outcome:
        if not account.host:
            raise StageError("no host configured", "set the account's host, e.g. sftp.example.net")
        box["addrs"] = resolve(account.host, account.port, timeout)
        return _Outcome(f"{account.host} → {_addr_text(box['addrs'])}")

    def tcp() -> _Outcome:
        session.sock = connect_tcp(box["addrs"], account.port, timeout)
        peer = session.sock.getpeername()
        return _Outcome(f"connected to {peer[0]} port {peer[1]}")

    def banner() -> _Outcome:
        assert session.sock is not None
        with session.watchdog():
            session.banner = read_banner(session.sock, timeout)
        return _Outcome(session.banner)

    def hostkey() -> _Outcome:
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
        return _Outcome(f"{key.key_type} {key.fingerprint}: {note}")

    def auth() -> _Outcome:
        assert session.transport is not None
        with session.watchdog():
            detail = authenticate(session.transport, account.user, creds)
        status: StageStatus = "warn" if "without any credential" in detail else "pass"
        return _Outcome(detail, status)

    def sftp() -> _Outcome:
        assert session.transport is not None
        with session.watchdog():
            session.sftp = open_sftp(session.transport, timeout)
            box["home"] = _home(session.sftp)
        return _Outcome(f"SFTP started; the session starts in {box['home']}")

    def listing() -> _Outcome:
        assert session.sftp is not None
        with session.watchdog():
            return _sftp_list(session.sftp, account.remote_dir or ".", box)

    def read() -> _Outcome:
        assert session.sftp is not None
        with session.watchdog():
            return _sftp_read(session.sftp, account.remote_dir or ".", box)

    def write() -> _Outcome:
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
        runner.run(folder_stage, read if folder_stage == "read" else write)
    finally:
        session.close()
    return _report(account, runner, session.host_key, started_at, error_box.get("error"))


def _report(
    account: Account,
    runner: _Runner,
    host_key: HostKey | None,
    started_at: datetime,
    error: AudienceError | None,
) -> ProbeReport:
    ok = not runner.failed and not runner.was_cancelled
    return ProbeReport(
        role=account.role,
        ok=ok,
        host_key=host_key,
        stages=tuple(runner.results),
        started_at=started_at,
        endpoint=account.endpoint,
        host_key_error=error,
    )


def _home(sftp: paramiko.SFTPClient) -> str:
    try:
        return sftp.normalize(".")
    except (OSError, paramiko.SSHException):
        return "?"


# ----------------------------------------------------------------- folder stages


def _sftp_list(sftp: paramiko.SFTPClient, folder: str, box: dict[str, Any]) -> _Outcome:
    home = box.get("home") or _home(sftp)
    files: list[tuple[str, int, float]] = []
    others = 0
    try:
        for count, attr in enumerate(sftp.listdir_iter(folder), start=1):
            if count > 100_000:
                raise StageError(
                    f"{folder} lists more than 100 000 entries",
                    "endless listing: a broken server or the wrong folder",
                )
            if attr.st_mode is not None and stat.S_ISREG(attr.st_mode):
                files.append((attr.filename, attr.st_size or 0, float(attr.st_mtime or 0)))
            else:
                others += 1
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
    where = sftp.normalize(folder) if folder == "." else folder
    return _Outcome(f"{where}: {len(files)} files, {others} other entries")


def _sftp_read(sftp: paramiko.SFTPClient, folder: str, box: dict[str, Any]) -> _Outcome:
    files: list[tuple[str, int, float]] = box.get("files", [])
    if not files:
        return _Outcome("the folder is empty; it could be listed, so it is readable")
    name, _size, _mtime = max(files, key=lambda f: (f[2], f[0]))
    path = posixpath.join(folder, name)
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
    return _Outcome(
        f"read {len(data)} bytes of the newest file {name} ({attr.st_size} bytes, modified {when})"
    )


def _probe_names() -> tuple[str, str]:
    token = secrets.token_hex(8)
    return f"{PROBE_PREFIX}{token}.tmp", f"{PROBE_PREFIX}{token}.renamed.tmp"


_PAYLOAD = b"audiencectl write probe: this file is deleted right away\n"
_WRITE_HINT = (
    "the account cannot write this folder: ask Adobe for write access to it, or check remote_dir"
)


def _sftp_write(sftp: paramiko.SFTPClient, folder: str) -> _Outcome:
    first, second = _probe_names()
    paths = [posixpath.join(folder, first), posixpath.join(folder, second)]
    created = False
    renamed = False
    status: StageStatus = "pass"
    note = ""
    try:
        try:
            handle = sftp.open(paths[0], "wb")
        except PermissionError:
            raise StageError(
                f"permission denied creating a file in {folder}", _WRITE_HINT
            ) from None
        created = True
        with handle:
            handle.write(_PAYLOAD)
        size = sftp.stat(paths[0]).st_size
        if size != len(_PAYLOAD):
            raise StageError(
                f"the probe file has {size} bytes instead of {len(_PAYLOAD)}",
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
        raise StageError(f"the write test failed: {exc}", _WRITE_HINT) from None
    finally:
        if created:
            left = _sftp_cleanup(sftp, paths)
            if left:
                note = f"; could not delete {', '.join(left)}: delete it by hand"
    return _Outcome(
        f"created, renamed and deleted a {len(_PAYLOAD)}-byte probe file in {folder}{note}", status
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


def _local_list(folder: Path, box: dict[str, Any]) -> _Outcome:
    if not str(folder):
        raise StageError("no folder configured", "set the account's path")
    files: list[tuple[str, int, float]] = []
    others = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    files.append((entry.name, info.st_size, info.st_mtime))
                else:
                    others += 1
    except FileNotFoundError:
        raise StageError(
            f"the folder {folder} does not exist", "folder missing: check the account's path"
        ) from None
    except NotADirectoryError:
        raise StageError(f"{folder} is a file, not a folder", "check the account's path") from None
    except PermissionError:
        raise StageError(
            f"permission denied listing {folder}",
            "permission denied: check the folder's permissions",
        ) from None
    box["files"] = files
    return _Outcome(f"{folder}: {len(files)} files, {others} other entries")


def _local_read(folder: Path, box: dict[str, Any]) -> _Outcome:
    files: list[tuple[str, int, float]] = box.get("files", [])
    if not files:
        return _Outcome("the folder is empty; it could be listed, so it is readable")
    name, size, _mtime = max(files, key=lambda f: (f[2], f[0]))
    try:
        with open(folder / name, "rb") as handle:
            data = handle.read(READ_LIMIT)
    except PermissionError:
        raise StageError(
            f"permission denied reading {name}", "check the file's permissions"
        ) from None
    except OSError as exc:
        raise StageError(f"cannot read {name}: {exc.strerror or exc}", "check the folder") from None
    return _Outcome(f"read {len(data)} bytes of the newest file {name} ({size} bytes)")


def _local_write(folder: Path) -> _Outcome:
    first, second = _probe_names()
    paths = [folder / first, folder / second]
    try:
        with open(paths[0], "xb") as handle:
            handle.write(_PAYLOAD)
        os.replace(paths[0], paths[1])
        os.remove(paths[1])
    except PermissionError:
        raise StageError(
            f"permission denied writing in {folder}", "check the folder's permissions"
        ) from None
    except OSError as exc:
        raise StageError(
            f"the write test failed in {folder}: {exc.strerror or exc}",
            "check the folder (missing, full or read-only?)",
        ) from None
    finally:
        for path in paths:
            with suppress(OSError):
                path.unlink()
    return _Outcome(f"created, renamed and deleted a {len(_PAYLOAD)}-byte probe file in {folder}")
