"""The first-run tips on the home screen, the settings table behind them, and its migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.demo import build_demo
from storage.db import Store, _statements
from storage.migrations import MIGRATIONS, SCHEMA_VERSION
from storage.reset import forget_environment
from storage.settings import (
    arm_first_run_tips,
    dismiss_first_run_tips,
    first_run_tips_wanted,
    get_setting,
    set_setting,
)
from tests.tui_helpers import app_for, services_with_sample
from tui.commands.demo import install_demo
from tui.screens.home import HomeScreen
from tui.widgets.first_run import FirstRunTips
from usecases.services import Services

SIZE = (100, 30)


@pytest.fixture
def demo_services(tmp_path: Path, frozen_clock, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    workspace = build_demo(tmp_path / "demo")
    services = Services(db_path=workspace.db_path, env_name="demo")
    install_demo(services, workspace)
    yield services
    services.close()


def tips_of(app) -> FirstRunTips:  # type: ignore[no-untyped-def]
    assert isinstance(app.screen, HomeScreen)
    return app.screen.query_one(FirstRunTips)


def footer_keys(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {key for key, active in app.active_bindings.items() if active.enabled}


async def test_tips_show_in_the_demo_and_x_dismisses_them_for_good(demo_services) -> None:  # type: ignore[no-untyped-def]
    services = demo_services
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tips = tips_of(app)
        assert tips.display
        text = str(tips.render())
        assert text.index("F6") < text.index("F8") < text.index("F7") < text.index("F1")
        assert "Ctrl+P" in text
        assert tips.border_subtitle == "x hides these tips"
        assert "x" in footer_keys(app)
        await pilot.press("x")
        await pilot.pause()
        assert not tips.display
        assert "x" not in footer_keys(app)
    assert not first_run_tips_wanted(services.store, "demo")
    again = app_for(services)  # the console opened again on the same store
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not tips_of(again).display
        await pilot.press("x")  # nothing to hide: nothing happens
        await pilot.pause()
        assert get_setting(services.store, "demo", "first_run_tips") == "dismissed"


async def test_a_store_that_never_ran_the_demo_shows_no_tips(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not tips_of(app).display
        assert "x" not in footer_keys(app)
    services.close()


def test_settings_are_per_environment_and_follow_it(tmp_path: Path) -> None:
    services, env = services_with_sample(tmp_path / "s.db")
    try:
        assert get_setting(services.store, env.name, "first_run_tips") is None
        arm_first_run_tips(services.store, env.name)
        assert first_run_tips_wanted(services.store, env.name)
        assert not first_run_tips_wanted(services.store, "other")
        dismiss_first_run_tips(services.store, env.name)
        assert not first_run_tips_wanted(services.store, env.name)
        set_setting(services.store, env.name, "k", "1")
        set_setting(services.store, env.name, "k", "2")
        assert get_setting(services.store, env.name, "k") == "2"
        forget_environment(services.store, env.name)
        assert get_setting(services.store, env.name, "k") is None
        assert services.repo.names() == []
    finally:
        services.close()


def test_forgetting_the_demo_leaves_other_environments_alone(demo_services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    services = demo_services
    _, other = services_with_sample(services.db_path)
    arm_first_run_tips(services.store, other.name)
    forget_environment(services.store, "demo")
    assert services.repo.names() == [other.name]
    assert first_run_tips_wanted(services.store, other.name)
    for table in (
        "profiles",
        "visitors",
        "segment_members",
        "processed_files",
        "import_runs",
        "check_results",
        "workflow",
        "env_settings",
    ):
        rows = services.store.conn.execute(
            f"SELECT count(*) FROM {table} WHERE env = 'demo'"
        ).fetchone()[0]
        assert rows == 0, table


def test_a_version_1_store_migrates_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("INSERT INTO environments VALUES ('prod', '{}', '2026-01-01', '2026-01-01')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
        assert store.conn.execute("SELECT name FROM environments").fetchall() == [("prod",)]
        assert "env_settings" in store.db.table_names()
        assert get_setting(store, "prod", "first_run_tips") is None
        set_setting(store, "prod", "first_run_tips", "dismissed")
    with Store(path) as store:
        assert get_setting(store, "prod", "first_run_tips") == "dismissed"
