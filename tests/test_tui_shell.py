"""Pilot tests of the console shell: navigation, the request form, the palette."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, Static

from core.model import Environment, RequestStatus
from tests.tui_helpers import app_for, services_with_sample, wait_until
from tui.app import AudienceApp
from usecases.services import Services


async def test_function_keys_switch_screens(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        expected = {
            "f3": "RequestScreen",
            "f4": "AccountsScreen",
            "f5": "DataSourcesScreen",
            "f6": "AudiencesScreen",
            "f7": "ChecklistScreen",
            "f2": "HomeScreen",
        }
        for key, screen in expected.items():
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == screen


async def test_home_shows_real_state_and_enter_opens_step(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    services.repo.set_request_status(env, RequestStatus.SENT)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#steps", DataTable)
        first = [str(cell) for cell in table.get_row_at(0)]
        assert "sent since" in first[2]
        accounts = [str(cell) for cell in table.get_row_at(1)]
        assert "never probed" in accounts[2]
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "RequestScreen"


async def test_empty_store_explains_how_to_start(db_path: Path) -> None:
    app = AudienceApp(Services(db_path=db_path))
    async with app.run_test(size=(80, 24)):
        text = str(app.screen.query_one("#next-step", Static).render())
        assert "audiencectl demo" in text
        assert "no environment" in app.sub_title


async def test_request_form_creates_environment(db_path: Path) -> None:
    services = Services(db_path=db_path)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#env-name", Input).value = "staging"
        screen.query_one("#organization", Input).value = "Example Corp"
        screen.query_one("#ims_org_id", Input).value = "not-an-org"
        await pilot.pause()
        error = str(screen.query_one("#ims_org_id-error", Static).render())
        assert "not an IMS Org ID" in error
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert services.repo.names() == []  # invalid: nothing saved
        screen.query_one("#ims_org_id", Input).value = "5DC5123F5245B1D20A490D46@AdobeOrg"
        screen.query_one("#environment", Select).value = "Stage"
        await pilot.pause()
        assert str(screen.query_one("#ims_org_id-error", Static).render()) == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        env = services.repo.get("staging")
        assert env is not None
        assert env.request.environment == "Stage"
        assert env.request.organization == "Example Corp"
        assert "Stage" in str(screen.query_one("#preview", Static).render())
        await pilot.press("f10")
        await pilot.pause()
        assert services.repo.request_status("staging") is RequestStatus.SENT


async def test_request_copy_and_eml(db_path: Path, tmp_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        assert copied and "IMS Org ID:" in copied[0]
        await pilot.press("f9")
        await pilot.pause()
        target = tmp_path / "out.eml"
        app.screen.query_one("#prompt-input", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        message = email.message_from_bytes(target.read_bytes())
        assert "Example Corp" in message["Subject"]


async def test_palette_lists_our_commands(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"request: copy")
        from textual.command import CommandList

        def prompts() -> list[str]:
            options = app.screen.query_one(CommandList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        # the palette searches in the background: wait for its answer, not for a delay
        await wait_until(
            pilot, lambda: any("request: copy email" in p for p in prompts()), "palette answer"
        )


async def test_theme_option_for_ssh_terminals(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = AudienceApp(services, theme="ansi-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "ansi-dark"
        assert app.animation_level == "none"
    unknown = AudienceApp(services, theme="no-such-theme")
    async with unknown.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert unknown.theme == "textual-dark"  # the default, with a warning


async def test_unsaved_request_edits_survive_a_visit_elsewhere(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        app.screen.query_one("#organization", Input).value = "Changed Org"
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        assert app.screen.query_one("#organization", Input).value == "Changed Org"
        assert services.repo.require(None).request.organization == "Example Corp"  # not saved


async def test_several_environments_show_the_first_and_switch(
    db_path: Path, tmp_path: Path
) -> None:
    services, _ = services_with_sample(db_path)
    services.repo.save(Environment("alpha"))
    services.env_name = None
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert services.env_name == "alpha"  # the first, with a notice
        assert "environment alpha" in app.sub_title
        table = app.screen.query_one("#steps", DataTable)
        assert "missing organization" in " ".join(str(table.get_row_at(0)[2]).split())  # may wrap
        app.switch_environment("production")  # type: ignore[attr-defined]
        await pilot.pause()
        table = app.screen.query_one("#steps", DataTable)
        assert "ready to send" in " ".join(str(table.get_row_at(0)[2]).split())
        assert "environment production" in app.sub_title


async def test_quit_asks_first_when_an_edit_was_not_saved(db_path: Path) -> None:
    from tui.modals.confirm import ConfirmModal

    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")  # nothing edited yet: no question
        await pilot.pause()
        assert not app.is_running
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        app.screen.query_one("#priority", Input).value = "42"
        await pilot.press("f3")  # another screen: the edit is kept, and still unsaved
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Sources" in str(app.screen.query_one("#dialog-body", Static).render())
        await pilot.press("escape")  # stay
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, ConfirmModal)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        assert not app.is_running


async def test_palette_finds_other_screens_commands_and_runs_them_there(db_path: Path) -> None:
    """Issue 19.13: searching "status" on Audiences found nothing (the request's command
    lives on the Request screen, never opened yet)."""
    from textual.command import CommandList

    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"status")

        def prompts() -> list[str]:
            options = app.screen.query_one(CommandList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await wait_until(
            pilot, lambda: any("request: next status" in p for p in prompts()), "palette answer"
        )
        await pilot.press("escape")  # again, to choose the checklist's command
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"checklist: toggle offline")
        await wait_until(
            pilot,
            lambda: any("checklist: toggle offline" in p for p in prompts()),
            "palette answer",
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_mode == "checklist", "the checklist opens")
        await wait_until(
            pilot,
            lambda: app.screen.query_one("#cl-offline").value is True,  # type: ignore[attr-defined]
            "the command ran there",
        )


async def test_toasts_never_cover_a_dialog(db_path: Path) -> None:
    """Issue 19.13: the copy toast hid the .eml save dialog for 5 s."""
    from textual.widgets._toast import Toast

    from tui.modals.prompt import PromptModal

    services, _ = services_with_sample(db_path)
    app = app_for(services)
    app.copy_to_clipboard = lambda text: None  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("f8")  # copy: a toast
        await wait_until(pilot, lambda: bool(app.screen.query(Toast)), "the copy toast")
        await pilot.press("f9")  # the .eml save dialog
        await wait_until(pilot, lambda: isinstance(app.screen, PromptModal), "the dialog")
        await pilot.pause()
        await pilot.pause()
        shown = app.export_screenshot().replace("&#160;", " ")  # what the terminal shows
        assert "Save the email as .eml" in shown
        assert "copied" not in shown
        assert app._notifications  # kept: they show again once the dialog closes


@pytest.mark.parametrize(
    ("env", "setting", "says"),
    [
        ({"TMUX": "/tmp/tmux-0/default,1,0"}, "external", "set -g set-clipboard on"),
        ({"TMUX_PANE": "%1"}, None, "set -g set-clipboard on"),
        ({"TMUX": "/tmp/tmux-0/default,1,0"}, "on", "tmux passes it on"),
        ({}, None, "the terminal decides"),
    ],
)
async def test_copy_says_what_was_sent_and_how_tmux_lets_it_through(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], setting, says: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 19.11: "email copied" while tmux (set-clipboard external) swallowed it."""
    import tui.clipboard

    for name in ("TMUX", "TMUX_PANE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tui.clipboard, "tmux_clipboard_setting", lambda env: setting)
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    app.copy_to_clipboard = lambda text: None  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(says in m and "characters" in m for m in messages), messages
        assert not any(m.startswith("email copied") for m in messages)


def test_console_words_replace_every_cli_phrase_the_shared_messages_use() -> None:
    """Issue 19.10: the messages core shares with the CLI name commands; the console
    names its keys instead (checked against the real messages, not copies)."""
    from core.hostkeys import HostKey, HostKeyChanged, HostKeyUnknown
    from tui.text import for_console

    key = HostKey("ssh-ed25519", "SHA256:" + "A" * 43)
    changed = HostKeyChanged("sftp.example.net", 22, key, HostKey("ssh-rsa", "SHA256:" + "B" * 43))
    unknown = HostKeyUnknown("sftp.example.net", 22, key)
    workflow = (  # core/workflow.py's refusals and notes
        "stopped: a pass in progress is cancelled; `audiencectl import resume` restarts it",
        "fix the cause, then run `audiencectl import resume` first",
        "start it: `audiencectl import resume` then `audiencectl import run` (F6)",
    )
    checks = (  # core/checks' fixes
        "once you have seen it, `audiencectl checklist confirm tracking.cname [--note TEXT]` "
        "(or c on the checklist)",
        "send the request (F3: Copy email or Save .eml), then `audiencectl request status sent`",
        "run the import (`audiencectl import run --once`) or a dry run on an audience file",
        "run `audiencectl crypto diagnose --datasource 'X' --clear VALUE --sample VALUE "
        "--from-website` (or F5 > Website check, with 'From the website: keep it' ticked)",
        "run without --offline, or `audiencectl probe import`",
    )
    for text in (changed.hint, unknown.hint, *workflow, *checks):
        shown = for_console(text)
        assert "audiencectl" not in shown and "--trust-new-host-key" not in shown, shown


async def test_below_80x24_the_console_says_the_terminal_is_too_small(db_path: Path) -> None:
    """Issue 19.9: below 80×24, say so instead of squeezing a list to one letter."""
    from tui.modals.too_small import TooSmall

    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(70, 20)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TooSmall), "the notice")
        text = str(app.screen.query_one("#too-small", Static).render())
        assert "70×20" in text and "80×24" in text
        await pilot.press("f4")  # the screens stay behind the notice
        await pilot.pause()
        assert isinstance(app.screen, TooSmall)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: not isinstance(app.screen, TooSmall), "the notice gone")
        assert app.current_mode == "home"


async def test_home_state_column_wraps_instead_of_cutting_at_80x24(db_path: Path) -> None:
    """Issue 19.9: Home's State column was cut at 80×24."""
    services, _ = services_with_sample(db_path)
    app = app_for(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.query_one("#steps", DataTable)
        width = screen.state_width()  # type: ignore[attr-defined]
        assert 80 - width < 60  # the column gets what the others leave
        for number, step in enumerate(screen.steps, start=1):  # type: ignore[attr-defined]
            cell = table.get_row(str(number))[2]
            lines = cell.plain.split("\n")
            assert " ".join(lines) == " ".join(step.summary.split())  # all of it
            assert all(len(line) <= width for line in lines)
        assert any(len(s.summary) > width for s in screen.steps)  # type: ignore[attr-defined]
