"""The provisioning request: a validated form, the ready email, its status until verified."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Select, Static, TextArea

from core.errors import AudienceError, ValidationError
from core.files import write_atomic
from core.ids import IMS_ORG_HINT
from core.model import (
    ENVIRONMENTS,
    REQUEST_ID_TYPES,
    SERVICES,
    Environment,
    ProvisioningRequest,
    RequestStatus,
    check_env_name,
)
from core.request import ORG_ID_HINT, body, render_eml, render_text, subject
from tui.clipboard import copy_note
from tui.modals.prompt import PromptModal
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.widgets.nav_bar import NavBar
from tui.widgets.screen_header import ScreenIntro

FIELDS = ("organization", "ims_org_id", "environment", "service", "id_type", "additional_info")


class RequestScreen(ConsoleScreen):
    """Fill, check and send the request; move its status as Adobe answers."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="request.save"),
        Binding("f8", "copy", "Copy email", id="request.copy"),
        Binding("f9", "save_eml", "Save .eml", id="request.eml"),
        Binding("f10", "advance", "Next status", id="request.advance"),
    ]

    def compose(self) -> ComposeResult:
        yield NavBar()
        with VerticalScroll(id="request-form"):
            yield ScreenIntro("The provisioning request: the email Adobe needs to set you up")
            with Vertical(id="env-name-row", classes="field"):
                yield Label("Environment name (how this store calls it)")
                yield Input(placeholder="e.g. production", id="env-name", compact=True)
                yield Static("", classes="error", id="env-name-error", markup=False)
            with Vertical(classes="field"):
                yield Label("Organization name")
                yield Input(placeholder="e.g. Example Corp", id="organization", compact=True)
                yield Static("", classes="error", id="organization-error", markup=False)
            with Vertical(classes="field"):
                yield Label("IMS Org ID")
                yield Input(
                    placeholder="e.g. 5DC5123F5245B1D20A490D46@AdobeOrg",
                    id="ims_org_id",
                    compact=True,
                )
                yield Static(ORG_ID_HINT, classes="hint", markup=False)
                yield Static("", classes="error", id="ims_org_id-error", markup=False)
            with Horizontal(classes="selects"):
                with Vertical(classes="field"):
                    yield Label("Environment")
                    yield Select(
                        [(e, e) for e in ENVIRONMENTS],
                        id="environment",
                        allow_blank=False,
                        compact=True,
                    )
                with Vertical(classes="field"):
                    yield Label("AAM or People Service")
                    yield Select(
                        [(s, s) for s in SERVICES], id="service", allow_blank=False, compact=True
                    )
                with Vertical(classes="field"):
                    yield Label("Declared ID or Visitor ID")
                    yield Select(
                        [(t, t) for t in REQUEST_ID_TYPES],
                        id="id_type",
                        allow_blank=False,
                        compact=True,
                    )
            with Vertical(classes="field"):
                yield Label("Additional information")
                yield TextArea(id="additional_info", soft_wrap=True, show_line_numbers=False)
            yield Static("", id="status-line", markup=False)
            with Horizontal(id="request-buttons"):
                yield Button("Save (Ctrl+S)", variant="primary", id="save")
                yield Button("Copy email (F8)", id="copy")
                yield Button("Save .eml (F9)", id="eml")
                yield Button("Next status (F10)", id="advance")
            yield Label("Email preview", classes="section")
            yield Static("", id="preview", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        if self.form_is_dirty():
            self.show_status()  # keep what was typed; the status may have moved elsewhere
            return
        self.load()

    # --- reading and writing the form -------------------------------------

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

    def load(self) -> None:
        env = self.env
        self.query_one("#env-name-row").display = env is None
        request = env.request if env else ProvisioningRequest()
        self.query_one("#organization", Input).value = request.organization
        self.query_one("#ims_org_id", Input).value = request.ims_org_id
        self.query_one("#environment", Select).value = request.environment
        self.query_one("#service", Select).value = request.service
        self.query_one("#id_type", Select).value = request.id_type
        self.query_one("#additional_info", TextArea).text = request.additional_info
        self.show_status()
        self.update_preview()
        self.remember_form()

    def form_values(self) -> dict[str, str]:
        values = {
            "organization": self.query_one("#organization", Input).value.strip(),
            "ims_org_id": self.query_one("#ims_org_id", Input).value.strip(),
            "additional_info": self.query_one("#additional_info", TextArea).text.strip(),
        }
        for name in ("environment", "service", "id_type"):
            values[name] = str(self.query_one(f"#{name}", Select).value)
        return values

    def build_request(self) -> ProvisioningRequest | None:
        """The request in the form, or None after showing the field's error."""
        for name in ("organization", "ims_org_id"):
            self.query_one(f"#{name}-error", Static).update("")
        try:
            return ProvisioningRequest(**self.form_values())
        except ValidationError as exc:
            target = self.query(f"#{exc.field}-error")
            if target:
                target.first(Static).update(f"✗ {exc.reason}. {exc.hint}")
            else:
                self.notify(str(exc), severity="error")
            return None

    @on(Input.Changed, "#organization, #ims_org_id")
    @on(Select.Changed)
    @on(TextArea.Changed)
    def form_changed(self) -> None:
        value = self.query_one("#ims_org_id", Input).value.strip()
        error = self.query_one("#ims_org_id-error", Static)
        try:
            ProvisioningRequest(ims_org_id=value)
            error.update("")
        except ValidationError:
            error.update(f"✗ not an IMS Org ID: {IMS_ORG_HINT}")
        self.update_preview()

    def update_preview(self) -> None:
        preview = self.query_one("#preview", Static)
        try:
            request = ProvisioningRequest(**self.form_values())
        except ValidationError:
            preview.update("(the preview appears once the fields are valid)")
            return
        if not request.complete:
            preview.update("Missing: " + ", ".join(request.missing()))
            return
        preview.update(f"Subject: {subject(request)}\n\n{body(request)}")

    def show_status(self) -> None:
        env = self.env
        line = self.query_one("#status-line", Static)
        if env is None:
            line.update("Status: not saved yet")
            return
        history = {st.status: st.at for st in self.console.services.repo.request_history(env.name)}
        parts = []
        for step in RequestStatus:
            at = history.get(step)
            parts.append(f"✓ {step.value} {at:%Y-%m-%d}" if at else f"· {step.value}")
        line.update("Status: " + "  →  ".join(parts))

    # --- actions ----------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> Environment | None:
        request = self.build_request()
        if request is None:
            return None
        env = self.env
        if env is None:
            name = self.query_one("#env-name", Input).value.strip()
            error = self.query_one("#env-name-error", Static)
            try:
                check_env_name(name)
            except ValidationError as exc:
                error.update(f"✗ {exc.reason}. {exc.hint}")
                return None
            error.update("")
            env = Environment(name=name, request=request)
        else:
            env = replace(env, request=request)
        try:
            saved = self.console.services.repo.save(env)
        except AudienceError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return None
        self.console.environment_saved(saved)
        self.query_one("#env-name-row").display = False
        self.show_status()
        self.notify(f"request saved in environment {saved.name!r}")
        self.remember_form()
        return saved

    def _complete_env(self) -> Environment | None:
        env = self.action_save()
        if env is None:
            return None
        if not env.request.complete:
            self.notify("fill the organization and the IMS Org ID first", severity="warning")
            return None
        return env

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        env = self._complete_env()
        if env is None:
            return
        text = render_text(env)
        self.app.copy_to_clipboard(text)
        note, doubtful = copy_note("the email", len(text))
        self.notify(
            note + (" (F9)" if note.endswith("instead") else ""),
            severity="warning" if doubtful else "information",
            timeout=15 if doubtful else 8,
        )

    @on(Button.Pressed, "#eml")
    def action_save_eml(self) -> None:
        env = self._complete_env()
        if env is None:
            return
        default = str(Path.cwd() / f"provisioning-request-{env.name}.eml")
        self.app.push_screen(
            PromptModal("Save the email as .eml", default), lambda path: self._write_eml(env, path)
        )

    def _write_eml(self, env: Environment, path: str | None) -> None:
        if not path:
            return
        target = Path(path).expanduser()
        try:
            write_atomic(target, render_eml(env, when=datetime.now(UTC)), what="email")
        except AudienceError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"saved {target}: open it in your mail client and send it")

    @on(Button.Pressed, "#advance")
    def action_advance(self) -> None:
        env = self._complete_env()
        if env is None:
            return
        repo = self.console.services.repo
        current = repo.request_status(env.name)
        order = list(RequestStatus)
        if current is order[-1]:
            self.notify("the request is verified: nothing further")
            return
        following = order[order.index(current) + 1]
        repo.set_request_status(env, following)
        self.show_status()
        self.notify(f"request status: {following.value}")

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            PaletteCommand("request: save", "Save the request (Ctrl+S)", self.action_save),
            PaletteCommand("request: copy email", "Copy the email (F8)", self.action_copy),
            PaletteCommand(
                "request: save .eml", "Write an RFC 5322 message (F9)", self.action_save_eml
            ),
            PaletteCommand(
                "request: next status",
                "draft → sent → provisioned → ... (F10)",
                self.action_advance,
            ),
        ]
