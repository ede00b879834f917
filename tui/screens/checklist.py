"""Troubleshooting checklist (F7): the troubleshooting section of Adobe's setup page, in order.

Each check is a row (glyph, status word, title) that expands to its evidence
and fix. Checks run in a thread worker (all of them, or the focused one), with
a progress bar, and can be cancelled; results are kept in the store with their
time so the home screen shows the last verdict.
"""

from __future__ import annotations

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Footer, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.checks import CHECK_IDS, CHECKS, SECTIONS, CheckResult, run_checks, summarize
from core.errors import AudienceError
from core.model import Environment
from storage.checks import context_for, last_results, save_results
from tui.modals.prompt import PromptModal
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.widgets.check_item import CheckItem
from tui.widgets.nav_bar import NavBar
from tui.widgets.screen_header import ScreenIntro
from tui.widgets.tickbox import TickBox
from usecases.checklist import confirm_check, unconfirm_check
from usecases.services import Services, worker_services

NO_ENV = "No environment yet: start one with the provisioning request (F3)."
INTRO = "When audiences are not shared: the checklist, in Adobe's troubleshooting order"


class CheckDone(Message):
    """A check finished inside the worker."""

    def __init__(self, result: CheckResult, worker: object) -> None:
        super().__init__()
        self.result = result
        self.worker = worker  # a cancelled run's late results must not join the next run


class ChecklistScreen(ConsoleScreen):
    """Run the doctor's checks one by one or all together, read why, jump to the fix."""

    BINDINGS = [
        Binding("space", "toggle", "Details", id="checklist.expand"),
        Binding("r,enter", "rerun", "Re-run", id="checklist.rerun"),
        Binding("g", "go_fix", "Fix", id="checklist.go_fix"),
        Binding("escape", "cancel", "Cancel", id="checklist.cancel"),
        # on the toolbar, labelled there: "Run all (a)", "offline (o)"
        Binding("a", "run_all", "Run all", id="checklist.run_all"),
        Binding("o", "toggle_offline", "Offline", id="checklist.offline"),
        # not on the footer (F1 Help must stay visible at 80 columns): the row says "c: ..."
        Binding(
            "c", "confirm_manual", "Confirm a manual check", show=False, id="checklist.confirm"
        ),
        # priority: the scrolling list would otherwise take the arrows
        Binding("down,j", "move(1)", "Next", show=False, priority=True, id="checklist.next"),
        Binding("up,k", "move(-1)", "Previous", show=False, priority=True, id="checklist.previous"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.running: Worker[list[CheckResult]] | None = None
        self._received: list[CheckResult] = []
        self._replace_all = False
        #: The row the arrows move from. Kept here, not read back from the focus: a
        #: burst of keys arrives before the previous ``focus()`` has taken effect.
        self._cursor = 0
        self._moves: list[CheckItem] = []  # rows focused by the arrows, focus yet to arrive

    def compose(self) -> ComposeResult:
        yield NavBar()
        with Vertical(id="checklist"):
            yield ScreenIntro(INTRO, id="cl-intro")
            with Horizontal(id="cl-toolbar"):
                yield Button("Run all (a)", id="cl-run-all", variant="primary", compact=True)
                yield TickBox("offline (o)", id="cl-offline", compact=True)
                yield ProgressBar(id="cl-progress", show_eta=False)
            yield Static("", id="cl-summary", markup=False)
            with VerticalScroll(id="cl-items"):
                for section in SECTIONS:
                    yield Static(section, classes="cl-section", markup=False)
                    for spec in CHECKS:
                        if spec.section == section:
                            yield CheckItem(spec)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        progress = self.query_one("#cl-progress", ProgressBar)
        progress.update(total=len(CHECK_IDS), progress=0)
        progress.display = False  # shown from the first run on
        self.load()
        items = self.items()
        if items:
            items[0].focus()

    def on_screen_resume(self) -> None:
        if self.running is None:
            self.load()

    # --- helpers ------------------------------------------------------------

    @property
    def services(self) -> Services:
        return self.console.services

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

    def items(self) -> list[CheckItem]:
        return list(self.query(CheckItem))

    def item(self, check_id: str) -> CheckItem:
        return self.query_one("#check-" + check_id.replace(".", "-"), CheckItem)

    @property
    def current(self) -> CheckItem | None:
        focused = self.focused
        return focused if isinstance(focused, CheckItem) else None

    @property
    def offline(self) -> bool:
        return self.query_one("#cl-offline", Checkbox).value

    def load(self) -> None:
        """Shows the last stored verdicts."""
        env = self.env
        summary = self.query_one("#cl-summary", Static)
        if env is None:
            summary.update(NO_ENV)
            for item in self.items():
                item.set_result(None)
            return
        stored = {r.id: r for r in last_results(self.services.store, env.name)}
        for item in self.items():
            item.set_result(stored.get(item.check_id))
        self.show_summary(list(stored.values()))

    def show_summary(self, results: list[CheckResult]) -> None:
        summary = self.query_one("#cl-summary", Static)
        if not results:
            summary.update("Never run: a runs every check; o skips the network.")
            return
        counts = summarize(results)
        # A manual check's verdict is stamped when someone confirms it (c): that is no
        # run, so the header keeps the time of the last run of the other checks.
        ran = [r for r in results if not r.manual] or results
        stamps = [r.at for r in ran if r.at is not None]
        when = f"{max(stamps):%Y-%m-%d %H:%M}Z" if stamps else "?"
        text = ", ".join(f"{counts[s]} {s}" for s in ("fail", "warn", "pass", "skip") if counts[s])
        summary.update(f"Last run {when}: {text}")

    # --- running ------------------------------------------------------------

    def start(self, ids: list[str]) -> None:
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="warning")
            return
        if self.running is not None:
            self.notify("checks are already running (Escape cancels)", severity="warning")
            return
        self._received = []
        self._replace_all = len(ids) == len(CHECK_IDS)
        progress = self.query_one("#cl-progress", ProgressBar)
        progress.update(total=len(ids), progress=0)
        progress.display = True
        for check_id in ids:
            self.item(check_id).set_running()
        self.query_one("#cl-summary", Static).update(
            f"Running {len(ids)} check{'s' if len(ids) > 1 else ''}"
            + (" offline" if self.offline else "")
            + "… Escape cancels."
        )
        self.running = self.run_worker_checks(env, ids, self.offline)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="checklist")
    def run_worker_checks(
        self, env: Environment, ids: list[str], offline: bool
    ) -> list[CheckResult]:
        """Runs the checks off the UI thread; each result comes back as a ``CheckDone``."""
        worker = get_current_worker()
        with worker_services(self.services) as own:  # its own SQLite connection
            ctx = context_for(own.store, env, box=own.box, offline=offline, probe_timeout=10)
            return run_checks(
                ctx,
                only=ids,
                on_result=lambda result: self.post_message(CheckDone(result, worker)),
                cancelled=lambda: worker.is_cancelled,
            )

    @on(CheckDone)
    def check_done(self, event: CheckDone) -> None:
        if self.running is None or event.worker is not self.running:
            return  # a late result of a cancelled run
        self._received.append(event.result)
        self.item(event.result.id).set_result(event.result)
        self.query_one("#cl-progress", ProgressBar).advance(1)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.running:
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.CANCELLED, WorkerState.ERROR):
            return
        self.running = None
        env = self.env
        received = list(self._received)
        if env is not None and received:
            replace_all = self._replace_all and event.state is WorkerState.SUCCESS
            save_results(self.services.store, env.name, received, replace_all=replace_all)
        self.load()  # unfinished rows return to their last stored verdict
        if event.state is WorkerState.CANCELLED:
            self.notify(f"cancelled after {len(received)} check(s); those were kept")
        elif event.state is WorkerState.SUCCESS:
            failed = sum(1 for r in received if r.status == "fail")
            self.notify(
                f"{len(received)} check(s) run: {failed} failed"
                if failed
                else f"{len(received)} check(s) run: nothing failed",
                severity="warning" if failed else "information",
            )
        self.refresh_bindings()

    # --- actions ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running is not None
        if action in ("run_all", "rerun") and self.running is not None:
            return None
        return True

    @on(Button.Pressed, "#cl-run-all")
    def action_run_all(self) -> None:
        self.start(list(CHECK_IDS))

    def action_rerun(self) -> None:
        item = self.current
        if item is None:
            self.notify("choose a check first (↑/↓)", severity="warning")
            return
        self.start([item.check_id])

    def action_toggle(self) -> None:
        item = self.current
        if item is not None:
            item.toggle()
            # once the evidence is laid out, so that all of it comes into view
            self.call_after_refresh(item.scroll_visible)

    def action_move(self, step: int) -> None:
        items = self.items()
        if not items:
            return
        cursor = max(0, min(len(items) - 1, self._cursor + step))
        target = items[cursor]
        if cursor == self._cursor and self.focused is target:
            return  # at the end of the list already
        self._cursor = cursor
        self._moves.append(target)
        target.focus()
        target.scroll_visible()

    @on(events.DescendantFocus)
    def follow_focus(self, event: events.DescendantFocus) -> None:
        """A row focused by Tab or the mouse is where the arrows go on from."""
        widget = event.widget
        if widget in self._moves:  # the arrows' own focus, arriving late: cursor set already
            del self._moves[: self._moves.index(widget) + 1]
            return
        if isinstance(widget, CheckItem):
            items = self.items()
            if widget in items:
                self._cursor = items.index(widget)

    def action_go_fix(self) -> None:
        item = self.current
        if item is None or item.result is None:
            self.notify("run this check first (Enter)", severity="warning")
            return
        result = item.result
        if result.screen == "checklist":
            self.notify(result.fix or "nothing to fix here", title=result.title, timeout=12)
            return
        self.app.switch_mode(result.screen)
        if result.id.startswith(("workflow.", "data.")):
            # the import workflow's state and runs are on the Audiences screen's tab
            getattr(self.app.screen, "show_workflow", lambda: None)()

    def action_confirm_manual(self) -> None:
        """c: confirm the focused manual check (asks for a note), or withdraw its
        confirmation when it stands (c again confirms anew)."""
        item = self.current
        env = self.env
        if item is None or env is None:
            self.notify("choose a manual check first (↑/↓)", severity="warning")
            return
        if not item.spec.manual:
            self.notify(
                "only manual checks are confirmed by hand; r re-runs this one",
                severity="warning",
            )
            return
        check_id = item.check_id
        if item.result is not None and item.result.status == "pass":
            self.run_confirmation(check_id, None)
            return

        def chosen(note: str | None) -> None:
            if note is not None:
                self.run_confirmation(check_id, note)

        self.app.push_screen(
            PromptModal(
                f"Confirm: {item.spec.title}. A note (optional), Enter confirms",
                placeholder="what you saw, e.g. started, log clean",
                allow_empty=True,
            ),
            chosen,
        )

    @work(thread=True, exit_on_error=False, group="checklist-confirm")
    def run_confirmation(self, check_id: str, note: str | None) -> None:
        """Stores (note: str) or withdraws (note: None) a confirmation off the UI thread."""
        try:
            with worker_services(self.services) as own:
                if note is None:
                    _, result = unconfirm_check(own, check_id)
                    message = f"{check_id}: confirmation withdrawn"
                else:
                    result = confirm_check(own, check_id, note)
                    message = f"{check_id}: confirmed"
        except AudienceError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self._confirmed, result, message)

    def _confirmed(self, result: CheckResult, message: str) -> None:
        self.item(result.id).set_result(result)
        self.load()
        self.notify(message)

    def action_toggle_offline(self) -> None:
        box = self.query_one("#cl-offline", Checkbox)
        box.value = not box.value

    def action_cancel(self) -> None:
        if self.running is not None:
            self.running.cancel()

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            PaletteCommand("checklist: run all", "Run every check (a)", self.action_run_all),
            PaletteCommand("checklist: re-run", "Run the focused check (r)", self.action_rerun),
            PaletteCommand(
                "checklist: go to fix", "Open the screen that fixes it (g)", self.action_go_fix
            ),
            PaletteCommand(
                "checklist: toggle offline", "Skip network checks (o)", self.action_toggle_offline
            ),
            PaletteCommand(
                "checklist: confirm manual check",
                "Confirm the focused manual step, or withdraw its confirmation (c)",
                self.action_confirm_manual,
            ),
        ]
