"""SVG snapshot of the F1 help at 80x24: the request screen's help over the form."""

from __future__ import annotations

from pathlib import Path

from tests.tui_helpers import app_for, services_with_sample, settled_press


def test_help_modal_80x24(snap_compare, db_path: Path, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    services, _ = services_with_sample(db_path)
    assert snap_compare(
        app_for(services), run_before=settled_press("f3", "f1"), terminal_size=(80, 24)
    )
