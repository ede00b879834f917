"""SSH host keys: OpenSSH fingerprints, pinning, and the trust-on-first-use policy.

A server's host key is pinned the first time the admin accepts it; from then
on a different key is refused loudly (``HostKeyChanged``) until the pin is
removed deliberately with ``audiencectl hostkey forget HOST[:PORT]``.
paramiko's ``AutoAddPolicy`` is never used: every decision goes through
``HostKeyCheck``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Protocol

import paramiko

from core.errors import AudienceError, ExitCode


@dataclass(frozen=True)
class HostKey:
    """A host key as OpenSSH shows it: its type (``ssh-ed25519``) and SHA256 fingerprint."""

    key_type: str
    fingerprint: str

    def to_json(self) -> dict[str, str]:
        """The contract's ``{"type", "fingerprint"}`` object."""
        return {"type": self.key_type, "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> HostKey:
        return cls(key_type=data["type"], fingerprint=data["fingerprint"])

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.key_type})"


def fingerprint_blob(key_type: str, blob: bytes) -> HostKey:
    """The HostKey of a public key blob (the SSH wire encoding of the key)."""
    digest = hashlib.sha256(blob).digest()
    return HostKey(key_type, "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("="))


def fingerprint(key: paramiko.PKey) -> HostKey:
    """The key's type and fingerprint exactly as ``ssh-keygen -lf`` prints it.

    ``SHA256:`` followed by the unpadded base64 of the SHA-256 of the key blob.
    """
    return fingerprint_blob(key.get_name(), key.asbytes())


def host_label(host: str, port: int) -> str:
    """``host`` for port 22, ``host:port`` otherwise (the form ``hostkey forget`` takes)."""
    return host if port == 22 else f"{host}:{port}"


def forget_command(host: str, port: int) -> str:
    """The documented command that removes a pin deliberately."""
    return f"audiencectl hostkey forget {host_label(host, port)}"


class HostKeyStore(Protocol):
    """Where pinned host keys live (``storage.hostkeys.SqliteHostKeyStore`` in the app)."""

    def get(self, host: str, port: int) -> HostKey | None:
        """The pinned key of host:port, or None when nothing is pinned."""
        ...

    def pin(self, host: str, port: int, key: HostKey) -> None:
        """Pins ``key`` for host:port, replacing any previous pin."""
        ...


class HostKeyChanged(AudienceError):
    """The server presents a key different from the pinned one: refused, loudly."""

    exit_code = ExitCode.CONNECTION

    def __init__(
        self, host: str, port: int, pinned: HostKey, presented: HostKey, source: str = "store"
    ) -> None:
        where = (
            "the host_key in the configuration"
            if source == "config"
            else "the key pinned in the store"
        )
        message = (
            f"HOST KEY CHANGED for {host_label(host, port)}! "
            f"The server now presents {presented.fingerprint} ({presented.key_type}), "
            f"but {where} is {pinned.fingerprint} ({pinned.key_type}). "
            "Connection refused."
        )
        if source == "config":
            how = "then put the new fingerprint in the configuration's host_key"
        else:
            how = f"then remove the old pin with `{forget_command(host, port)}` and probe again"
        hint = (
            "someone may be intercepting the connection (man-in-the-middle), or Adobe rebuilt "
            "the server: confirm the new fingerprint with Adobe out of band, " + how
        )
        super().__init__(message, hint)
        self.host = host
        self.port = port
        self.pinned = pinned
        self.presented = presented
        self.source = source


class HostKeyUnknown(AudienceError):
    """No key is pinned for this server and trusting a new one was not allowed.

    Carries ``key`` so a front end can show the fingerprint, ask the admin to
    confirm it, then retry with ``trust_new=True``.
    """

    exit_code = ExitCode.CONNECTION

    def __init__(self, host: str, port: int, key: HostKey) -> None:
        super().__init__(
            f"unknown host key for {host_label(host, port)}: {key.fingerprint} ({key.key_type})",
            "confirm this fingerprint with Adobe, then accept it (--trust-new-host-key) "
            "or set host_key in the configuration",
        )
        self.host = host
        self.port = port
        self.key = key


class HostKeyCheck:
    """The host key policy used by the probe and by every transfer.

    - pinned (in ``store``, or ``pinned_from_config``) and equal: accepted;
    - pinned and different: ``HostKeyChanged``, the pin is left untouched;
    - nothing pinned and ``trust_new``: the key is pinned ("pinned on first use");
    - nothing pinned otherwise: ``HostKeyUnknown``.

    A fingerprint from the configuration (``Account.host_key``) is authoritative:
    when set, only it is compared (and the key is recorded in the store if the
    store has no pin yet).
    """

    def __init__(self, store: HostKeyStore, trust_new: bool, pinned_from_config: str = "") -> None:
        self.store = store
        self.trust_new = trust_new
        self.pinned_from_config = pinned_from_config.strip()

    def check(self, host: str, port: int, key: HostKey) -> str:
        """Accepts ``key`` for host:port or raises; returns a note for display."""
        if self.pinned_from_config:
            if key.fingerprint != self.pinned_from_config:
                pinned = HostKey("as configured", self.pinned_from_config)
                raise HostKeyChanged(host, port, pinned, key, source="config")
            if self.store.get(host, port) is None:
                self.store.pin(host, port, key)
            return "matches the host_key in the configuration"
        pinned = self.store.get(host, port)
        if pinned is not None:
            if pinned.fingerprint != key.fingerprint:
                raise HostKeyChanged(host, port, pinned, key)
            return "matches the pinned key"
        if not self.trust_new:
            raise HostKeyUnknown(host, port, key)
        self.store.pin(host, port, key)
        return "pinned on first use"


class MemoryHostKeyStore:
    """A HostKeyStore in memory (tests, one-shot commands)."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, int], HostKey] = {}

    def get(self, host: str, port: int) -> HostKey | None:
        return self._keys.get((host, port))

    def pin(self, host: str, port: int, key: HostKey) -> None:
        self._keys[(host, port)] = key
