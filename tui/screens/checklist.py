"""Troubleshooting checklist (being built)."""

from __future__ import annotations

from tui.screens.pending import PendingScreen


class ChecklistScreen(PendingScreen):
    AREA = "Troubleshooting checklist"
    WHAT = "the guided walkthrough; audiencectl doctor will run it headless."
