"""Audiences (being built)."""

from __future__ import annotations

from tui.screens.pending import PendingScreen


class AudiencesScreen(PendingScreen):
    AREA = "Audiences"
    WHAT = "dry runs, the import workflow and exports."
