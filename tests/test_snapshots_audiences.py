"""SVG snapshots of the Audiences screen (F6): the dry-run report, the workflow and export tabs.

Deterministic: the demo is built from a fixed seed, the clock is frozen, the
working folder is the workspace (so paths show as ``aam-outbound``), and the
terminal size is fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from tests.test_audiences_screen import demo_services
from tui.app import AudienceApp
from usecases.importwf import run_pass_now

SIZES = [(80, 24), (120, 36)]


@pytest.fixture
def workspace_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    services, workspace = demo_services(tmp_path / "ws")
    monkeypatch.chdir(workspace.root)
    yield services
    services.close()


async def _settled(pilot) -> None:  # type: ignore[no-untyped-def]
    """Every worker done (the screen reads its counts in one), then two refreshes."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def _dry_run(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    await _settled(pilot)
    await pilot.press("f8")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def _workflow(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    await _settled(pilot)
    pilot.app.screen.query_one(TabbedContent).active = "workflow"
    await _settled(pilot)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_dry_run_report(snap_compare, workspace_services, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = AudienceApp(workspace_services)
    assert snap_compare(app, run_before=_dry_run, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_workflow_tab(snap_compare, workspace_services, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    report = run_pass_now(workspace_services)
    assert report.status == "ok"
    app = AudienceApp(workspace_services)
    assert snap_compare(app, run_before=_workflow, terminal_size=size)


async def _export_preview(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f6", "ctrl+t", "ctrl+t")
    await _settled(pilot)
    await pilot.press("f8")  # the preview: nothing is written
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_export_tab_preview(snap_compare, workspace_services, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert run_pass_now(workspace_services).status == "ok"  # segments to export
    app = AudienceApp(workspace_services)
    assert snap_compare(app, run_before=_export_preview, terminal_size=size)
