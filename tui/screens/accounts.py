"""External accounts (being built)."""

from __future__ import annotations

from tui.screens.pending import PendingScreen


class AccountsScreen(PendingScreen):
    AREA = "External accounts"
    WHAT = "probing the importSharedAudience and exportSharedAudience SFTP accounts."
