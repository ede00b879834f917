"""One row of the checklist: glyph, status word and title; expands to evidence and fix."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static

from core import clock
from core.checks import CheckResult, CheckSpec
from tui.text import for_console

GLYPHS = {
    "pass": "✓ pass",
    "warn": "! warn",
    "fail": "✗ fail",
    "skip": "- skip",
    "running": "… run ",
    "none": "· todo",
}

SCREEN_NAMES = {
    "request": "Request, F3",
    "accounts": "Accounts, F4",
    "datasources": "Sources, F5",
    "audiences": "Audiences, F6",
}


class CheckItem(Vertical, can_focus=True):
    """A check's row. The status shows as a glyph and a word (never colour alone);
    ``expanded`` shows the evidence, the fix and where it is fixed."""

    DEFAULT_CLASSES = "check-item"
    expanded: reactive[bool] = reactive(False)

    def __init__(self, spec: CheckSpec, result: CheckResult | None = None) -> None:
        super().__init__(id="check-" + spec.id.replace(".", "-"))
        self.spec = spec
        self.result = result
        self.status_name = result.status if result else "none"

    def compose(self) -> ComposeResult:
        with Horizontal(classes="check-line"):
            yield Static("", classes="check-glyph", markup=False)
            yield Static(self.spec.title, classes="check-title", markup=False)
        yield Static("", classes="check-body", markup=False)

    def on_mount(self) -> None:
        self._paint()

    @property
    def check_id(self) -> str:
        return self.spec.id

    def set_result(self, result: CheckResult | None) -> None:
        """Shows a new verdict (None: never run)."""
        self.result = result
        self.status_name = result.status if result else "none"
        self._paint()

    def set_running(self) -> None:
        """Marks the check as being run."""
        self.status_name = "running"
        self._paint()

    def toggle(self) -> None:
        """Expands or collapses the evidence."""
        self.expanded = not self.expanded

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        self._paint()

    def body_text(self) -> str:
        """The evidence, the fix and where it is fixed, as shown when expanded."""
        result = self.result
        if result is None:
            return f"{self.spec.id}: not run yet. Enter or r runs it."
        when = clock.iso(result.at) if result.at else ""
        lines = [f"{self.spec.id} · {result.status} · {when}".rstrip(" ·")]
        lines.append(f"Evidence: {result.detail or '-'}")
        if result.fix:
            lines.append(f"Fix: {for_console(result.fix)}")
        where = SCREEN_NAMES.get(result.screen)
        if where and result.status in ("fail", "warn", "skip"):
            lines.append(f"g: go to the fix ({where})")
        if self.spec.manual:
            lines.append(
                "c: withdraw the confirmation"
                if result.status == "pass"
                else "c: confirm it once you have seen it (a manual check)"
            )
        return "\n".join(lines)

    def _paint(self) -> None:
        if not self.is_mounted:
            return
        for state in GLYPHS:
            self.set_class(state == self.status_name, f"-{state}")
        self.query_one(".check-glyph", Static).update(GLYPHS[self.status_name])
        body = self.query_one(".check-body", Static)
        body.display = self.expanded
        if self.expanded:
            body.update(self.body_text())

    def on_click(self, event: events.Click) -> None:
        self.focus()
        self.toggle()
