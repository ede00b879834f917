"""What every probe shares: stage results, the report, the stage runner, DNS and TCP.

A probe runs its stages in order, each separately timed and bounded by the
timeout; every failure becomes a stage with a detail (what happened) and a
hint (what the admin should do); after the first failure the remaining stages
are ``skip`` (docs/reference.md §5). ``sftp.py``, ``s3.py`` and ``local.py``
hold the stages of each account type.
"""

from __future__ import annotations

import io
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from core import clock
from core.errors import AudienceError, InputError
from core.hostkeys import HostKey, HostKeyChanged, HostKeyUnknown
from core.model import Account, AccountType, Role

StageStatus = Literal["pass", "fail", "warn", "skip"]

READ_LIMIT = 64 * 1024
PROBE_PREFIX = ".audiencectl-probe-"
_MASK = "••••••"

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Credentials:
    """The secrets of one account, already resolved by the caller.

    ``private_key`` is the key's text (OpenSSH or PEM; RSA, ECDSA or Ed25519);
    ``secret_access_key`` is an S3 account's secret (its key ID is not secret and
    stays on the account). ``repr`` and ``str`` never show a value, only which
    ones are set.
    """

    password: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    passphrase: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)

    @classmethod
    def of(cls, account: Account, secret: Callable[[str], str]) -> Credentials:
        """The account's credentials, each set field resolved by ``secret(field_name)``
        (which may raise ``SecretError``); a local folder has none."""

        def value(name: str) -> str:
            return secret(name) if getattr(account, name) is not None else ""

        if account.type is AccountType.LOCAL:
            return cls()
        if account.type is AccountType.S3:
            return cls(secret_access_key=value("secret_access_key"))
        return cls(
            password=value("password"),
            private_key=value("private_key"),
            passphrase=value("private_key_passphrase"),
        )

    def __repr__(self) -> str:
        def shown(value: str) -> str:
            return _MASK if value else "<none>"

        return (
            f"Credentials(password={shown(self.password)}, "
            f"private_key={shown(self.private_key)}, passphrase={shown(self.passphrase)}, "
            f"secret_access_key={shown(self.secret_access_key)})"
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
    #: Names the list stage saw in the folder (folders end in ``/``), at most
    #: ``MAX_SEEN``: the evidence ``account.direction`` reads. Not part of the JSON.
    seen: tuple[str, ...] = field(default=(), compare=False, repr=False)

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
H_DROPPED = (
    "the server stopped answering or dropped the connection: overloaded server or network trouble"
)


def secs(timeout: float) -> str:
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
            f"no DNS answer for {host} within {secs(timeout)}",
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


def addr_text(addrs: list[tuple[Any, ...]]) -> str:
    seen: list[str] = []
    for info in addrs:
        ip = str(info[4][0])
        if ip not in seen:
            seen.append(ip)
    more = f" (+{len(seen) - 3} more)" if len(seen) > 3 else ""
    return ", ".join(seen[:3]) + more


def connect_tcp(
    addrs: list[tuple[Any, ...]], port: int, timeout: float, service: str = "SFTP"
) -> socket.socket:
    """Connects to the first address that answers, all within ``timeout``; ``service``
    names what should listen there, for the hint."""
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
                f"closed port: wrong port, or the {service} service is down",
            )
        except TimeoutError:
            sock.close()
            error = StageError(
                f"no answer from {sockaddr[0]} port {port} within {secs(timeout)}", H_FILTERED
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
    raise first or StageError(f"no answer on port {port} within {secs(timeout)}", H_FILTERED)


# ---------------------------------------------------------------------- the probe


@dataclass
class Outcome:
    """What a stage function returns when it did not raise ``StageError``."""

    detail: str
    status: StageStatus = "pass"
    hint: str = ""


#: How many listed names a probe report keeps as evidence.
MAX_SEEN = 2000


class StageRunner:
    """Runs stages in order: times each, turns ``StageError`` into a failed stage, skips
    the rest after a failure or a cancel, and reports each result to ``on_stage``."""

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
        self.seen: list[str] = []

    def saw(self, box: dict[str, Any]) -> None:
        """Keeps the names a list stage put in ``box`` (``files``, ``dirs``) as evidence."""
        names = [f[0] for f in box.get("files", [])] + [f"{d}/" for d in box.get("dirs", [])]
        self.seen = names[:MAX_SEEN]

    def record(self, result: StageResult) -> None:
        self.results.append(result)
        if self.on_stage is not None:
            self.on_stage(result)

    def run(self, name: str, step: Callable[[], Outcome]) -> bool:
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
            outcome = Outcome(exc.detail, "fail", exc.hint)
        except (HostKeyChanged, HostKeyUnknown) as exc:
            outcome = Outcome(exc.message, "fail", exc.hint)
        except Exception as exc:  # a probe reports, it never crashes
            outcome = Outcome(
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


def make_report(
    account: Account,
    runner: StageRunner,
    host_key: HostKey | None,
    started_at: datetime,
    error: AudienceError | None,
) -> ProbeReport:
    """The report of a finished run: ok when no stage failed and nothing was cancelled."""
    ok = not runner.failed and not runner.was_cancelled
    return ProbeReport(
        role=account.role,
        ok=ok,
        host_key=host_key,
        stages=tuple(runner.results),
        started_at=started_at,
        endpoint=account.endpoint,
        host_key_error=error,
        seen=tuple(runner.seen),
    )


def probe_names() -> tuple[str, str]:
    """A fresh name for a write probe's file, and the name it is renamed to."""
    token = secrets.token_hex(8)
    return f"{PROBE_PREFIX}{token}.tmp", f"{PROBE_PREFIX}{token}.renamed.tmp"


PROBE_PAYLOAD = b"audiencectl write probe: this file is deleted right away\n"
H_WRITE = (
    "the account cannot write this folder: ask Adobe for write access to it, or check remote_dir"
)
