"""Shared data sources (being built)."""

from __future__ import annotations

from tui.screens.pending import PendingScreen


class DataSourcesScreen(PendingScreen):
    AREA = "Shared data sources"
    WHAT = "editing data sources and the website cross-check."
