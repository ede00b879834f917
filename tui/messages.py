"""Messages the screens exchange with the App."""

from __future__ import annotations

from textual.message import Message


class EnvironmentChanged(Message):
    """The environment was saved or switched: screens showing it refresh."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
