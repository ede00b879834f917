"""The title line of a screen: what it is for, in one sentence."""

from __future__ import annotations

from textual.widgets import Static


class ScreenIntro(Static):
    DEFAULT_CLASSES = "screen-intro"

    def __init__(self, text: str, **kwargs: object) -> None:
        super().__init__(text, markup=False, **kwargs)  # type: ignore[arg-type]
