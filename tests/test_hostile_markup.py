"""User strings (labels, folders, users, organization) are text in the console, never
markup: a label holding ``[b]…[/b]`` and a ``[@click=app.quit]`` link shows as typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE_TOML
from tests.tui_helpers import app_for, services_with_sample
from tui.app import SCREENS

LABEL = "[b]X[/b] [@click=app.quit]QUIT[/]"
FOLDER = "/in[b]box[/b]"
ORG = "[i]Evil[/i] Corp"
HOSTILE_TOML = (
    SAMPLE_TOML.replace('label = "Recipient - Email"', f'label = "{LABEL}"')
    .replace('remote_dir = "/outbound"', f'remote_dir = "{FOLDER}"')
    .replace('organization = "Example Corp"', f'organization = "{ORG}"')
)


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    """Everything the screen's widgets show, as plain text (one widget line a line)."""
    return "\n".join(
        "".join(segment.text for segment in line)
        for widget in app.screen.walk_children()
        for line in _lines(widget)
    )


@pytest.mark.parametrize(("mode", "key"), [(m, k) for m, _, k in SCREENS])
async def test_user_strings_are_shown_as_typed_on_every_screen(
    tmp_path: Path, mode: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    services, _ = services_with_sample(tmp_path / "store.db", HOSTILE_TOML)
    app = app_for(services)
    try:
        async with app.run_test(size=(220, 60)) as pilot:
            await pilot.press(key)
            await pilot.pause()
            shown = screen_text(app)
            # a markup-rendered label would show "X QUIT" without its brackets
            assert "X QUIT" not in shown.replace("[b]X[/b] [@click=app.quit]QUIT[/]", "")
            if mode in ("home", "datasources"):
                assert "[b]X[/b]" in shown, mode
            for widget in app.screen.walk_children():
                for line in _lines(widget):
                    for segment in line:
                        style = segment.style
                        click = str((style.meta or {}).get("@click", "")) if style else ""
                        assert "quit" not in click, (mode, widget, segment.text)
                        assert not (style and style.link and "app.quit" in style.link)
            assert app.is_running
    finally:
        services.close()


def _lines(widget):  # type: ignore[no-untyped-def]
    try:
        return widget.render_lines(widget.region.reset_offset) if widget.region.area else []
    except Exception:
        return []


async def test_a_notification_with_markup_is_text(tmp_path: Path) -> None:
    services, _ = services_with_sample(tmp_path / "store.db", HOSTILE_TOML)
    app = app_for(services)
    try:
        async with app.run_test(size=(220, 60)) as pilot:
            app.notify(f"saved {LABEL}")
            await pilot.pause()
            notification = list(app._notifications)[-1]
            assert notification.markup is False
    finally:
        services.close()
