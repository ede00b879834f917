"""Pilot tests of the checklist screen: run all with progress, expand, re-run, go to fix."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, ProgressBar, Static

from core.checks import CHECK_IDS
from storage.checks import last_results
from tests.tui_helpers import app_for, services_with_sample, wait_until
from tui.widgets.check_item import CheckItem


async def _wait_idle(app, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await wait_until(pilot, lambda: app.screen.running is None, "the checks finished")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_run_all_offline_shows_progress_and_stores_results(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        screen = app.screen
        assert type(screen).__name__ == "ChecklistScreen"
        assert "Never run" in str(screen.query_one("#cl-summary", Static).render())
        await pilot.press("o")  # offline: nothing leaves the machine
        assert screen.query_one("#cl-offline", Checkbox).value is True
        await pilot.press("a")
        await _wait_idle(app, pilot)
        progress = screen.query_one("#cl-progress", ProgressBar)
        assert progress.display
        assert progress.total == len(CHECK_IDS) and progress.progress == len(CHECK_IDS)
        stored = last_results(services.store, env.name)
        assert [r.id for r in stored] == list(CHECK_IDS)
        statuses = {item.check_id: item.status_name for item in screen.query(CheckItem)}
        assert statuses["account.import.reachable"] == "skip"  # sftp account, offline
        assert statuses["datasource.configured"] == "pass"
        assert "Last run" in str(screen.query_one("#cl-summary", Static).render())


async def test_expand_rerun_one_and_go_to_fix(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        screen = app.screen
        first = screen.query_one("#check-request-complete", CheckItem)
        assert screen.focused is first
        await pilot.press("enter")  # re-run just this one
        await _wait_idle(app, pilot)
        assert first.status_name == "warn"  # a draft request
        assert [r.id for r in last_results(services.store, env.name)] == ["request.complete"]
        await pilot.press("space")
        await pilot.pause()
        assert first.expanded
        body = str(first.query_one(".check-body", Static).render())
        assert "not sent yet" in body and "Fix:" in body
        await pilot.press("space")
        await pilot.pause()
        assert not first.expanded
        await pilot.press("g")
        await pilot.pause()
        assert type(app.screen).__name__ == "RequestScreen"


async def test_down_moves_between_items_and_go_to_fix_opens_accounts(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f7", "o", "down")
        await pilot.pause()
        screen = app.screen
        assert screen.focused.id == "check-account-import-configured"  # type: ignore[union-attr]
        await pilot.press("r")
        await _wait_idle(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        assert type(app.screen).__name__ == "AccountsScreen"


async def test_cancel_keeps_what_finished(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f7", "o", "a", "escape")
        await _wait_idle(app, pilot)
        stored = last_results(services.store, env.name)
        assert len(stored) <= len(CHECK_IDS)
        assert app.screen.running is None


async def test_hints_in_the_console_name_keys_not_cli_flags(db_path: Path) -> None:
    """Issue 19.10: "run without --offline" in the console; it has a key for that."""
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        screen = app.screen
        await pilot.press("o")
        await pilot.press("a")
        await _wait_idle(app, pilot)
        texts = []
        for item in screen.query(CheckItem):
            if item.result is not None and item.result.fix:
                texts.append(item.body_text())
        assert texts
        joined = "\n".join(texts)
        for cli in ("--offline", "--trust-new-host-key", "audiencectl import resume"):
            assert cli not in joined, cli
        assert "untick offline (o)" in joined  # the sftp accounts were skipped offline
