"""The external accounts: both directions side by side, validated, saved and probed.

Probes run in a thread worker; each finished stage reaches the screen as a
message (only the latest snapshot per account is kept when they pile up).
Secrets are resolved inside the worker only. An unknown host key asks the
admin (``HostKeyModal``, default No); a changed one is refused loudly. Every
finished probe is saved in the store; a cancelled one is not (it says nothing
about the account).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Footer, Static
from textual.worker import get_current_worker

from core.direction import Finding, direction_findings
from core.errors import AudienceError
from core.hostkeys import HostKey, HostKeyUnknown, host_label
from core.model import Account, AccountType, Environment, Role
from core.probe import ProbeReport, StageResult
from storage import probes
from storage.hostkeys import SqliteHostKeyStore
from tui.modals.confirm import ConfirmModal
from tui.modals.hostkey import HostKeyModal
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.widgets.account_panel import AccountPanel
from tui.widgets.nav_bar import NavBar
from tui.widgets.screen_header import ScreenIntro
from usecases.probe import probe_account
from usecases.services import Services, worker_services

PROBE_KEYS = {Role.IMPORT: "F8", Role.EXPORT: "F9"}
NO_ENV = "No environment yet: start one with the provisioning request (F3), then come back."


class ProbeProgress(Message):
    """The stages of a running probe finished so far (a snapshot: the latest replaces older)."""

    def __init__(self, run_id: int, role: Role, stages: tuple[StageResult, ...]) -> None:
        super().__init__()
        self.run_id = run_id
        self.role = role
        self.stages = stages

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, ProbeProgress)
            and message.run_id == self.run_id
            and message.role is self.role
        )


class ProbeFinished(Message):
    """One account's probe ended (it may have been cancelled)."""

    def __init__(self, run_id: int, env_name: str, report: ProbeReport) -> None:
        super().__init__()
        self.run_id = run_id
        self.env_name = env_name
        self.report = report


class ProbeRunDone(Message):
    """Every account of one run was probed."""

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id


@dataclass
class _Run:
    """The probe run in progress: its id, accounts, cancel flag and stages so far."""

    run_id: int
    roles: tuple[Role, ...]
    cancel: threading.Event
    stages: dict[Role, tuple[StageResult, ...]]
    unknown: list[tuple[Role, HostKeyUnknown]]
    finished: set[Role]


def pinned_text(account: Account, pins: SqliteHostKeyStore) -> str:
    """The pinned host key as shown read-only: from the configuration or the store."""
    # (the row shows only for an SFTP account: a local folder switched to SFTP
    # in the form must not say "not used")
    if account.host_key:
        return f"{account.host_key} (from the configuration)"
    if not account.host or account.type is not AccountType.SFTP:
        return "none yet: the first probe shows the fingerprint and asks"
    key = pins.get(account.host, account.port)
    if key is None:
        return "none yet: the first probe shows the fingerprint and asks"
    return f"{key.fingerprint} ({key.key_type}), pinned in the store"


def findings_text(findings: list[Finding]) -> str:
    """The direction banner's text, one finding per paragraph."""
    lines = []
    for finding in findings:
        mark = {"fail": "✗", "warn": "!"}.get(finding.level, "·")
        fix = f"\n  → {finding.fix}" if finding.fix else ""
        lines.append(f"{mark} {finding.message}{fix}")
    return "\n".join(lines)


class AccountsScreen(ConsoleScreen):
    """importSharedAudience and exportSharedAudience: enter, check, save and probe them."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="accounts.save"),
        Binding("f8", "probe('import')", "Probe import", id="accounts.probe_import"),
        Binding("f9", "probe('export')", "Probe export", id="accounts.probe_export"),
        Binding("f10", "probe_both", "Probe both", id="accounts.probe_both"),
        Binding("escape", "cancel_probe", "Cancel probe", id="accounts.cancel"),
        Binding("ctrl+k", "forget_host_key", "Forget host key", show=False, id="accounts.forget"),
    ]

    #: Seconds each probe stage may take (the CLI's --timeout).
    probe_timeout: float = 10.0

    def __init__(self) -> None:
        super().__init__()
        self._run: _Run | None = None
        self._next_run_id = 0
        self._loaded: Environment | None = None

    def compose(self) -> ComposeResult:
        yield NavBar()
        with VerticalScroll(id="accounts"):
            yield ScreenIntro(
                "The two external accounts Adobe set up: one brings AAM's audiences in, "
                "one takes Campaign's out"
            )
            yield Static("", id="no-env", markup=False)
            yield Static("", id="direction-banner", markup=False)
            with Horizontal(id="account-buttons"):
                yield Button("Save (Ctrl+S)", variant="primary", id="save", compact=True)
                yield Button("Probe both (F10)", id="probe-both", compact=True)
            with Horizontal(id="panels"):
                for role in Role:
                    yield AccountPanel(role, PROBE_KEYS[role])
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        # Back from another screen: show what may have changed there. Back from a modal
        # (same environment): keep the form as typed and the probe as shown.
        if self._run is None and self.env != self._loaded:
            if self.form_is_dirty():
                self.show_findings(self.env)
                self.notify("unsaved edits to the accounts are kept: Ctrl+S saves them")
            else:
                self.load()

    # --- loading ----------------------------------------------------------

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

    def panel(self, role: Role) -> AccountPanel:
        return self.query_one(f"#{role.value}-panel", AccountPanel)

    def _pins(self) -> SqliteHostKeyStore:
        return SqliteHostKeyStore(self.console.services.store.conn)

    def load(self) -> None:
        """Shows the stored accounts, their pinned keys, the last probes and the banner."""
        env = self.env
        self._loaded = env
        no_env = self.query_one("#no-env", Static)
        no_env.update(NO_ENV if env is None else "")
        no_env.display = env is None
        pins = self._pins()
        conn = self.console.services.store.conn
        for role in Role:
            panel = self.panel(role)
            account = env.account(role) if env else Account(role)
            panel.load(account, pinned_text(account, pins))
            last = probes.last(conn, env.name, role) if env else None
            if last is None:
                panel.probe_view.show_never()
            else:
                panel.probe_view.show_report(last)
        self.show_findings(env)
        self.call_after_refresh(self.remember_form)

    def show_findings(self, env: Environment | None) -> None:
        banner = self.query_one("#direction-banner", Static)
        findings = direction_findings(env) if env else []
        banner.update(findings_text(findings))
        banner.display = bool(findings)
        banner.set_class(any(f.level == "fail" for f in findings), "-fail")

    # --- saving -----------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> Environment | None:
        """Validates both accounts and saves them; nothing is saved when a field is wrong."""
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="warning")
            return None
        results = {role: self.panel(role).collect(check_files=True) for role in Role}
        bad = [role.value for role, result in results.items() if result.account is None]
        if bad:
            self.notify(
                f"nothing saved: fix the fields marked ✗ ({', '.join(bad)} account)",
                severity="error",
            )
            return None
        new_env = replace(
            env,
            import_account=results[Role.IMPORT].account,
            export_account=results[Role.EXPORT].account,
        )
        try:
            saved = self.console.services.repo.save(new_env)
        except AudienceError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return None
        self.console.environment_saved(saved)
        self._loaded = saved
        pins = self._pins()
        for role in Role:
            account = saved.account(role)
            self.panel(role).load(account, pinned_text(account, pins))
        self.show_findings(saved)
        self.call_after_refresh(self.remember_form)
        self.notify(f"accounts saved in environment {saved.name!r}")
        return saved

    # --- probing ----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_probe":
            return self._run is not None
        if action in ("probe", "probe_both"):
            return True if self._run is None else None
        return True

    def action_probe(self, role: str) -> None:
        self.start_probe((Role(role),))

    @on(Button.Pressed, "#probe-both")
    def action_probe_both(self) -> None:
        self.start_probe(tuple(Role))

    @on(AccountPanel.ProbeRequested)
    def panel_probe(self, event: AccountPanel.ProbeRequested) -> None:
        self.start_probe((event.role,))

    @on(AccountPanel.CancelRequested)
    def panel_cancel(self) -> None:
        self.action_cancel_probe()

    def start_probe(self, roles: tuple[Role, ...]) -> None:
        """Probes the stored accounts ``roles`` (save first when the form has changes)."""
        if self._run is not None:
            self.notify("a probe is running: Escape cancels it", severity="warning")
            return
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="warning")
            return
        results = {role: self.panel(role).collect() for role in roles}
        invalid = [role.value for role, result in results.items() if result.account is None]
        if invalid:
            # probing the stored account instead would answer a question nobody asked
            self.notify(
                f"nothing probed: the {' and '.join(invalid)} form has fields marked ✗; "
                "fix them and save (Ctrl+S), then probe",
                severity="error",
                timeout=8,
            )
            return
        changed = [
            role.value
            for role, result in results.items()
            if result.account is not None and result.account != env.account(role)
        ]
        if changed:
            self.notify(
                f"the {', '.join(changed)} form has unsaved changes: the stored account is "
                "probed (Ctrl+S saves)",
                severity="warning",
            )
        missing = {role: env.account(role).missing() for role in roles}
        gaps = [f"{role.value}: {', '.join(m)}" for role, m in missing.items() if m]
        if gaps:
            self.notify(
                "cannot probe an account that is not configured: missing " + "; ".join(gaps),
                severity="error",
                timeout=8,
            )
            return
        self._launch(env, roles)

    def _launch(self, env: Environment, roles: tuple[Role, ...]) -> None:
        self._next_run_id += 1
        run = _Run(self._next_run_id, roles, threading.Event(), {}, [], set())
        self._run = run
        for role in roles:
            panel = self.panel(role)
            panel.set_running(True)
            panel.probe_view.start(env.account(role).endpoint)
        self.refresh_bindings()
        self.probe_worker(env, run)

    @work(thread=True, exclusive=True, exit_on_error=False, group="probe")
    def probe_worker(self, env: Environment, run: _Run) -> None:
        """Probes each account of ``run`` in turn; reports every stage as a message."""
        worker = get_current_worker()

        def cancelled() -> bool:
            return run.cancel.is_set() or worker.is_cancelled

        with worker_services(self.console.services) as services:
            self._probe_accounts(env, run, services, cancelled)

    def _probe_accounts(
        self, env: Environment, run: _Run, services: Services, cancelled: Callable[[], bool]
    ) -> None:
        """The worker's body, with the worker's own store connection."""
        try:
            for role in run.roles:
                if cancelled():
                    break
                seen: list[StageResult] = []

                def on_stage(
                    stage: StageResult, role: Role = role, seen: list[StageResult] = seen
                ) -> None:
                    seen.append(stage)
                    self.post_message(ProbeProgress(run.run_id, role, tuple(seen)))

                report = probe_account(  # the secrets are resolved here only
                    services,
                    env,
                    env.account(role),
                    timeout=self.probe_timeout,
                    on_stage=on_stage,
                    cancelled=cancelled,
                )
                self.post_message(ProbeFinished(run.run_id, env.name, report))
        finally:
            self.post_message(ProbeRunDone(run.run_id))

    def _current(self, run_id: int) -> _Run | None:
        run = self._run
        return run if run is not None and run.run_id == run_id else None

    @on(ProbeProgress)
    def probe_progress(self, event: ProbeProgress) -> None:
        run = self._current(event.run_id)
        if run is None or run.cancel.is_set():
            return
        run.stages[event.role] = event.stages
        self.panel(event.role).probe_view.progress(event.stages)

    @on(ProbeFinished)
    def probe_finished(self, event: ProbeFinished) -> None:
        run = self._current(event.run_id)
        report = event.report
        if run is None or run.cancel.is_set() or report.cancelled:
            return
        run.finished.add(report.role)
        panel = self.panel(report.role)
        panel.set_running(False)
        conn = self.console.services.store.conn
        try:
            probes.save(conn, event.env_name, report)
        except Exception as exc:  # the store is gone or busy: still show the result
            self.notify(f"the probe could not be saved: {exc}", severity="warning")
        panel.probe_view.show_report(report)
        error = report.host_key_error
        if isinstance(error, HostKeyUnknown):
            run.unknown.append((report.role, error))
        elif error is not None:
            self.notify(
                f"{error.message.removesuffix('.')}; see the {report.role.value} account's "
                "probe (Ctrl+K forgets the old pin once Adobe confirms the new key)",
                title="Host key changed",
                severity="error",
                timeout=15,
            )
        env = self.env
        if env is not None:
            account = env.account(report.role)
            panel.query_one(f"#{report.role.value}-host_key", Static).update(
                pinned_text(account, self._pins())
            )

    @on(ProbeRunDone)
    def probe_run_done(self, event: ProbeRunDone) -> None:
        run = self._current(event.run_id)
        if run is None:
            return
        for role in run.roles:
            if role not in run.finished:  # the worker stopped early (e.g. a secret error)
                self.panel(role).probe_view.cancelled(
                    run.stages.get(role, ()), "not probed: see the error message"
                )
        self._finish(run)
        if run.unknown and not run.cancel.is_set():
            self._ask_trust(run.unknown)

    def _finish(self, run: _Run) -> None:
        for role in run.roles:
            self.panel(role).set_running(False)
        self._run = None
        self.refresh_bindings()

    def action_cancel_probe(self) -> None:
        """Stops waiting for the running probe at once; the connection is abandoned."""
        run = self._run
        if run is None:
            return
        run.cancel.set()
        for role in run.roles:
            self.panel(role).probe_view.cancelled(run.stages.get(role, ()))
        self._finish(run)
        self.notify("probe cancelled")

    # --- host keys --------------------------------------------------------

    def _ask_trust(self, pending: list[tuple[Role, HostKeyUnknown]]) -> None:
        """Asks about each distinct unknown key, one modal at a time."""
        if not pending:
            return
        role, error = pending[0]
        same = [
            r for r, e in pending if (e.host, e.port, e.key) == (error.host, error.port, error.key)
        ]
        rest = [(r, e) for r, e in pending if r not in same]

        def answered(trust: bool | None) -> None:
            if trust:
                self._trust(error.host, error.port, error.key, tuple(same))
            else:
                for r in same:
                    self.panel(r).probe_view.note(
                        "warn",
                        f"host key not trusted: {error.key.fingerprint}; nothing was pinned",
                    )
                self._ask_trust(rest)

        self.app.push_screen(
            HostKeyModal(error.host, error.port, error.key, role.campaign_name), answered
        )

    def _trust(self, host: str, port: int, key: HostKey, roles: tuple[Role, ...]) -> None:
        """Pins exactly the key the admin saw, then probes again (a different key now is
        refused as changed, never silently trusted)."""
        self._pins().pin(host, port, key)
        self.notify(f"pinned {key.fingerprint} for {host_label(host, port)}")
        env = self.env
        if env is not None:
            self._launch(env, roles)

    # --- forgetting a pinned host key -----------------------------------------

    def _focused_role(self) -> Role:
        """The account whose panel holds the focus, else the one whose host key changed."""
        focused = self.focused
        for role in Role:
            panel = self.panel(role)
            if focused is not None and panel in focused.ancestors_with_self:
                return role
        for role in Role:
            if self.panel(role).query_one(".hostkey-alarm", Static).display:
                return role
        return Role.IMPORT

    def action_forget_host_key(self, role: str | None = None) -> None:
        """Removes the pinned host key of an account's server, after asking (the console's
        `audiencectl hostkey forget`)."""
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="warning")
            return
        which = Role(role) if role else self._focused_role()
        account = env.account(which)
        if account.type is not AccountType.SFTP or not account.host:
            self.notify(f"the {which.value} account is not an SFTP server", severity="warning")
            return
        if account.host_key:
            self.notify(
                f"the {which.value} account's host key comes from the configuration file: "
                "change host_key there",
                severity="warning",
                timeout=8,
            )
            return
        pins = self._pins()
        pinned = pins.get(account.host, account.port)
        where = host_label(account.host, account.port)
        if pinned is None:
            self.notify(f"no host key is pinned for {where}", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self._pins().forget(account.host, account.port)
            self.panel(which).query_one(f"#{which.value}-host_key", Static).update(
                pinned_text(account, self._pins())
            )
            self.notify(
                f"forgot the host key of {where}; the next probe shows the server's "
                "fingerprint and asks before trusting it"
            )

        self.app.push_screen(
            ConfirmModal(
                f"Forget the host key of {where}?",
                f"Pinned: {pinned.fingerprint} ({pinned.key_type}).\n"
                "Do this only after Adobe confirmed the server's new key out of band. "
                "The next probe shows the new fingerprint and asks before trusting it.",
                yes="Forget",
                no="Keep",
            ),
            answered,
        )

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            PaletteCommand("accounts: save", "Save both accounts (Ctrl+S)", self.action_save),
            PaletteCommand(
                "accounts: forget pinned host key",
                "Remove the pin of the focused account's server, after asking (Ctrl+K)",
                self.action_forget_host_key,
            ),
            PaletteCommand(
                "accounts: probe import",
                "Probe importSharedAudience (F8)",
                lambda: self.action_probe("import"),
            ),
            PaletteCommand(
                "accounts: probe export",
                "Probe exportSharedAudience (F9)",
                lambda: self.action_probe("export"),
            ),
            PaletteCommand(
                "accounts: probe both", "Probe both accounts (F10)", self.action_probe_both
            ),
            PaletteCommand(
                "accounts: cancel probe",
                "Stop the running probe (Escape)",
                self.action_cancel_probe,
            ),
        ]
