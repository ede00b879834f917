"""F1 help: the right topic for each screen, every form field explained, the real keys."""

from __future__ import annotations

import itertools
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Checkbox, Input, MarkdownViewer, TextArea

from core.checks import CHECK_IDS
from core.outcomes import Outcome
from tests.tui_helpers import app_for, services_with_sample, wait_until
from tui.app import SCREENS, AudienceApp
from tui.modals.help import HelpModal, help_topic, key_label
from tui.screens.accounts import AccountsScreen
from tui.screens.audiences import AudiencesScreen
from tui.screens.datasources import DataSourcesScreen
from tui.screens.request import RequestScreen

ROOT = Path(__file__).resolve().parent.parent
KEYS = {mode: key for mode, _, key in SCREENS}

#: A heading only that screen's help has, and its first title.
DISTINCT = {
    "home": ("Home: the setup at a glance", "### 4. Tracking server"),
    "request": ("Request: the provisioning request", "### IMS Org ID"),
    "accounts": ("Accounts: the two external accounts", "### Pinned key"),
    "datasources": ("Sources: the shared data sources", "### AES IV"),
    "audiences": ("Audiences: dry runs, the import workflow, exports", "### Audience files"),
    "checklist": ("Checklist: when audiences are not shared", "### account.direction"),
}


async def _open(app: AudienceApp, pilot, mode: str) -> Screen[None]:  # type: ignore[no-untyped-def]
    await pilot.press(KEYS[mode])
    await pilot.pause()
    return app.screen


async def _help_text(db_path: Path, mode: str | None) -> str:
    """The help F1 shows on a screen (``None``: the first screen, Home)."""
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(100, 36)) as pilot:
        if mode is not None:
            await _open(app, pilot, mode)
        await pilot.press("f1")
        await pilot.pause()
        return app.screen.text  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("mode", list(DISTINCT))
async def test_f1_opens_the_screens_help_and_escape_closes_it(db_path: Path, mode: str) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await _open(app, pilot, mode)
        focused = app.focused
        await pilot.press("f1")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, HelpModal)
        assert modal.mode == mode
        title, heading = DISTINCT[mode]
        assert heading in modal.text
        for other, (_, other_heading) in DISTINCT.items():
            if other != mode:
                assert other_heading not in modal.text
        contents = modal.query_one(MarkdownViewer).document.table_of_contents or []
        assert [str(label) for level, label, _ in contents if level == 1] == [title]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert app.focused is focused


async def test_f1_and_q_also_close_and_the_text_scrolls_with_keys(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, "datasources")
        await pilot.press("f1")
        await pilot.pause()
        viewer = app.screen.query_one(MarkdownViewer)
        assert app.focused is not None and viewer in app.focused.ancestors_with_self
        assert viewer.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert viewer.scroll_y > 0
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        await pilot.press("q")
        await pilot.pause()
        assert app.screen is screen


def _plain(text: str) -> str:
    """A field's name without its trailing remark: 'AES IV (16 bytes)' -> 'AES IV'."""
    return re.sub(r"\s*\(.*\)$", "", text).strip()


def _field_names(screen: Screen[None], selector: str) -> set[str]:
    """The name of every field the screen shows: its field labels and its checkboxes."""
    names = {_plain(str(label.render())) for label in screen.query(selector)}
    for box in screen.query(Checkbox):
        if box.id != "cl-offline":
            names.add(_plain(str(box.label)))
    return names - {""}


#: Each form's screen, how its field labels are found, and a few that must be among them.
FORMS = {
    "request": (RequestScreen, ".field > Label", {"IMS Org ID", "Environment name"}),
    "accounts": (AccountsScreen, ".acct-label", {"Host", "Private key", "Pinned key", "Folder"}),
    "datasources": (
        DataSourcesScreen,
        ".ds-label",
        {"DPID", "AES key", "AES IV", "Triggers only", "Channel", "Website sample"},
    ),
    "audiences": (
        AudiencesScreen,
        ".row-label, .row-label-short",
        {"Audience files", "Visitors", "Segment ID", "gzip"},
    ),
}


@pytest.mark.parametrize("mode", list(FORMS))
async def test_every_field_on_the_form_has_a_help_entry(db_path: Path, mode: str) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, mode)
        cls, selector, some = FORMS[mode]
        assert isinstance(screen, cls)
        names = _field_names(screen, selector)
        assert some <= names  # the widgets were really found
        text = help_topic(mode)
        headings = {line[4:].strip() for line in text.splitlines() if line.startswith("### ")}
        # gzip is explained under Folder, not as its own entry
        missing = sorted(n for n in names - {"gzip"} if n not in headings)
        assert not missing, f"no '### <field>' entry in tui/help/{mode}.md for {missing}"


def test_the_checklist_help_explains_every_check() -> None:
    text = help_topic("checklist")
    for check_id in CHECK_IDS:
        assert f"### {check_id}\n" in text


def test_key_labels() -> None:
    assert key_label("f8") == "F8"
    assert key_label("ctrl+s") == "Ctrl+S"
    assert key_label("r,enter") == "r / Enter"
    assert key_label("escape,q") == "Esc / q"
    assert key_label("down,j") == "↓ / j"


async def test_the_keys_table_lists_the_real_bindings(db_path: Path) -> None:
    keys = (await _help_text(db_path, "accounts")).split("## Keys", 1)[1]
    for row in (
        "| F8 | Probe import |",
        "| F9 | Probe export |",
        "| F10 | Probe both |",
        "| Ctrl+S | Save |",
        "| Esc | Cancel probe |",
        "| F1 | Help |",
        "| F2 | Go to the Home screen |",
        "| F7 | Go to the Checklist screen |",
        "| Ctrl+Q | Quit |",
        "| Ctrl+P | Command palette",
    ):
        assert row in keys
    # every binding of the screen is there, hidden ones included
    for binding in AccountsScreen.BINDINGS:
        assert isinstance(binding, Binding)
        assert f"| {key_label(binding.key)} | {binding.description} |" in keys
    assert "F7 | Probe" not in keys  # the old map is gone


async def test_the_audiences_help_lists_every_outcome(db_path: Path) -> None:
    text = await _help_text(db_path, "audiences")
    for outcome in Outcome:
        assert f"| `{outcome.value}` |" in text
    assert "| F8 | Run |" in text
    assert "| p | Pause |" in text


async def test_help_from_the_command_palette(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(100, 36)) as pilot:
        await _open(app, pilot, "request")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"help: this screen")
        from textual.command import CommandList

        def offered() -> bool:
            options = app.screen.query_one(CommandList)
            return any(
                "help: this screen" in str(options.get_option_at_index(i).prompt)
                for i in range(options.option_count)
            )

        await wait_until(pilot, offered, "the palette offers help")  # it searches in the background
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        assert app.screen.mode == "request"


async def test_f_keys_reach_the_screen_while_a_text_field_has_focus(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await _open(app, pilot, "request")
        screen.query_one("#organization", Input).focus()
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        assert len(copied) == 1
        screen.query_one("#additional_info", TextArea).focus()
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        assert len(copied) == 2
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.focused, TextArea)  # focus came back to the field
        await pilot.press("f4")  # navigation too (TextArea binds F6/F7 itself)
        await pilot.pause()
        assert isinstance(app.screen, AccountsScreen)
        await pilot.press("f7")
        await pilot.pause()
        assert type(app.screen).__name__ == "ChecklistScreen"


def test_help_files_ship_in_the_package() -> None:
    folder = resources.files("tui").joinpath("help")
    for mode, _, _ in SCREENS:
        entry = folder.joinpath(f"{mode}.md")
        assert entry.is_file(), f"tui/help/{mode}.md is missing"
        assert entry.read_text(encoding="utf-8").startswith("# ")
    # hatch puts every file under the listed packages into the wheel: tui must stay listed,
    # and nothing may exclude the Markdown files
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "tui" in wheel["packages"]
    assert not any(".md" in pattern for pattern in wheel.get("exclude", []))


async def test_the_keys_table_includes_inherited_bindings(db_path: Path) -> None:
    """Home inherits `x` (hide the first-run tips) from FirstRunKeys."""
    keys = (await _help_text(db_path, None)).split("## Keys", 1)[1]
    assert "| x | Hide tips |" in keys
    assert "| r | Refresh |" in keys


def test_no_line_of_prose_starts_a_stray_list() -> None:
    """Issue 19.6: a wrapped line beginning "- skip" became a bullet. A list item right
    after a line of prose (no blank line between) is such a wrap."""

    item = re.compile(r"^\s*([-*+]|\d+[.)])\s")
    for path in sorted((ROOT / "tui" / "help").glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, (before, line) in enumerate(itertools.pairwise(lines), start=2):
            prose = (
                before.strip()
                and not item.match(before)
                and not before.startswith(("#", " ", "|", "`"))
            )
            assert not (prose and item.match(line)), f"{path.name}:{number}: {line!r}"
