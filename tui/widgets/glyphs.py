"""Status glyphs: never colour alone, always a glyph and a word."""

from __future__ import annotations

from rich.text import Text

GLYPHS: dict[str, tuple[str, str]] = {
    # state: (glyph, style from the theme's semantic colours)
    "done": ("✓", "$success"),
    "pass": ("✓", "$success"),
    "warn": ("!", "$warning"),
    "fail": ("✗", "$error"),
    "todo": ("·", "$text-muted"),
    "skip": ("-", "$text-muted"),
    "running": ("…", "$accent"),
}


def glyph(state: str) -> str:
    return GLYPHS.get(state, ("?", ""))[0]


def badge(state: str, word: str | None = None) -> Text:
    """``✓ pass`` and friends as a Rich Text whose style class the theme colours."""
    mark = glyph(state)
    style = {
        "done": "bold green",
        "pass": "bold green",
        "warn": "bold yellow",
        "fail": "bold red",
        "running": "bold cyan",
    }.get(state, "dim")
    return Text(f"{mark} {word or state}", style=style)
