"""The stages of one account's probe: live while it runs, then the finished report.

Each stage is a row: a glyph (✓ pass, ✗ fail, ! warn, - skip, · waiting,
… running), its name, its time in ms, the detail and, below it, the hint.
Colour only repeats what the glyph says. A changed host key gets a loud
block of its own with both fingerprints and the command that removes the pin.
The widget only shows what it is given: it never probes or reads the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static

from core import clock
from core.hostkeys import HostKeyChanged
from core.model import AccountType, Role
from core.probe import (
    EXPORT_STAGES,
    IMPORT_STAGES,
    S3_EXPORT_STAGES,
    S3_IMPORT_STAGES,
    ProbeReport,
    StageResult,
)

GLYPHS = {
    "pass": "✓",
    "fail": "✗",
    "warn": "!",
    "skip": "-",
    "pending": "·",
    "running": "…",
}
STATES = tuple(f"-{state}" for state in GLYPHS)


def stage_names(role: Role, kind: AccountType = AccountType.SFTP) -> tuple[str, ...]:
    """The stages a probe of ``role`` goes through, in order (an S3 account has its own;
    a local folder shows SFTP's, skipped)."""
    if kind is AccountType.S3:
        return S3_IMPORT_STAGES if role is Role.IMPORT else S3_EXPORT_STAGES
    return IMPORT_STAGES if role is Role.IMPORT else EXPORT_STAGES


def all_stage_names(role: Role) -> tuple[str, ...]:
    """Every stage any account type of ``role`` may show, in display order."""
    last = "read" if role is Role.IMPORT else "write"
    return ("dns", "tcp", "banner", "hostkey", "tls", "auth", "bucket", "sftp", "list", last)


def when_text(report: ProbeReport) -> str:
    """``2026-11-02 09:30 UTC (5 min ago)``."""
    at = report.started_at
    return f"{at:%Y-%m-%d %H:%M} UTC ({clock.ago(at)})"


def duration_text(ms: int) -> str:
    """A stage's time in at most 7 characters, so that its row never wraps:
    ``812 ms``, ``9999 ms``, then seconds (``12.3 s``, ``250 s``)."""
    if ms < 10_000:
        return f"{ms} ms"
    if ms < 1_000_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 1000} s"


def verdict(report: ProbeReport) -> tuple[str, str]:
    """(state, words) summing up a finished report."""
    if report.cancelled:
        return "skip", "cancelled"
    failure = report.first_failure
    if failure is not None:
        return "fail", f"failed at {failure.name}"
    if any(s.status == "warn" for s in report.stages):
        return "warn", "passed with warnings"
    return "pass", "passed"


class StageRow(Horizontal):
    """One stage: glyph, name, ms, detail and hint."""

    DEFAULT_CLASSES = "stage-row -pending"

    def __init__(self, name: str) -> None:
        super().__init__(id=f"stage-{name}")
        self.stage_name = name

    def compose(self) -> ComposeResult:
        yield Label(GLYPHS["pending"], classes="stage-glyph")
        yield Label(self.stage_name, classes="stage-name")
        yield Label("", classes="stage-ms")
        with Vertical(classes="stage-text"):
            yield Static("", classes="stage-detail", markup=False)
            yield Static("", classes="stage-hint", markup=False)

    def show(self, state: str, ms: int | None = None, detail: str = "", hint: str = "") -> None:
        """Shows ``state`` (pass, fail, warn, skip, pending, running) with its facts."""
        self.remove_class(*STATES)
        self.add_class(f"-{state}")
        self.query_one(".stage-glyph", Label).update(GLYPHS.get(state, "?"))
        self.query_one(".stage-ms", Label).update("" if ms is None else duration_text(ms))
        self.query_one(".stage-detail", Static).update(detail)
        hint_box = self.query_one(".stage-hint", Static)
        hint_box.update(f"→ {hint}" if hint else "")
        hint_box.display = bool(hint)

    def result(self, stage: StageResult) -> None:
        self.show(stage.status, stage.ms, stage.detail, stage.hint)


class ProbeView(Vertical):
    """What the last (or the running) probe of one account found."""

    DEFAULT_CLASSES = "probe-view"

    def __init__(self, role: Role, key_hint: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.role = role
        self.key_hint = key_hint
        self.report: ProbeReport | None = None
        self.kind = AccountType.SFTP

    def compose(self) -> ComposeResult:
        yield Static("", classes="probe-status", markup=False)
        yield Static("", classes="hostkey-alarm", markup=False)
        with Vertical(classes="stage-rows"):
            for name in all_stage_names(self.role):
                yield StageRow(name)

    #: How often the shown probe's age ("5 min ago") is brought up to date.
    AGE_REFRESH_SECONDS = 30.0

    def on_mount(self) -> None:
        self.query_one(".hostkey-alarm", Static).display = False
        self.set_kind(self.kind)
        self.show_never()
        self.set_interval(self.AGE_REFRESH_SECONDS, self.refresh_age)

    def refresh_age(self) -> None:
        """Rewrites the status line of the report shown, so its age stays true."""
        report = self.report
        if report is not None:
            self.note(*self._status(report))

    def _status(self, report: ProbeReport) -> tuple[str, str]:
        state, words = verdict(report)
        key = f" · host key {report.host_key.fingerprint}" if report.host_key else ""
        return state, f"{words} · probed {when_text(report)}{key}"

    def set_kind(self, kind: AccountType | str) -> None:
        """Shows the stage rows of an account of type ``kind`` (S3 or SFTP/local)."""
        self.kind = AccountType(kind)
        names = stage_names(self.role, self.kind)
        for row in self.query(StageRow):
            row.display = row.stage_name in names

    # --- states -----------------------------------------------------------

    def note(self, state: str, text: str) -> None:
        """Replaces the status line above the stages."""
        status = self.query_one(".probe-status", Static)
        status.remove_class(*STATES)
        status.add_class(f"-{state}")
        status.update(f"{GLYPHS.get(state, '?')} {text}")

    def _rows(self) -> list[StageRow]:
        names = stage_names(self.role, self.kind)
        return [row for row in self.query(StageRow) if row.stage_name in names]

    def show_never(self) -> None:
        """No probe yet for this account."""
        self.report = None
        how = f": {self.key_hint} probes it" if self.key_hint else ""
        self.note("pending", f"never probed{how}")
        self.show_alarm(None)
        for row in self._rows():
            row.show("pending")
        self.query_one(".stage-rows").display = False

    def start(self, endpoint: str) -> None:
        """A probe starts: every stage waits, the first one runs."""
        self.report = None
        self.note("running", f"probing {endpoint} (Escape cancels)")
        self.show_alarm(None)
        self.query_one(".stage-rows").display = True
        for index, row in enumerate(self._rows()):
            row.show("running" if index == 0 else "pending")

    def progress(self, stages: Sequence[StageResult]) -> None:
        """Shows the stages finished so far; the next one is marked running."""
        rows = self._rows()
        by_name = {s.name: s for s in stages}
        running_marked = False
        for row in rows:
            stage = by_name.get(row.stage_name)
            if stage is not None:
                row.result(stage)
            elif not running_marked:
                row.show("running")
                running_marked = True
            else:
                row.show("pending")

    def cancelled(
        self,
        stages: Sequence[StageResult],
        text: str = "cancelled: nothing was saved; probe again when ready",
    ) -> None:
        """The probe stopped early: what finished stays, the rest is skipped."""
        by_name = {s.name: s for s in stages}
        for row in self._rows():
            stage = by_name.get(row.stage_name)
            if stage is not None and not (stage.status == "skip" and stage.detail == "cancelled"):
                row.result(stage)
            else:
                row.show("skip", 0, "cancelled")
        self.note("skip", text)

    def show_report(self, report: ProbeReport) -> None:
        """A finished probe, with its time."""
        self.report = report
        self.query_one(".stage-rows").display = True
        if report.stage("bucket") is not None:
            self.set_kind(AccountType.S3)
        elif report.stage("banner") is not None:
            self.set_kind(AccountType.SFTP)
        self.note(*self._status(report))
        by_name = {s.name: s for s in report.stages}
        for row in self._rows():
            stage = by_name.get(row.stage_name)
            if stage is None:
                row.show("skip", 0, "not run")
            else:
                row.result(stage)
        error = report.host_key_error
        self.show_alarm(error if isinstance(error, HostKeyChanged) else None)

    def show_alarm(self, error: HostKeyChanged | None) -> None:
        """The loud block for a changed host key (None hides it)."""
        alarm = self.query_one(".hostkey-alarm", Static)
        if error is None:
            alarm.display = False
            alarm.update("")
            return
        if error.source == "config":
            how = (
                "If Adobe confirms the new key, put its fingerprint in the account's host_key "
                "(configuration file)."
            )
        else:
            how = (
                "If Adobe confirms the new key, press Ctrl+K to forget the old pin, "
                "then probe again."
            )
        alarm.update(
            f"✗ HOST KEY CHANGED for {error.host}:{error.port}: connection refused.\n"
            f"  pinned:    {error.pinned.fingerprint} ({error.pinned.key_type})\n"
            f"  presented: {error.presented.fingerprint} ({error.presented.key_type})\n"
            "Someone may be intercepting the connection, or the server was rebuilt. "
            "Do not accept it here. " + how
        )
        alarm.display = True
