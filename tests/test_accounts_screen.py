"""Pilot tests of the accounts screen: probes (local and real sshd), TOFU, cancel, validation."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Label, Select, Static

from core.model import Account, AccountType, Environment, Role
from core.secrets import Secret
from storage import probes
from storage.hostkeys import SqliteHostKeyStore
from tests.sshd import HOST, SAMPLE_NAME, Sshd, SshdWorld
from tui.app import AudienceApp
from tui.modals.hostkey import HostKeyModal
from tui.screens.accounts import AccountsScreen
from tui.widgets.account_panel import PASTED_KEY, AccountPanel, KeyInput
from tui.widgets.probe_view import StageRow
from usecases.services import Services

ENV = "screen-test"


def services_with(db_path: Path, imp: Account, exp: Account | None = None) -> Services:
    services = Services(db_path=db_path)
    services.repo.save(
        Environment(ENV, import_account=imp, export_account=exp or Account(Role.EXPORT))
    )
    return services


def local_accounts(tmp_path: Path) -> tuple[Account, Account]:
    inbound, outbound = tmp_path / "from-aam", tmp_path / "to-aam"
    inbound.mkdir()
    outbound.mkdir()
    (inbound / SAMPLE_NAME).write_text("1 2\n")
    return (
        Account(Role.IMPORT, type=AccountType.LOCAL, path=str(inbound)),
        Account(Role.EXPORT, type=AccountType.LOCAL, path=str(outbound)),
    )


async def wait_for(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 60) -> None:
    """Pauses until ``predicate()`` holds; the deadline only stops a hang."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def open_accounts(pilot: Pilot) -> AccountsScreen:
    await pilot.press("f4")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, AccountsScreen)
    return screen


def row(screen: AccountsScreen, role: Role, name: str) -> StageRow:
    return screen.query_one(f"#{role.value}-probe-view #stage-{name}", StageRow)


def row_text(screen: AccountsScreen, role: Role, name: str) -> str:
    stage = row(screen, role, name)
    return " ".join(str(w.render()) for w in stage.query("Label, Static") if w.display)


def status_text(screen: AccountsScreen, role: Role) -> str:
    return str(screen.query_one(f"#{role.value}-probe-view .probe-status", Static).render())


# ------------------------------------------------------------------- local probe


async def test_probe_local_accounts_shows_stages_and_saves(
    db_path: Path, tmp_path: Path, frozen_clock: object
) -> None:
    services = services_with(db_path, *local_accounts(tmp_path))
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        assert "never probed" in status_text(screen, Role.IMPORT)
        await pilot.press("f10")  # probe both
        await wait_for(
            pilot, lambda: screen._run is None and "passed" in status_text(screen, Role.EXPORT)
        )
        assert "✓ passed" in status_text(screen, Role.IMPORT)
        assert "2026-11-02 09:30 UTC" in status_text(screen, Role.IMPORT)
        assert row(screen, Role.IMPORT, "read").has_class("-pass")
        assert SAMPLE_NAME in row_text(screen, Role.IMPORT, "read")
        assert row_text(screen, Role.IMPORT, "read").startswith("✓ read")
        assert row(screen, Role.IMPORT, "dns").has_class("-skip")
        assert row(screen, Role.EXPORT, "write").has_class("-pass")
        assert "renamed and deleted" in row_text(screen, Role.EXPORT, "write")
    last = probes.last(services.store.conn, ENV, Role.IMPORT)
    assert last is not None and last.ok
    assert probes.last(services.store.conn, ENV, Role.EXPORT) is not None

    # A new console shows the last probe as soon as the screen opens.
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        assert "✓ passed · probed 2026-11-02 09:30 UTC" in status_text(screen, Role.IMPORT)
        assert row(screen, Role.IMPORT, "list").has_class("-pass")


async def test_failing_local_probe_shows_hint(db_path: Path, tmp_path: Path) -> None:
    services = services_with(
        db_path, Account(Role.IMPORT, type=AccountType.LOCAL, path=str(tmp_path / "missing"))
    )
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: screen._run is None)
        assert "✗ failed at list" in status_text(screen, Role.IMPORT)
        assert row(screen, Role.IMPORT, "list").has_class("-fail")
        assert "→ folder missing" in row_text(screen, Role.IMPORT, "list")
        assert row(screen, Role.IMPORT, "read").has_class("-skip")


# ------------------------------------------------------------------- host keys


def sftp_import(sshd: Sshd, world: SshdWorld) -> Account:
    return Account(
        Role.IMPORT,
        host=HOST,
        port=sshd.port,
        user=world.password_user,
        remote_dir="/inbox",
        password=Secret("literal", world.password),
    )


@pytest.mark.sshd
async def test_unknown_host_key_trusted_in_the_modal(
    db_path: Path, sshd: Sshd, sshd_world: SshdWorld
) -> None:
    services = services_with(db_path, sftp_import(sshd, sshd_world))
    pins = SqliteHostKeyStore(services.store.conn)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, HostKeyModal))
        modal = app.screen
        facts = str(modal.query_one("#hostkey-facts", Static).render())
        assert sshd.host_key_fingerprint in facts
        assert "ssh-ed25519" in facts and f"{HOST}:{sshd.port}" in facts
        no = modal.query_one("#no", Button)
        await wait_for(pilot, lambda: app.focused is no)  # default: No (focused once mounted)
        assert pins.get(HOST, sshd.port) is None  # nothing pinned before the answer
        await pilot.click("#yes")
        await wait_for(pilot, lambda: "✓ passed" in status_text(screen, Role.IMPORT))
        assert pins.get(HOST, sshd.port).fingerprint == sshd.host_key_fingerprint  # type: ignore[union-attr]
        assert "matches the pinned key" in row_text(screen, Role.IMPORT, "hostkey")
        pinned = str(screen.query_one("#import-host_key", Static).render())
        assert sshd.host_key_fingerprint in pinned
    last = probes.last(services.store.conn, ENV, Role.IMPORT)
    assert last is not None and last.ok


@pytest.mark.sshd
async def test_unknown_host_key_refused_pins_nothing(
    db_path: Path, sshd: Sshd, sshd_world: SshdWorld
) -> None:
    services = services_with(db_path, sftp_import(sshd, sshd_world))
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, HostKeyModal))
        await pilot.press("enter")  # the focused button is No
        await wait_for(pilot, lambda: not isinstance(app.screen, HostKeyModal))
        await wait_for(pilot, lambda: "host key not trusted" in status_text(screen, Role.IMPORT))
        assert row(screen, Role.IMPORT, "hostkey").has_class("-fail")
        assert screen._run is None
    assert SqliteHostKeyStore(services.store.conn).all() == []


@pytest.mark.sshd
async def test_changed_host_key_is_shown_loudly(
    db_path: Path, sshd_rekeyable: Sshd, sshd_world: SshdWorld
) -> None:
    services = services_with(db_path, sftp_import(sshd_rekeyable, sshd_world))
    pins = SqliteHostKeyStore(services.store.conn)
    from core.hostkeys import HostKey

    old = HostKey("ssh-ed25519", sshd_rekeyable.host_key_fingerprint)
    pins.pin(HOST, sshd_rekeyable.port, old)
    sshd_rekeyable.restart(new_host_key=True)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: screen._run is None)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, HostKeyModal)  # never offered
        alarm = screen.query_one("#import-probe-view .hostkey-alarm", Static)
        text = str(alarm.render())
        assert alarm.display
        assert "HOST KEY CHANGED" in text
        assert old.fingerprint in text and sshd_rekeyable.host_key_fingerprint in text
        assert "Ctrl+K" in text  # the console's own key, not a CLI command
        toast = [n.message for n in app._notifications if n.title == "Host key changed"]
        assert toast and ".;" not in toast[0] and ".:" not in toast[0]
        assert pins.get(HOST, sshd_rekeyable.port) == old
        # forgetting the pin in the console, after a confirmation
        await pilot.press("ctrl+k")
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        assert pins.get(HOST, sshd_rekeyable.port) is None
        shown = str(screen.query_one("#import-host_key", Static).render())
        assert "none yet" in shown


# ----------------------------------------------------------------------- cancel


async def test_cancel_a_probe_of_a_silent_port(db_path: Path, silent_port: int) -> None:
    account = Account(
        Role.IMPORT, host=HOST, port=silent_port, user="u", password=Secret("literal", "x")
    )
    services = services_with(db_path, account)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        # Long enough that only the cancel, never the probe's own timeout, can end the
        # wait below, even on a loaded machine; short enough to await the thread after.
        screen.probe_timeout = 8.0
        await pilot.press("f8")
        await wait_for(pilot, lambda: row(screen, Role.IMPORT, "tcp").has_class("-pass"))
        assert row(screen, Role.IMPORT, "banner").has_class("-running")
        assert screen.query_one("#import-cancel", Button).disabled is False
        (worker,) = [w for w in app.workers if w.group == "probe"]
        await pilot.press("escape")
        await pilot.pause()
        # Answered while the probe's thread is still blocked on the silent port.
        assert "cancelled" in status_text(screen, Role.IMPORT)
        assert worker.is_running, "the cancel waited for the probe to end"
        assert screen._run is None
        assert row(screen, Role.IMPORT, "banner").has_class("-skip")
        assert row(screen, Role.IMPORT, "tcp").has_class("-pass")  # what finished stays
        assert screen.query_one("#import-probe", Button).disabled is False
        await app.workers.wait_for_complete()  # the abandoned thread ends at its timeout
        await pilot.pause()
        assert not worker.is_running
        assert "cancelled" in status_text(screen, Role.IMPORT)  # its report did not appear
    assert probes.last(services.store.conn, ENV, Role.IMPORT) is None


# ------------------------------------------------------------------- the form


async def test_invalid_port_shows_the_reason_and_saves_nothing(db_path: Path) -> None:
    original = Account(Role.IMPORT, host="sftp.example.net", user="campaign")
    services = services_with(db_path, original)
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        panel = screen.query_one("#import-panel", AccountPanel)
        panel.field_input("port").value = "70000"
        panel.field_input("host").value = "other.example.net"
        await pilot.pause()
        error = screen.query_one("#import-port-error", Static)
        assert "70000 is out of range" in str(error.render())
        assert error.display
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert services.repo.get(ENV).import_account == original  # type: ignore[union-attr]

        panel.field_input("port").value = "abc"
        await pilot.pause()
        assert "must be a number" in str(error.render())

        panel.field_input("port").value = "2222"
        panel.field_input("password").value = "s3cret-value"
        await pilot.pause()
        assert not error.display
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = services.repo.get(ENV).import_account  # type: ignore[union-attr]
        assert (saved.host, saved.port) == ("other.example.net", 2222)
        assert saved.password is not None and saved.password.kind == "stored"
        # The secret input is emptied; its placeholder shows only the mask.
        box = panel.field_input("password")
        assert box.value == "" and "••••••" in box.placeholder
        assert "s3cret" not in box.placeholder


async def test_private_key_path_and_paste(db_path: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "id_test"
    key_text = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\nBBBB\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    key_file.write_text(key_text)
    services = services_with(db_path, Account(Role.IMPORT, host="sftp.example.net", user="u"))
    app = AudienceApp(services)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_accounts(pilot)
        panel = screen.query_one("#import-panel", AccountPanel)
        box = panel.field_input("private_key")
        box.value = str(tmp_path / "nope")
        await pilot.pause()
        assert "no such file" in str(screen.query_one("#import-private_key-error").render())
        box.value = str(key_file)
        await pilot.pause()
        assert box.password is False  # issue 19.8: a path is shown, not masked
        result = panel.collect()
        assert result.account is not None
        assert result.account.private_key == Secret("file", str(key_file))

        assert isinstance(box, KeyInput)
        box.value = ""
        box.post_message(events.Paste(key_text))
        await pilot.pause()
        assert box.value == PASTED_KEY
        result = panel.collect()
        box.value = "-----BEGIN OPENSSH PRIVATE KEY-----"  # key material typed: masked
        await pilot.pause()
        assert box.password is True
        box.value = PASTED_KEY
        await pilot.pause()
        assert result.account is not None
        assert result.account.private_key == Secret("literal", key_text)


async def test_identical_accounts_show_the_direction_banner(db_path: Path) -> None:
    same = {"host": "sftp.example.net", "user": "campaign", "remote_dir": "/data"}
    services = services_with(
        db_path,
        Account(Role.IMPORT, **same),
        Account(Role.EXPORT, **same),  # type: ignore[arg-type]
    )
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        banner = screen.query_one("#direction-banner", Static)
        assert banner.display and banner.has_class("-fail")
        assert "✗ both accounts point to the same place" in str(banner.render())
        # Fix the export folder and save: the banner goes away.
        export = screen.query_one("#export-panel", AccountPanel)
        export.field_input("remote_dir").value = "/campaign-exports"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not banner.display


async def test_titles_say_the_direction(db_path: Path) -> None:
    services = services_with(db_path, Account(Role.IMPORT))
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        texts = [str(w.render()) for w in screen.query(".panel-title, .panel-subtitle")]
        assert texts == [
            "importSharedAudience — AAM → Campaign",
            "(the console reads)",
            "exportSharedAudience — Campaign → AAM",
            "(the console writes; an export from Campaign is an import for AAM)",
        ]
        assert screen.has_class("-narrow")


# ------------------------------------------------------------------------ S3


async def test_s3_account_form_and_probe(
    db_path: Path, tmp_path: Path, s3_server: object, s3_bucket: str
) -> None:
    from tests.s3server import REGION, S3Server

    assert isinstance(s3_server, S3Server)
    (s3_server.bucket_dir(s3_bucket) / "aam").mkdir()
    (s3_server.bucket_dir(s3_bucket) / "aam" / SAMPLE_NAME).write_text("1 2\n")
    imp = Account(
        Role.IMPORT,
        AccountType.S3,
        server=f"{s3_bucket}.s3.amazonaws.com/aam",
        access_key_id=s3_server.access_key,
        region=REGION,
        secret_access_key=Secret("literal", s3_server.secret_key),
        endpoint_url=s3_server.url,
        ca_bundle=str(s3_server.ca_file),
    )
    services = services_with(db_path, imp)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await open_accounts(pilot)
        panel = screen.query_one("#import-panel", AccountPanel)
        assert panel.field_input("server").value == f"{s3_bucket}.s3.amazonaws.com/aam"
        assert panel.field_input("secret_access_key").value == ""  # never shown
        assert "stored" in panel.field_input("secret_access_key").placeholder
        assert not panel.field_input("host").parent.parent.display  # type: ignore[union-attr]
        help_texts = " ".join(str(s.render()) for s in panel.query(".acct-help"))
        assert "AWS S3 Account Server" in help_texts and "Use server side encryption" in help_texts
        assert not row(screen, Role.IMPORT, "banner").display
        assert row(screen, Role.IMPORT, "bucket").display

        await pilot.press("f8")
        await wait_for(pilot, lambda: screen._run is None, timeout=30)
        assert "✓ passed" in status_text(screen, Role.IMPORT), status_text(screen, Role.IMPORT)
        for name in ("dns", "tcp", "tls", "auth", "bucket", "list", "read"):
            assert row(screen, Role.IMPORT, name).has_class("-pass"), name
        assert SAMPLE_NAME in row_text(screen, Role.IMPORT, "read")

        panel.field_input("server").value = "s3://bucket/aam"
        await pilot.pause()
        result = panel.collect()
        assert result.account is None and "scheme" in result.errors["server"]


async def test_pinned_key_row_after_switching_to_sftp(db_path: Path, tmp_path: Path) -> None:
    """Issue 19.6: a local folder switched to SFTP still said "not used for a local folder"."""
    imp, exp = local_accounts(tmp_path)
    services = services_with(db_path, imp, exp)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_accounts(pilot)
        screen.query_one("#import-type", Select).value = "sftp"
        await pilot.pause()
        shown = str(screen.query_one("#import-host_key", Static).render())
        assert "local folder" not in shown
        assert "first probe shows the fingerprint" in shown


async def test_probe_with_an_invalid_form_probes_nothing(db_path: Path, tmp_path: Path) -> None:
    """Issue 19.2: with a field marked ✗, F8 probed the stored account and said ✓."""
    imp, exp = local_accounts(tmp_path)
    services = services_with(db_path, imp, exp)
    app = AudienceApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_accounts(pilot)
        panel = screen.query_one("#import-panel", AccountPanel)
        panel.query_one("#import-type", Select).value = "sftp"
        await pilot.pause()
        panel.field_input("host").value = "127.0.0.1"
        panel.field_input("port").value = "99999"
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen._run is None
        assert probes.last(services.store.conn, ENV, Role.IMPORT) is None
        assert "passed" not in status_text(screen, Role.IMPORT)
        shown = [n.message for n in app._notifications]
        assert any("nothing probed" in m and "import" in m for m in shown), shown


async def test_probe_age_and_long_stage_times(
    db_path: Path, tmp_path: Path, frozen_clock: object
) -> None:
    """Issue 19.6: "(just now)" stayed on an hours-old probe; five-digit times wrapped."""
    from datetime import timedelta

    from core import clock

    services = services_with(db_path, *local_accounts(tmp_path))
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_accounts(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: "passed" in status_text(screen, Role.IMPORT))
        assert "(just now)" in status_text(screen, Role.IMPORT)
        clock.freeze(frozen_clock + timedelta(hours=3))  # type: ignore[operator]
        view = screen.panel(Role.IMPORT).probe_view
        view.refresh_age()  # what the view's timer calls every AGE_REFRESH_SECONDS
        await pilot.pause()
        assert "(3 h ago)" in status_text(screen, Role.IMPORT)

        stage = row(screen, Role.IMPORT, "list")
        stage.show("pass", 12345, "listed")
        await pilot.pause()
        ms = stage.query_one(".stage-ms", Label)
        assert str(ms.render()) == "12.3 s"
        assert ms.size.height == 1 and stage.size.height == 1  # one line, not wrapped


@pytest.mark.parametrize("theme", ["ansi-dark", "textual-dark"])
async def test_the_focused_field_is_marked_without_colour(
    db_path: Path, tmp_path: Path, theme: str
) -> None:
    """Issue 19.8: a faint focus mark. Reverse video needs no colour, so it shows
    in every theme; an example in an empty field says "e.g." and is dim and italic."""
    services = services_with(db_path, Account(Role.IMPORT, host="sftp.example.net", user="u"))
    app = AudienceApp(services, theme=theme)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_accounts(pilot)
        panel = screen.query_one("#import-panel", AccountPanel)
        user = panel.field_input("user")
        user.focus()
        await pilot.pause()

        def label_of(box: object) -> Label:
            return box.parent.query_one(".acct-label", Label)  # type: ignore[attr-defined]

        assert label_of(user).styles.text_style.reverse
        host = panel.field_input("host")
        assert not label_of(host).styles.text_style.reverse
        remote = panel.field_input("remote_dir")
        assert remote.value == "" and remote.placeholder.startswith("e.g. ")
