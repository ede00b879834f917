"""User strings in the console: always text, never markup.

Labels, file names, hosts, folders and notes come from the user or from a
server. Textual reads a plain ``str`` as markup in many places (a DataTable
cell, a Select option, a Label, a notification), so ``[b]`` would turn bold and
``[@click=app.quit]`` would become a link that quits. :func:`plain` makes such
a string a :class:`rich.text.Text`, shown exactly as typed, with control
characters and bytes that are not UTF-8 escaped (``core.text.printable_name``).
"""

from __future__ import annotations

import re

from rich.text import Text

from core.text import printable_name


def plain(value: object) -> Text:
    """``value`` as one line of plain text (never markup, control characters escaped)."""
    return Text(printable_name(str(value)))


#: The CLI's wording in messages shared with the CLI, and what to say in the console
#: instead: the key to press (issue 19: "in the console, name the key").
_CONSOLE_WORDS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r",? ?or `audiencectl import resume`"),
        "",
    ),
    (
        re.compile(r"`audiencectl import resume` then `audiencectl import run`"),
        "r, then F8, on the Workflow tab of Audiences",
    ),
    (re.compile(r"\(`audiencectl import resume`\)"), "(Resume: r on the Workflow tab)"),
    (
        re.compile(r"(?:run )?`audiencectl import resume`"),
        "Resume (r on the Workflow tab of Audiences, F6)",
    ),
    (re.compile(r"`audiencectl import run`"), "F8 on the Workflow tab of Audiences (F6)"),
    (
        re.compile(r"run without --offline, or `audiencectl probe (import|export)`"),
        "untick offline (o) and run it again (Enter), or probe it on Accounts (F4)",
    ),
    (
        re.compile(r"run without --offline"),
        "untick offline (o) and run it again (Enter)",
    ),
    (
        re.compile(r"`audiencectl probe --trust-new-host-key`"),
        "probe it on Accounts (F4) and accept the key in the dialog",
    ),
    (
        re.compile(r"accept it \(--trust-new-host-key\)"),
        "accept it in the dialog the probe opens (Accounts, F4)",
    ),
    (
        re.compile(r"`audiencectl hostkey forget [^`]*`"),
        "Ctrl+K on Accounts (F4)",
    ),
    (
        re.compile(r"`audiencectl checklist confirm [^`]*` \(or c on the checklist\)"),
        "c on this row",
    ),
    (
        re.compile(r"`audiencectl request status (sent|provisioned)`"),
        r"F10 on Request (F3) moves its status on to \1",
    ),
    (
        re.compile(r"`audiencectl import run --once`"),
        "F8 on the Workflow tab of Audiences (F6)",
    ),
    (
        re.compile(
            r"run `audiencectl crypto diagnose [^`]*` \(or F5 > Website check, (with [^)]*)\)"
        ),
        r"run the Website check on Sources (F5, Ctrl+T) \1",
    ),
    (
        re.compile(r"`audiencectl crypto diagnose`"),
        "the Website check on Sources (F5, Ctrl+T)",
    ),
    (re.compile(r"`audiencectl probe import`"), "F8 on Accounts (F4)"),
    (re.compile(r"`audiencectl probe export`"), "F9 on Accounts (F4)"),
    (re.compile(r"`audiencectl probe`"), "the probe on Accounts (F4)"),
]


def for_console(text: str) -> str:
    """``text`` with the CLI commands and flags it names replaced by the console's keys."""
    for pattern, words in _CONSOLE_WORDS:
        text = pattern.sub(words, text)
    return text
