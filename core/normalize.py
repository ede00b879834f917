"""Normalization of declared IDs, applied identically to both sides of a match.

The profile's stored value and the value decrypted (or hashed) from an
audience file go through the *same* function for their channel, so that a
website writing ``" Alice@Example.com"`` and a profile holding
``"alice@example.com"`` meet on one key (docs/reference.md §4).

- email: trimmed and lower-cased; ``None`` when it is not shaped like an
  address (exactly one ``@``, a non-empty local part, a dotted domain without
  empty labels, no whitespace or control characters inside).
- sms: reduced to ``+`` and ASCII digits. Spaces, dots, dashes and
  parentheses are dropped, a leading ``00`` becomes ``+``, and in an
  international number the trunk-prefix notation ``(0)`` (``+44 (0)20 ...``)
  is dropped because that zero is never dialled from abroad. ``None`` when
  letters or other characters are present, or when there are fewer than 6 or
  more than 15 digits (E.164 allows at most 15).
- other: compared as is; ``None`` only for the empty string.

Why no ``phonenumbers`` dependency: turning a national number such as
``06 12 34 56 78`` into E.164 needs a default country, and neither the data
source nor the profile tells us one. Guessing would make the two sides
disagree for foreign numbers, which is worse than both keeping the digits as
written. Numbers written internationally (``+`` or ``00``) come out in E.164
form; national ones keep their national digits, on both sides alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.model import Channel

__all__ = [
    "is_email_key",
    "normalize",
    "normalize_batch",
    "normalize_email",
    "normalize_email_lines",
    "normalize_emails",
    "normalize_phone",
    "normalize_phones",
]

# Characters never allowed inside an address: any whitespace, C0/C1 controls, DEL.
_BAD = r"\s\x00-\x1f\x7f-\x9f"
_EMAIL = re.compile(rf"[^@{_BAD}]+@[^@.{_BAD}]+(?:\.[^@.{_BAD}]+)+")
# The same shape for ASCII text only (there, \s and the controls are exactly \x00-\x20 and
# \x7f); simpler classes and possessive repeats make it about 25% faster.
_BAD_ASCII = r"\x00-\x20\x7f"
_EMAIL_ASCII = re.compile(rf"[^@{_BAD_ASCII}]++@[^@.{_BAD_ASCII}]++(?:\.[^@.{_BAD_ASCII}]++)++")
# Everything a written phone number may contain (ASCII only).
_PHONE_CHARS = re.compile(r"\+?[0-9 .()\-\t]*")
_PHONE_DROP = str.maketrans("", "", " .()-\t")
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")


def normalize_email(value: str) -> str | None:
    """The trimmed, lower-cased address, or ``None`` when it is not shaped like an email."""
    text = value.strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def normalize_phone(value: str) -> str | None:
    """``+`` and 6-15 ASCII digits (or digits alone for a national number), or ``None``.

    Separators (spaces, dots, dashes, parentheses) are dropped, a leading
    ``00`` becomes ``+``; letters or any other character make it ``None``.
    """
    text = value.strip()
    if not text or not _PHONE_CHARS.fullmatch(text):
        return None
    international = text.startswith("+") or text.startswith("00")
    if international:
        text = _TRUNK_ZERO.sub("", text)
    digits = text.translate(_PHONE_DROP)
    if digits.startswith("+"):
        digits = digits[1:]
    elif international:  # a leading "00" (after separators were dropped)
        digits = digits[2:]
    if not 6 <= len(digits) <= 15:
        return None
    return "+" + digits if international else digits


def _normalize_other(value: str) -> str | None:
    return value if value != "" else None


def normalize(value: str, channel: Channel) -> str | None:
    """The channel's normal form of ``value`` (see the module docstring), ``None`` if invalid."""
    if channel is Channel.EMAIL:
        return normalize_email(value)
    if channel is Channel.SMS:
        return normalize_phone(value)
    return _normalize_other(value)


def normalize_emails(values: Sequence[str]) -> list[str | None]:
    """``normalize_email`` over a list, one result per value, in order."""
    texts = _stripped_lower_ascii(values)
    match = _EMAIL.fullmatch
    if texts is None:
        texts = [value.strip().lower() for value in values]
    else:
        match = _EMAIL_ASCII.fullmatch
    return [text if match(text) else None for text in texts]


def normalize_email_lines(text: str, invalid: object = None, *, check: bool = True) -> list[Any]:
    """``normalize_email`` of each line of ``text`` (printable ASCII lines joined by
    newlines), ``invalid`` in place of ``None``: one ``lower``, one ``split``, and
    ``strip`` only when the text holds a space or TAB.

    ``check=False`` leaves the shape check out (every line is trimmed and
    lower-cased): for callers that check only the values they could not find
    (``is_email_key``), since a value equal to a checked key has the shape.
    """
    parts = text.lower().split("\n")
    if " " in text or "\t" in text:
        parts = list(map(str.strip, parts))
    if not check:
        return parts
    match = _EMAIL_ASCII.fullmatch
    return [part if match(part) else invalid for part in parts]


def is_email_key(key: str) -> bool:
    """Whether ``key`` (already trimmed and lower-cased) is shaped like an address."""
    return _EMAIL.fullmatch(key) is not None


def _stripped_lower_ascii(values: Sequence[str]) -> list[str] | None:
    """``[v.strip().lower() for v in values]`` done on one joined text (C loops, not a
    Python one) when every value is ASCII without a newline; ``None`` otherwise."""
    if not values:
        return []
    text = "\n".join(values)
    if not text.isascii():
        return None
    parts = text.lower().split("\n")
    if len(parts) != len(values):
        return None  # a value holds a newline
    return list(map(str.strip, parts))


def normalize_phones(values: Sequence[str]) -> list[str | None]:
    """``normalize_phone`` over a list, one result per value, in order."""
    return [normalize_phone(value) for value in values]


def normalize_batch(values: Sequence[str], channel: Channel) -> list[str | None]:
    """``normalize`` over a list, one result per value, in order."""
    if channel is Channel.EMAIL:
        return normalize_emails(values)
    if channel is Channel.SMS:
        return normalize_phones(values)
    return [value if value != "" else None for value in values]
