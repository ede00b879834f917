"""Turning untrusted text (file names, labels, hosts, notes) into one safe line.

A name may hold bytes that are not UTF-8 (a Latin-1 ``é``, kept by Python as a
lone surrogate), control characters (ESC, BEL, newline) or invisible format
characters (a right-to-left override). None of them may reach a terminal, a
report or a store raw: :func:`printable_name` writes them as ``\\xNN`` (or
``\\uNNNN``), so the name stays readable and can be told apart from others.
"""

from __future__ import annotations


def _as_text(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "backslashreplace")
    try:
        data = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file name decoded into
        return raw.encode("utf-8", "backslashreplace").decode("utf-8")
    return data.decode("utf-8", "backslashreplace")


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable_name(raw: bytes | str) -> str:
    """``raw`` on one line, safe to print: undecodable bytes, control and format
    characters escaped (``\\xNN``); everything printable kept as it is."""
    text = _as_text(raw)
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def quoted(raw: bytes | str) -> str:
    """``raw`` escaped once (:func:`printable_name`) between single quotes, for a
    message. Not ``repr()``, which would double each backslash of an escape."""
    return f"'{printable_name(raw)}'"


def printable_lines(raw: str) -> str:
    """Like :func:`printable_name`, but keeps line breaks (for messages of several lines)."""
    return "\n".join(printable_name(line) for line in raw.split("\n"))


def is_printable(raw: str) -> bool:
    """True when :func:`printable_name` would leave ``raw`` unchanged."""
    return printable_name(raw) == raw


def clipped(raw: str, limit: int = 60) -> str:
    """``raw`` as :func:`printable_name` writes it, cut to its first ``limit`` characters
    followed by "…" when longer: what an error line echoes of a value the user gave, so
    that a hostile value of megabytes never makes a megabyte line."""
    if len(raw) <= limit:
        return printable_name(raw)
    return printable_name(raw[:limit]) + "…"
