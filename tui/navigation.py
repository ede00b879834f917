"""The console's screens, in the order of Adobe's setup page: (mode, title, key).

A leaf module: the App, the navigation bar and the command palette read it, and
it imports none of them. F1 is help; F8-F10 are the screens' actions.
"""

from __future__ import annotations

SCREENS: list[tuple[str, str, str]] = [
    ("home", "Home", "f2"),
    ("request", "Request", "f3"),
    ("accounts", "Accounts", "f4"),
    ("datasources", "Sources", "f5"),
    ("audiences", "Audiences", "f6"),
    ("checklist", "Checklist", "f7"),
]
