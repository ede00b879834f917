"""User strings in the console: always text, never markup.

Labels, file names, hosts, folders and notes come from the user or from a
server. Textual reads a plain ``str`` as markup in many places (a DataTable
cell, a Select option, a Label, a notification), so ``[b]`` would turn bold and
``[@click=app.quit]`` would become a link that quits. :func:`plain` makes such
a string a :class:`rich.text.Text`, shown exactly as typed, with control
characters and bytes that are not UTF-8 escaped (``core.text.printable_name``).
"""

from __future__ import annotations

from rich.text import Text

from core.text import printable_name


def plain(value: object) -> Text:
    """``value`` as one line of plain text (never markup, control characters escaped)."""
    return Text(printable_name(str(value)))
