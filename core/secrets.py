"""Secrets: references resolved at use time, literals encrypted at rest, masks everywhere.

A secret is written in configuration as ``env:NAME``, ``file:PATH`` or a
literal. Literals never stay in clear: the store keeps them as AES-GCM
tokens sealed with a key file (mode 0600) that lives beside the store.
``Secret`` objects never reveal their value through ``str``/``repr``.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.boundedfile import FileRefused, read_bounded
from core.errors import SecretError

SecretKind = Literal["env", "file", "stored", "literal"]
STORED_MARK = "<stored>"
MASK = "••••••"
_TOKEN_PREFIX = "gcm1:"


@dataclass(frozen=True)
class Secret:
    """A secret value or a reference to one.

    ``kind`` is ``env`` / ``file`` (``ref`` is the variable name or path),
    ``stored`` (``ref`` is an AES-GCM token) or ``literal`` (``ref`` is the
    clear value, only between parsing and sealing; never persisted as such).
    """

    kind: SecretKind
    ref: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Secret | None:
        """``env:NAME`` / ``file:PATH`` / literal; empty text means no secret."""
        if text == "":
            return None
        if text.startswith("env:"):
            name = text[4:]
            if not name or not name.replace("_", "").isalnum():
                raise SecretError(  # never echo the text: it may be a secret itself
                    "an env: reference does not name a valid variable",
                    "write env:NAME with letters, digits and underscores",
                )
            return cls("env", name)
        if text.startswith("file:"):
            if not text[5:]:
                raise SecretError("file reference has no path", "write file:/path/to/secret")
            return cls("file", text[5:])
        if text == STORED_MARK:
            raise SecretError(
                '"<stored>" stands for a value kept in the store, and none is stored here',
                "give env:NAME, file:PATH or the value itself",
            )
        return cls("literal", text)

    @property
    def is_reference(self) -> bool:
        return self.kind in ("env", "file")

    def display(self) -> str:
        """What may be shown: references in full (they are not secret), values masked."""
        if self.kind == "env":
            return f"env:{self.ref}"
        if self.kind == "file":
            return f"file:{self.ref}"
        return MASK

    def export_text(self) -> str:
        """What ``config export`` writes: the reference, or ``<stored>``."""
        return self.display() if self.is_reference else STORED_MARK

    def __str__(self) -> str:
        return self.display()


#: The largest ``file:`` secret read (a password, key or private key fits many times).
MAX_SECRET_FILE_BYTES = 64 * 1024
_log = logging.getLogger("audiencectl.secrets")
_WARNED: set[tuple[Path, int]] = set()


def mask(value: str, keep: int = 0) -> str:
    """Masks a clear value for display, keeping at most ``keep`` trailing characters."""
    if not value:
        return ""
    if keep <= 0 or len(value) <= keep * 3:
        return MASK
    return MASK + value[-keep:]


class SecretBox:
    """Seals literals into tokens and resolves any ``Secret`` to its clear text.

    The key file is created on first use with mode 0600; an existing key file
    readable by group or others is refused.
    """

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._key: bytes | None = None

    def _load_key(self, create: bool) -> bytes:
        if self._key is not None:
            return self._key
        path = self.key_path
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise SecretError(
                    f"key file {path} is readable by others (mode {mode:o})",
                    f"run: chmod 600 {path}",
                )
            raw = path.read_bytes()
            try:
                key = base64.b64decode(raw.strip(), validate=True)
            except ValueError:
                key = b""
            if len(key) != 32:
                raise SecretError(
                    f"key file {path} is damaged",
                    "restore it from a backup; stored secrets cannot be read without it",
                )
        elif create:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = AESGCM.generate_key(bit_length=256)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.b64encode(key) + b"\n")
        else:
            raise SecretError(
                f"key file {path} is missing, so stored secrets cannot be read",
                "restore the key file beside the store, or re-enter the secrets",
            )
        self._key = key
        return key

    def seal(self, secret: Secret | None, context: str) -> Secret | None:
        """Turns a literal into a stored token bound to ``context``; other kinds pass through."""
        if secret is None or secret.kind != "literal":
            return secret
        key = self._load_key(create=True)
        nonce = os.urandom(12)
        token = AESGCM(key).encrypt(nonce, secret.ref.encode(), context.encode())
        return Secret("stored", _TOKEN_PREFIX + base64.b64encode(nonce + token).decode())

    def resolve(self, secret: Secret | None, context: str, field: str = "secret") -> str:
        """The clear text of a secret; raises ``SecretError`` naming the field, never the value."""
        if secret is None:
            return ""
        if secret.kind == "literal":
            return secret.ref
        if secret.kind == "env":
            value = os.environ.get(secret.ref)
            if value is None:
                raise SecretError(
                    f"{field}: environment variable {secret.ref} is not set",
                    f"export {secret.ref}=... before running, or change the reference",
                )
            return value
        if secret.kind == "file":
            return read_secret_file(Path(secret.ref).expanduser(), field)
        key = self._load_key(create=False)
        if not secret.ref.startswith(_TOKEN_PREFIX):
            raise SecretError(f"{field}: stored secret is damaged", "re-enter it")
        blob = base64.b64decode(secret.ref[len(_TOKEN_PREFIX) :])
        try:
            clear = AESGCM(key).decrypt(blob[:12], blob[12:], context.encode())
        except Exception:
            raise SecretError(
                f"{field}: stored secret cannot be decrypted with {self.key_path}",
                "the key file was replaced; restore it or re-enter the secret",
            ) from None
        return clear.decode()


def read_secret_file(path: Path, field: str) -> str:
    """The text of a ``file:`` secret: a regular file of at most
    :data:`MAX_SECRET_FILE_BYTES`; a FIFO, device or directory is refused without
    waiting on it (:func:`core.boundedfile.read_bounded`). A file readable by group or
    others is read, with a warning."""
    try:
        raw, info = read_bounded(path, MAX_SECRET_FILE_BYTES)
    except FileRefused as exc:
        hints = {
            "missing": "check the file: reference",
            "unreadable": "check its permissions",
            "not_regular": "point file: at a plain file holding the secret",
            "too_large": "the file should hold only the secret",
        }
        raise SecretError(f"{field}: secret file {path} {exc.reason}", hints[exc.kind]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(
            f"{field}: secret file {path} is not UTF-8 text", "save the secret as text"
        ) from None
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 and (path, mode) not in _WARNED:
        _WARNED.add((path, mode))
        _log.warning(
            "audiencectl: warning: secret file %s is readable by group or others (mode %o); "
            "run: chmod 600 %s",
            path,
            mode,
            path,
        )
    return text.rstrip("\r\n")
