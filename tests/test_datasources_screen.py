"""Pilot tests of the data sources screen (F5): the form, its checks, the website check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from core.model import Environment
from storage.samples import last_sample
from tests.conftest import SAMPLE_TOML
from tests.external import needs_openssl, openssl_cbc_hex
from tests.tui_helpers import app_for, services_with_sample
from tui.app import AudienceApp
from usecases.services import Services

KEY = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV = "000102030405060708090a0b0c0d0e0f"
OTHER_IV = "0f0e0d0c0b0a09080706050403020100"

SECOND_SOURCE = """
[[datasources]]
label = "Recipient - SMS"
alias = "Adobe Campaign"
dpid = 14017
destination_id = 46391
priority = 5
id_type = "declared"
reconciliation_key = "mobile_phone"
transform = "sha256"
channel = "sms"
"""


def openssl_sample(value: str, iv: str = IV) -> str:
    """What a website using openssl (AES-256-CBC, PKCS#7) would send, as lower-case hex."""
    return openssl_cbc_hex(value, KEY, iv)


def two_sources(db_path: Path) -> tuple[Services, Environment]:
    return services_with_sample(db_path, SAMPLE_TOML + SECOND_SOURCE)


def load_profiles(services: Services, env: str, rows: list[list[str]]) -> None:
    """Profiles as `profiles load` stores them: columns by position, data a JSON array."""
    columns = ["id", "email", "mobile_phone"]
    with services.store.transaction() as conn:
        for position, name in enumerate(columns):
            conn.execute(
                "INSERT INTO profile_columns (env, position, name) VALUES (?, ?, ?)",
                (env, position, name),
            )
        for row in rows:
            conn.execute(
                "INSERT INTO profiles (env, id, data) VALUES (?, ?, ?)",
                (env, row[0], json.dumps(row)),
            )


def text_of(app: AudienceApp, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def open_sources(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f5")
    await pilot.pause()


def stored_config(services: Services) -> str:
    row = services.store.conn.execute("SELECT config FROM environments").fetchone()
    return str(row[0])


async def test_table_is_ordered_by_priority_and_priority_saves(db_path: Path) -> None:
    services, _ = two_sources(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        table = app.screen.query_one("#ds-table", DataTable)
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert labels == ["Recipient - Email", "Recipient - SMS"]
        table.move_cursor(row=1)
        await pilot.pause()
        assert app.screen.query_one("#label", Input).value == "Recipient - SMS"
        app.screen.query_one("#priority", Input).value = "20"
        await pilot.press("ctrl+s")
        await pilot.pause()
        env = services.repo.require(None)
        assert env.datasource("Recipient - SMS").priority == 20
        assert env.datasource("Recipient - Email").priority == 10
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert labels == ["Recipient - SMS", "Recipient - Email"]
        # the untouched data source keeps its sealed key
        email = env.datasource("Recipient - Email")
        assert services.secret(env, email, "aes_key") == KEY


async def test_iv_of_15_bytes_is_refused_and_kept_in_the_field(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    before = stored_config(services)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sources(pilot)
        box = app.screen.query_one("#aes_iv", Input)
        assert box.password
        box.value = "000102030405060708090a0b0c0d0e"  # 15 bytes
        app.screen.query_one("#priority", Input).value = "11"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = text_of(app, "#aes_iv-error")
        assert "AES IV" in error
        assert "15 bytes" in error
        assert "Adobe's documentation is wrong" in error
        assert stored_config(services) == before  # nothing saved
        assert box.value == "000102030405060708090a0b0c0d0e"  # what was typed stays
        assert app.screen.query_one("#priority", Input).value == "11"


async def test_wrong_key_length_and_non_numeric_destination(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    before = stored_config(services)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        app.screen.query_one("#aes_key", Input).value = "00112233445566778899aabbccddeeff00"
        app.screen.query_one("#destination_id", Input).value = "Adobe Campaign"
        await pilot.pause()
        assert "17 bytes" in text_of(app, "#aes_key-error")
        assert "16, 24 or 32" in text_of(app, "#aes_key-error")
        assert "not a number" in text_of(app, "#destination_id-error")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert stored_config(services) == before


async def test_transform_and_id_type_hide_fields(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        screen = app.screen
        assert screen.query_one("#row-aes_key").display
        assert screen.query_one("#row-aes_iv").display
        screen.query_one("#transform", Select).value = "sha256"
        await pilot.pause()
        assert not screen.query_one("#row-aes_key").display
        assert not screen.query_one("#row-aes_iv").display
        assert not screen.query_one("#row-ciphertext_encoding").display
        screen.query_one("#transform", Select).value = "aes"
        await pilot.pause()
        assert screen.query_one("#row-aes_iv").display
        screen.query_one("#id_type", Select).value = "visitor"
        await pilot.pause()
        for row in ("transform", "channel", "reconciliation_key", "aes_key"):
            assert not screen.query_one(f"#row-{row}").display
        screen.query_one("#id_type", Select).value = "declared"
        await pilot.pause()
        assert screen.query_one("#row-channel").display


async def test_duplicate_priority_within_an_alias_warns(db_path: Path) -> None:
    services, _ = two_sources(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        assert text_of(app, "#priority-warning") == ""
        app.screen.query_one("#priority", Input).value = "5"
        await pilot.pause()
        warning = text_of(app, "#priority-warning")
        assert warning.startswith("!")
        assert "'Recipient - SMS'" in warning
        # a warning does not block saving
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert services.repo.require(None).datasource("Recipient - Email").priority == 5
        app.screen.query_one("#priority", Input).value = "6"
        await pilot.pause()
        assert text_of(app, "#priority-warning") == ""


async def test_channel_that_does_not_fit_the_column_warns(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    rows = [[f"p{i}", f"user{i}@example.com", f"+3361234{i:04d}"] for i in range(30)]
    load_profiles(services, env.name, rows)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        select = app.screen.query_one("#reconciliation_key-select", Select)
        assert select.display and select.value == "email"
        assert text_of(app, "#channel-warning").startswith("✓ 30 of 30")
        select.value = "mobile_phone"
        await pilot.pause()
        warning = text_of(app, "#channel-warning")
        assert warning.startswith("!")
        assert "named like a phone column" in warning
        assert "0 of 30 sampled values of 'mobile_phone' look like emails, 30 like phone" in warning
        app.screen.query_one("#channel", Select).value = "sms"
        await pilot.pause()
        assert text_of(app, "#channel-warning").startswith("✓")


async def test_sms_channel_over_email_column_warns_without_profiles(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        assert app.screen.query_one("#reconciliation_key-input", Input).display
        app.screen.query_one("#channel", Select).value = "sms"
        await pilot.pause()
        assert "named like an email column" in text_of(app, "#channel-warning")


@needs_openssl
async def test_diagnose_flow_is_stored_and_shown_again(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sources(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#diag-clear", Input).value = "alice@example.com"
        screen.query_one("#diag-sample", Input).value = openssl_sample("alice@example.com")
        screen.query_one("#diag-keep", Checkbox).value = True  # it came from the website
        screen.query_one("#diag-sample", Input).focus()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#diag-verdict").startswith("✓ ok")
        stored = last_sample(services.store, env, "Recipient - Email")
        assert stored is not None and stored.diagnosis == "ok"

        wrong = openssl_sample("alice@example.com", OTHER_IV)
        screen.query_one("#diag-sample", Input).value = wrong
        await pilot.click("#diagnose")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#diag-verdict").startswith("✗ wrong_iv")
        assert "IV" in text_of(app, "#diag-detail")
        assert KEY not in text_of(app, "#diag-detail")
    stored = last_sample(services.store, env.name, "Recipient - Email")
    assert stored is not None and stored.diagnosis == "wrong_iv" and stored.sample == wrong

    reopened = AudienceApp(Services(db_path=db_path))
    async with reopened.run_test(size=(80, 24)) as pilot:
        await open_sources(pilot)
        assert text_of(reopened, "#diag-verdict").startswith("✗ wrong_iv")
        assert reopened.screen.query_one("#diag-sample", Input).value == wrong
        assert "checked 2" in text_of(reopened, "#diag-when")


async def test_diagnose_of_a_test_sample_keeps_nothing(db_path: Path) -> None:
    """Issue 19.13: without 'from the website' ticked, the verdict shows and nothing is kept."""
    services, env = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sources(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#diag-keep", Checkbox).value is False
        screen.query_one("#diag-clear", Input).value = "alice@example.com"
        wrong = openssl_sample("alice@example.com", OTHER_IV)
        screen.query_one("#diag-sample", Input).value = wrong
        await pilot.click("#diagnose")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#diag-verdict").startswith("✗ wrong_iv")
        assert "not kept" in text_of(app, "#diag-when")
    assert last_sample(services.store, env.name, "Recipient - Email") is None


async def test_diagnose_with_unresolvable_key_says_why_and_stores_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AC_MISSING_KEY", raising=False)
    toml = SAMPLE_TOML.replace(f'aes_key = "{KEY}"', 'aes_key = "env:AC_MISSING_KEY"')
    services, env = services_with_sample(db_path, toml)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        await pilot.press("ctrl+t")
        app.screen.query_one("#diag-clear", Input).value = "alice@example.com"
        app.screen.query_one("#diag-sample", Input).value = "00" * 32
        await pilot.click("#diagnose")
        await app.workers.wait_for_complete()
        await pilot.pause()
        verdict = text_of(app, "#diag-verdict")
        assert verdict.startswith("✗ the check could not run")
        assert "AC_MISSING_KEY" in verdict
    assert last_sample(services.store, env, "Recipient - Email") is None


async def test_show_import_workflow_opens_audiences(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sources(pilot)
        await pilot.click("#ds-workflow")
        await pilot.pause()
        assert type(app.screen).__name__ == "AudiencesScreen"
        await open_sources(pilot)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert type(app.screen).__name__ == "AudiencesScreen"


async def test_new_then_delete_with_confirmation(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#label", Input).value == ""
        screen.query_one("#label", Input).value = "Recipient - Visitor ID"
        screen.query_one("#alias", Input).value = "Adobe Campaign"
        screen.query_one("#dpid", Input).value = "14016"
        screen.query_one("#priority", Input).value = "1"
        await pilot.press("ctrl+s")
        await pilot.pause()
        # the destination ID is required unless Triggers only
        assert "Triggers only" in text_of(app, "#destination_id-error")
        assert len(services.repo.require(None).datasources) == 1
        screen.query_one("#triggers_only").value = True  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        env = services.repo.require(None)
        visitor = env.datasource("Recipient - Visitor ID")
        assert visitor.triggers_only and visitor.destination_id is None
        assert visitor.id_type.value == "visitor"

        await pilot.press("f8")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.click("#no")
        await pilot.pause()
        assert len(services.repo.require(None).datasources) == 2
        await pilot.press("f8")
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        labels = [ds.label for ds in services.repo.require(None).datasources]
        assert labels == ["Recipient - Email"]


async def test_rename_keeps_the_stored_key(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        app.screen.query_one("#label", Input).value = "Recipient - Email (AES)"
        await pilot.press("ctrl+s")
        await pilot.pause()
    env = services.repo.require(None)
    ds = env.datasource("Recipient - Email (AES)")
    assert services.secret(env, ds, "aes_key") == KEY
    assert services.secret(env, ds, "aes_iv") == IV


async def test_secret_placeholder_masks_and_new_key_is_sealed(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    new_key = "00112233445566778899aabbccddeeff"
    async with app.run_test(size=(120, 36)) as pilot:
        await open_sources(pilot)
        box = app.screen.query_one("#aes_key", Input)
        assert "••••••" in box.placeholder and KEY not in box.placeholder
        box.value = new_key
        await pilot.press("ctrl+s")
        await pilot.pause()
    env = services.repo.require(None)
    ds = env.datasource("Recipient - Email")
    assert ds.aes_key is not None and ds.aes_key.kind == "stored"
    assert services.secret(env, ds, "aes_key") == new_key
    assert new_key not in stored_config(services)


async def test_ctrl_g_jumps_to_a_field_by_its_label(db_path: Path) -> None:
    """Issue 19.8: 11 Tabs to reach Priority; Ctrl+G and a few letters get there."""
    from tests.tui_helpers import wait_until

    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sources(pilot)
        await pilot.press("ctrl+g")
        await pilot.pause()
        await pilot.press(*"priority")
        from textual.command import CommandList

        def prompts() -> list[str]:
            found = app.screen.query(CommandList)
            if not found:
                return []
            options = found.first()
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await wait_until(pilot, lambda: any("Priority" in p for p in prompts()), "the field list")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.focused is not None and "priority" in (app.focused.id or ""),
            "the cursor in Priority",
        )
