"""The reference: a record-at-a-time dry run, written the obvious way.

For each line of the audience file: split it, check the fields, skip a
duplicate, then a NEW cipher object, ``bytes.fromhex``, PKCS#7 unpad, UTF-8
decode, ``normalize_email``, one dict lookup. Profiles are read with the
``csv`` module, one row at a time, normalized one value at a time.

Same outcome semantics as ``core.reconcile`` (docs/reference.md §4) for one
AES/email data source and the lines the benchmark generates (no header line,
no gzip). Used by ``bench_reconcile.py`` as the baseline of the ratio.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.normalize import normalize_email

_SEP = re.compile(r"[ \t]+")
_SEGMENTS = re.compile(r"[0-9]+(?:,[0-9]+)*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def load_index(profiles_csv: Path, column: str = "email") -> dict[str, list[str]]:
    """Normalized email -> profile ids, one CSV row at a time."""
    index: dict[str, list[str]] = {}
    with profiles_csv.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        header = [name.strip() for name in next(reader)]
        at, col = header.index("id"), header.index(column)
        for row in reader:
            if not row:
                continue
            key = normalize_email(row[col])
            if key is None:
                continue
            pids = index.setdefault(key, [])
            pid = row[at].strip()
            if pid not in pids:
                pids.append(pid)
    return index


def _decrypt_one(key: bytes, iv: bytes, raw: str) -> str:
    """The lookup key of one ID, or the outcome's name prefixed with '!'."""
    try:
        data = bytes.fromhex(raw.strip())
    except ValueError:
        return "!bad_encoding"
    if not data or len(data) % 16:
        return "!bad_encoding"
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return "!bad_padding"
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        return "!not_utf8"
    email = normalize_email(text)
    return "!invalid_email" if email is None else email


def _fields(raw: bytes) -> list[str] | None:
    try:
        line = raw.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None
    stripped = line.strip(" \t")
    if not stripped:
        return []
    if "\x00" in stripped or _CONTROL.search(stripped):
        return None
    fields = _SEP.split(stripped)
    if len(fields) not in (2, 3) or not all(_SEGMENTS.fullmatch(f) for f in fields[1:]):
        return None
    return fields


def reconcile(audience: Path, index: dict[str, list[str]], key: bytes, iv: bytes) -> dict[str, Any]:
    """Counts and segment member sets for one audience file, one record at a time."""
    seen: set[str] = set()
    outcomes: Counter[str] = Counter()
    members: dict[str, set[str]] = {}
    removed: dict[str, set[str]] = {}
    records = reconciled = duplicates = 0
    with audience.open("rb") as handle:
        for raw_line in handle:
            fields = _fields(raw_line.rstrip(b"\n"))
            if fields == []:
                continue
            records += 1
            if fields is None:
                outcomes["malformed_line"] += 1
                continue
            raw = fields[0]
            if raw in seen:
                duplicates += 1
                continue
            seen.add(raw)
            found = _decrypt_one(key, iv, raw)
            if found.startswith("!"):
                outcomes[found[1:]] += 1
                continue
            pids = index.get(found)
            if pids is None:
                outcomes["not_found"] += 1
                continue
            reconciled += 1
            for seg in fields[1].split(","):
                members.setdefault(seg, set()).update(pids)
            if len(fields) == 3:
                for seg in fields[2].split(","):
                    removed.setdefault(seg, set()).update(pids)
    segments = {
        seg: {"members": members.get(seg, set()), "removed": removed.get(seg, set())}
        for seg in members.keys() | removed.keys()
    }
    return {
        "records": records,
        "reconciled": reconciled,
        "duplicates": duplicates,
        "outcomes": dict(outcomes),
        "segments": segments,
    }
