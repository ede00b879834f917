"""The one exception family of audiencectl.

Every error a user can cause or meet carries a one-line message (what is
wrong) and a hint (how to fix it). Front ends map them to exit codes:
``InputError`` and friends to 2, ``ConnectionFailure`` to 3.
Per-record problems in audience files are *outcomes*, never exceptions.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of every headless command (docs/reference.md §1)."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    CONNECTION = 3
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`


class AudienceError(Exception):
    """Base error: a message and a hint, both safe to show (never a secret)."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(AudienceError):
    """A bad file, argument or value given by the user."""


class ValidationError(InputError):
    """A field holds a value that is not allowed; ``field`` names it."""

    def __init__(self, field: str, message: str, hint: str = "") -> None:
        super().__init__(f"{field}: {message}", hint)
        self.field = field
        self.reason = message


class ConfigError(InputError):
    """A configuration file that cannot be accepted; names the key and line."""


class SecretError(InputError):
    """A secret reference that cannot be resolved or a key file that is unsafe."""


class StoreError(InputError):
    """The store cannot be opened, migrated or written."""


class OperationCancelled(AudienceError):
    """The user cancelled a long operation; nothing half-done was kept."""

    exit_code = ExitCode.INTERRUPTED


class ConnectionFailure(AudienceError):
    """A network failure that prevented the command from running."""

    exit_code = ExitCode.CONNECTION
