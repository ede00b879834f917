"""Reconciliation outcomes (docs/reference.md §4): one per non-empty line."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    RECONCILED = "reconciled"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    MALFORMED_LINE = "malformed_line"
    INVALID_VISITOR_ID = "invalid_visitor_id"
    BAD_ENCODING = "bad_encoding"
    BAD_PADDING = "bad_padding"
    NOT_UTF8 = "not_utf8"
    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    WRONG_HASH_LENGTH = "wrong_hash_length"


#: Outcomes that are failures to reconcile (everything but reconciled and duplicate).
FAILURES: tuple[Outcome, ...] = tuple(
    o for o in Outcome if o not in (Outcome.RECONCILED, Outcome.DUPLICATE)
)

#: What each outcome means and what to do, in plain words for admins.
EXPLANATIONS: dict[Outcome, tuple[str, str]] = {
    Outcome.RECONCILED: ("matched one or more profiles", ""),
    Outcome.DUPLICATE: (
        "the same ID appeared earlier in the same batch",
        "harmless: AAM repeats IDs across split parts; counted once",
    ),
    Outcome.NOT_FOUND: (
        "a well-formed ID that no profile carries",
        "the true miss: load current profiles (and the visitor map for visitor IDs)",
    ),
    Outcome.MALFORMED_LINE: (
        "the line does not parse as ID, segments, removed segments",
        "check that the file is an AAM outbound file and not truncated",
    ),
    Outcome.INVALID_VISITOR_ID: (
        "not a 38-digit Experience Cloud ID",
        "the destination sends another ID type: check the data source's ID type",
    ),
    Outcome.BAD_ENCODING: (
        "the ciphertext is not valid hex/base64 or not a multiple of 16 bytes",
        "check the data source's ciphertext encoding (hex vs base64)",
    ),
    Outcome.BAD_PADDING: (
        "AES decryption gave invalid PKCS#7 padding",
        "wrong AES key, IV or mode: run `crypto diagnose` with a website sample",
    ),
    Outcome.NOT_UTF8: (
        "the decrypted bytes are not UTF-8 text",
        "almost always a wrong key or IV that happened to pass the padding check",
    ),
    Outcome.INVALID_EMAIL: (
        "the decrypted value is not an email address",
        "the channel is email but the website encrypts something else",
    ),
    Outcome.INVALID_PHONE: (
        "the decrypted value is not a phone number",
        "the channel is SMS but the website encrypts something else",
    ),
    Outcome.WRONG_HASH_LENGTH: (
        "the ID's length does not match the hash algorithm",
        "check the data source's hash algorithm (md5=32, sha1=40, sha256=64 hex digits)",
    ),
}


def match_rate(reconciled: int, records: int, duplicates: int) -> float:
    """``reconciled / (records - duplicates)`` (docs/reference.md §4); 0.0 with no records."""
    base = records - duplicates
    return reconciled / base if base > 0 else 0.0
