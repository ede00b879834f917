"""The newcomer's first minutes, at 80x24 with keys only: from the demo's home
screen to a dry-run report and a checklist verdict, then fixing both findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent

from core.demo import SLIP_FIXED_PRIORITY, SLIP_LABEL, build_demo
from core.workflow import State
from storage.audiences import SqliteWorkflowStore
from storage.checks import last_results
from tests.tui_helpers import settle
from tui.app import AudienceApp
from tui.commands.demo import install_demo
from tui.modals.help import HelpModal
from tui.screens.audiences import AudiencesScreen
from tui.screens.checklist import ChecklistScreen
from tui.screens.datasources import DataSourcesScreen
from tui.widgets.first_run import FirstRunTips
from usecases.services import Services


@pytest.fixture
def demo(tmp_path: Path, frozen_clock, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    workspace = build_demo(tmp_path / "demo")
    monkeypatch.chdir(workspace.root)
    services = Services(db_path=workspace.db_path, env_name="demo")
    install_demo(services, workspace)
    yield services
    services.close()


def text_of(screen, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(screen.query_one(selector, Static).render())


async def test_from_the_demo_to_a_report_and_a_verdict_then_every_finding_fixed(demo) -> None:  # type: ignore[no-untyped-def]
    services = demo
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.query_one(FirstRunTips).display, "the demo opens with the tips"

        # F1 explains the screen in front, Escape goes back.
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        await pilot.pause()

        # Tip 1: F6 Audiences, F8 runs the dry run; the report shows the match rate.
        await pilot.press("f6", "f8")
        await settle(pilot)
        audiences = app.screen
        assert isinstance(audiences, AudiencesScreen)
        assert audiences.query_one("#dr-report").display
        assert "match rate" in text_of(audiences, "#dr-totals")

        # Tip 2: F7 Checklist shows the verdict stored by the demo: two findings, the paused
        # workflow (a fail) and the copied data source's shared priority (a warning).
        await pilot.press("f7")
        await pilot.pause()
        checklist = app.screen
        assert isinstance(checklist, ChecklistScreen)
        summary = text_of(checklist, "#cl-summary")
        assert "1 fail" in summary and "1 warn" in summary, summary

        # The paused workflow: g opens the tab that fixes it; r resumes, F8 runs a pass.
        checklist.query_one("#check-workflow-import").focus()
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, AudiencesScreen)
        assert app.screen.query_one(TabbedContent).active == "workflow"
        await pilot.press("r")
        await pilot.pause()
        workflow = SqliteWorkflowStore(services.store)
        assert workflow.status("demo").state is State.RUNNING
        before = workflow.processed_count("demo")
        await pilot.press("f8")
        await settle(pilot)
        assert workflow.processed_count("demo") == before + 1, "the waiting batch was imported"

        # The data source slip: F5, pick the copied source, give it its own priority.
        await pilot.press("f5")
        await pilot.pause()
        sources = app.screen
        assert isinstance(sources, DataSourcesScreen)
        table = sources.query_one("#ds-table", DataTable)
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.focus()
        table.move_cursor(row=next(i for i, x in enumerate(labels) if SLIP_LABEL in x))
        await pilot.pause()
        priority = sources.query_one("#priority", Input)
        assert priority.value == "10"
        priority.value = str(SLIP_FIXED_PRIORITY)
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = services.repo.require("demo")
        assert next(d for d in saved.datasources if d.label == SLIP_LABEL).priority == 5

        # Run the whole checklist again, offline: nothing left to fix.
        await pilot.press("f7", "o", "a")
        await settle(pilot)
        summary = text_of(app.screen, "#cl-summary")
        assert "fail" not in summary and "warn" not in summary, summary
        assert "16 pass" in summary
    statuses = {r.id: r.status for r in last_results(services.store, "demo")}
    assert statuses["workflow.import"] == "pass" and statuses["datasource.priority"] == "pass"
