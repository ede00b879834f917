"""The website cross-check of one data source: paste a clear value and the site's sample.

The check runs ``core.diagnose.diagnose`` in a thread worker, keeps the result
as the data source's last sample in the store when the user ticks that the
sample came from the website (a made-up test sample is not kept), and shows the verdict with a
glyph (✓ / ✗), its code and the plain-language fix. The last stored sample is
shown again when the panel is given a data source.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static
from textual.worker import Worker, WorkerState

from core.cipher import parse_iv, parse_key
from core.clock import iso
from core.diagnose import Diagnosis, diagnose
from core.model import DataSource, Environment, IdType, Transform
from storage.samples import StoredSample, last_sample, save_sample
from tui.console import console_of
from tui.widgets.tickbox import TickBox
from usecases.services import Services, worker_services

__all__ = ["DiagnosePanel", "run_check"]

INTRO = (
    "Capture one ID the website sends (browser dev tools, the AAM call's d_cid_ic or "
    "setCustomerIDs) and the clear value it stands for: the check tells which setting differs."
)


def run_check(
    services: Services,
    env: Environment,
    ds: DataSource,
    clear: str,
    sample: str,
    *,
    keep: bool = True,
) -> tuple[Diagnosis, StoredSample | None]:
    """Resolves the data source's key and IV and diagnoses ``sample``; with ``keep`` (the
    sample came from the website) the result is stored as the data source's website
    sample, which the checklist reads.

    Raises ``AudienceError`` (naming the field) when the key or IV cannot be used;
    nothing is stored then.
    """
    key = iv = None
    if ds.id_type is IdType.DECLARED and ds.transform is Transform.AES:
        key = parse_key(services.secret(env, ds, "aes_key"))
        iv = parse_iv(services.secret(env, ds, "aes_iv"))
    verdict = diagnose(clear, sample, ds, key, iv)
    stored = save_sample(services.store, env, ds, clear, sample, verdict) if keep else None
    return verdict, stored


class DiagnosePanel(VerticalScroll):
    """Clear value + website sample -> the verdict; the last one is kept per data source."""

    class Diagnosed(Message):
        """A check finished (``stored``: kept as the website sample, else None)."""

        def __init__(self, label: str, verdict: Diagnosis, stored: StoredSample | None) -> None:
            super().__init__()
            self.label = label
            self.verdict = verdict
            self.stored = stored

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.env: Environment | None = None
        self.datasource: DataSource | None = None

    def compose(self) -> ComposeResult:
        yield Static(INTRO, classes="hint diag-intro", markup=False)
        with Horizontal(classes="ds-row"):
            yield Label("Clear value", classes="ds-label")
            yield Input(id="diag-clear", compact=True, placeholder="alice@example.com")
        with Horizontal(classes="ds-row"):
            yield Label("Website sample", classes="ds-label")
            yield Input(id="diag-sample", compact=True, placeholder="the ID as the site sends it")
        with Horizontal(id="diag-buttons"):
            yield Button("Diagnose", id="diagnose", variant="primary", compact=True)
            # a sample made up to test a setting must not become the checklist's evidence
            yield TickBox("From the website: keep it", id="diag-keep", compact=True)
        yield Static("", id="diag-verdict", markup=False)
        yield Static("", id="diag-detail", markup=False)
        yield Static("", id="diag-when", classes="hint", markup=False)

    # --- showing ------------------------------------------------------------

    def show_for(self, services: Services, env: Environment | None, ds: DataSource | None) -> None:
        """Shows the panel for a saved data source (None: a new, unsaved one)."""
        self.env = env
        self.datasource = ds
        stored = last_sample(services.store, env, ds) if env is not None and ds else None
        self.query_one("#diag-clear", Input).value = stored.clear if stored else ""
        self.query_one("#diag-sample", Input).value = stored.sample if stored else ""
        if ds is None:
            self._show_text("· save the data source first, then check a website sample", "")
            self.query_one("#diag-when", Static).update("")
        elif stored is None:
            self._show_text(f"· no website sample checked yet for {ds.label!r}", "")
            self.query_one("#diag-when", Static).update("")
        else:
            self.show_stored(stored)

    def show_stored(self, stored: StoredSample) -> None:
        """Shows a stored verdict and when it was checked."""
        self.show_verdict(stored.to_diagnosis())
        self.query_one("#diag-when", Static).update(
            f"checked {iso(stored.at)} for {stored.datasource!r}; kept in the store"
        )

    def show_verdict(self, verdict: Diagnosis) -> None:
        """✓ / ✗, the code and the fix."""
        if verdict.match:
            line = f"✓ ok: the website's sample matches {self._label()}"
        else:
            line = f"✗ {verdict.code}: the website and {self._label()} differ"
        self._show_text(line, verdict.detail, "ok" if verdict.match else "fail")

    def _label(self) -> str:
        return repr(self.datasource.label) if self.datasource else "the data source"

    def _show_text(self, line: str, detail: str, state: str = "") -> None:
        verdict = self.query_one("#diag-verdict", Static)
        verdict.update(line)
        verdict.set_class(state == "ok", "-ok")
        verdict.set_class(state == "fail", "-fail")
        self.query_one("#diag-detail", Static).update(detail)

    # --- running ------------------------------------------------------------

    @on(Button.Pressed, "#diagnose")
    @on(Input.Submitted, "#diag-clear, #diag-sample")
    def start(self, event: Message | None = None) -> None:
        """Runs the check on what is typed (Enter in either field, or the button)."""
        if event is not None:
            event.stop()
        clear = self.query_one("#diag-clear", Input).value
        sample = self.query_one("#diag-sample", Input).value.strip()
        if self.env is None or self.datasource is None:
            self._show_text("! save the data source first (Ctrl+S)", "", "fail")
            return
        if not clear.strip() or not sample:
            missing = "the clear value" if not clear.strip() else "the website's sample"
            self._show_text(f"! paste {missing} first", "", "fail")
            self.query_one("#diag-clear" if not clear.strip() else "#diag-sample").focus()
            return
        self._show_text("… checking", "")
        services: Services = console_of(self.app).services
        keep = self.query_one("#diag-keep", TickBox).value
        self.check(services, self.env, self.datasource, clear, sample, keep)

    @work(thread=True, exclusive=True, exit_on_error=False, group="diagnose")
    def check(
        self,
        services: Services,
        env: Environment,
        ds: DataSource,
        clear: str,
        sample: str,
        keep: bool,
    ) -> Diagnosis:
        """The thread worker: resolve, diagnose, store when asked; the result comes back
        as a message."""
        with worker_services(services) as own:  # its own SQLite connection for the write
            verdict, stored = run_check(own, env, ds, clear, sample, keep=keep)
        self.post_message(self.Diagnosed(ds.label, verdict, stored))
        return verdict

    @on(Diagnosed)
    def _diagnosed(self, event: Diagnosed) -> None:
        if self.datasource is None or event.label != self.datasource.label:
            return
        if event.stored is not None:
            self.show_stored(event.stored)
        else:
            self.show_verdict(event.verdict)
            self.query_one("#diag-when", Static).update(
                "not kept: tick 'From the website: keep it' to keep it for the checklist"
            )

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        message = getattr(error, "message", None) or str(error)
        hint = getattr(error, "hint", "")
        self._show_text(f"✗ the check could not run: {message}", hint, "fail")
        # Worker.StateChanged does not bubble: hand it to the App's one error handler.
        console_of(self.app).report_worker_failure(event.worker)
