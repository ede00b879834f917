"""Console: the checklist's c key (confirm a manual check with a note, withdraw it, refuse
others), and Campaign's ``\\x`` key form in the data-source form."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from core.cipher import parse_key
from storage.checks import last_results
from storage.confirmations import get_confirmation
from tests.tui_helpers import app_for, services_with_sample, wait_until
from tui.modals.prompt import PromptModal
from tui.widgets.check_item import CheckItem
from tui.widgets.datasource_form import SECRET_HELP


async def test_c_confirms_a_manual_check_and_c_again_withdraws_it(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        screen = app.screen
        item = screen.query_one("#check-aam-merge_rule", CheckItem)
        item.focus()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal), "the note prompt")
        app.screen.query_one(Input).value = "LAP rule with DPID 14016"
        await pilot.press("enter")
        await wait_until(pilot, lambda: item.status_name == "pass", "the check confirmed")
        stored = get_confirmation(services.store, env.name, "aam.merge_rule")
        assert stored is not None and stored.note == "LAP rule with DPID 14016"
        assert {r.id: r.status for r in last_results(services.store, env.name)} == {
            "aam.merge_rule": "pass"
        }
        await pilot.press("c")  # standing: c withdraws it
        await wait_until(pilot, lambda: item.status_name == "skip", "the confirmation withdrawn")
        assert get_confirmation(services.store, env.name, "aam.merge_rule") is None


async def test_c_on_a_check_that_is_not_manual_changes_nothing(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        first = app.screen.query_one("#check-request-complete", CheckItem)
        assert app.screen.focused is first
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, PromptModal)
        assert last_results(services.store, env.name) == []


async def test_escape_on_the_note_prompt_confirms_nothing(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        app.screen.query_one("#check-campaign-workflow_started", CheckItem).focus()
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal), "the note prompt")
        await pilot.press("escape")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert get_confirmation(services.store, env.name, "campaign.workflow_started") is None


async def test_the_source_form_takes_campaigns_backslash_x_key_and_refuses_a_broken_one(
    db_path: Path,
) -> None:
    """Keys pasted from Campaign (``\\x`` before every byte) save; a cut one is refused."""
    from tests.test_datasources_screen import open_sources, text_of

    services, _ = services_with_sample(db_path)
    app = app_for(services)
    key = bytes(range(0x10, 0x30))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        box = app.screen.query_one("#aes_key", Input)
        assert "\\x" in SECRET_HELP
        box.value = "".join(f"\\x{b:02x}" for b in key)[:-1]  # the last byte cut short
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "not hexadecimal" in text_of(app, "#aes_key-error")
        box.value = "".join(f"\\x{b:02X}" for b in key)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert text_of(app, "#aes_key-error") == ""
    env = services.repo.require(None)
    ds = env.datasource("Recipient - Email")
    assert parse_key(services.secret(env, ds, "aes_key")) == key


async def test_confirming_keeps_the_header_on_the_last_run_time(db_path: Path) -> None:
    """c stores a confirmation, which is no run: "Last run …" keeps the doctor run's time."""
    from datetime import UTC, datetime

    from core import clock
    from core.checks.base import CheckResult
    from storage.checks import save_results

    services, env = services_with_sample(db_path)
    ran = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    save_results(
        services.store,
        env.name,
        [
            CheckResult("request.complete", "pass", "Request", "filled", at=ran),
            CheckResult("aam.merge_rule", "skip", "Merge rule", "not confirmed", at=ran),
        ],
    )
    clock.freeze(datetime(2026, 5, 6, 7, 8, tzinfo=UTC))
    try:
        app = app_for(services)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("f7")
            await pilot.pause()
            header = app.screen.query_one("#cl-summary", Static)
            assert "Last run 2026-01-02 03:04Z" in str(header.render())
            item = app.screen.query_one("#check-aam-merge_rule", CheckItem)
            item.focus()
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, PromptModal), "the prompt")
            app.screen.query_one(Input).value = "seen"
            await pilot.press("enter")
            await wait_until(pilot, lambda: item.status_name == "pass", "the check confirmed")
            await pilot.pause()
            assert "Last run 2026-01-02 03:04Z" in str(header.render())
            assert "2026-05-06" not in str(header.render())
    finally:
        clock.freeze(None)
