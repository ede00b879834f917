"""Shared data sources (F5): the list by priority, the form of one, the website cross-check."""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, TabbedContent, TabPane

from core.errors import AudienceError, ValidationError
from core.model import DataSource, Environment, IdType
from core.secrets import Secret
from storage.profiles import StoreProfiles, column_sample
from storage.samples import forget_sample, rename_sample
from tui.modals.confirm import ConfirmModal
from tui.palette import PaletteCommand
from tui.screens.base import ConsoleScreen
from tui.text import plain
from tui.widgets.datasource_form import (
    DataSourceForm,
    FormResult,
    channel_warning,
    priority_warning,
)
from tui.widgets.diagnose_panel import DiagnosePanel
from tui.widgets.nav_bar import NavBar
from tui.widgets.screen_header import ScreenIntro
from usecases.services import Services

COLUMNS = [
    ("Label", "label"),
    ("Priority", "priority"),
    ("Alias", "alias"),
    ("DPID", "dpid"),
    ("Dest. ID", "destination_id"),
    ("ID type", "id_type"),
    ("Transform", "transform"),
    ("Channel", "channel"),
]

#: How many values of the reconciliation key's column the channel check looks at.
COLUMN_SAMPLE = 200

NO_ENV = "No environment yet: start one with the provisioning request (F3)."


def table_row(ds: DataSource) -> tuple[str, ...]:
    """One data source as the table shows it (no secret in it)."""
    visitor = ds.id_type is IdType.VISITOR
    return (
        ds.label,
        str(ds.priority),
        ds.alias or "·",
        str(ds.dpid or "·"),
        "triggers"
        if ds.triggers_only and ds.destination_id is None
        else str(ds.destination_id or "·"),
        "visitor" if visitor else "declared",
        "-" if visitor else ds.transform.value,
        "-" if visitor else ds.channel.value,
    )


class DataSourcesScreen(ConsoleScreen):
    """Edit the shared data sources and check a website sample against one."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="datasources.save"),
        Binding("ctrl+n", "new", "New", id="datasources.new"),
        Binding("f8", "delete", "Delete", id="datasources.delete"),
        Binding("ctrl+t", "website_check", "Website check", show=False, id="datasources.check"),
        Binding(
            "ctrl+o", "import_workflow", "Import workflow", show=False, id="datasources.workflow"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None  # label of the data source in the form; None = new
        self._restoring = False

    def unsaved_changes(self) -> bool:
        return self.form.dirty

    def compose(self) -> ComposeResult:
        yield NavBar()
        with Vertical(id="datasources"):
            yield ScreenIntro("Shared data sources: how AAM's IDs meet your profiles")
            yield DataTable(id="ds-table", cursor_type="row", zebra_stripes=False)
            with Horizontal(id="ds-actions"):
                yield Button("Save (Ctrl+S)", id="ds-save", variant="primary", compact=True)
                yield Button("New (Ctrl+N)", id="ds-new", compact=True)
                yield Button("Delete (F8)", id="ds-delete", variant="error", compact=True)
                yield Button("Show import workflow", id="ds-workflow", compact=True)
            with TabbedContent(id="ds-tabs", initial="tab-settings"):
                with TabPane("Settings", id="tab-settings"):
                    yield DataSourceForm(id="ds-form")
                with TabPane("Website check", id="tab-check"):
                    yield DiagnosePanel(id="ds-check")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#ds-table", DataTable)
        for title, key in COLUMNS:
            table.add_column(title, key=key)
        self.reload()

    def on_screen_resume(self) -> None:
        if not self.form.dirty:
            self.reload(self.selected)

    # --- helpers ------------------------------------------------------------

    @property
    def services(self) -> Services:
        return self.console.services

    @property
    def env(self) -> Environment | None:
        return self.console.current_env()

    @property
    def form(self) -> DataSourceForm:
        return self.query_one("#ds-form", DataSourceForm)

    @property
    def panel(self) -> DiagnosePanel:
        return self.query_one("#ds-check", DiagnosePanel)

    def _columns(self, env: Environment | None) -> list[str]:
        if env is None:
            return []
        return StoreProfiles(self.services.store, env.name).columns()

    # --- loading ------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        """Re-reads the environment, fills the table and shows ``select`` (or the first)."""
        env = self.env
        table = self.query_one("#ds-table", DataTable)
        self._restoring = True
        table.clear()
        sources = env.by_priority() if env else []
        for ds in sources:
            table.add_row(*(plain(cell) for cell in table_row(ds)), key=ds.label)
        table.display = bool(sources)
        labels = [ds.label for ds in sources]
        if env is None:
            self.notify(NO_ENV, severity="warning")
        target = select if select in labels else (labels[0] if labels else None)
        if target is not None:
            table.move_cursor(row=labels.index(target))
        self._restoring = False
        self.show(target)

    def show(self, label: str | None) -> None:
        """Loads data source ``label`` (None: a new one) into the form and the check."""
        env = self.env
        ds = env.datasource(label) if env is not None and label is not None else None
        self.selected = ds.label if ds else None
        self.form.load(ds, self._columns(env))
        self.panel.show_for(self.services, env, ds)
        self.refresh_checks()
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#ds-table")
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._restoring or event.row_key.value is None:
            return
        label = str(event.row_key.value)
        if label == self.selected:
            return
        if not self.form.dirty:
            self.show(label)
            return

        def answer(discard: bool | None) -> None:
            if discard:
                self.show(label)
            else:
                self._move_cursor_to(self.selected)

        what = repr(self.selected) if self.selected else "the new data source"
        self.app.push_screen(
            ConfirmModal(
                "Discard your changes?",
                f"The edits to {what} are not saved. Open {label!r} and lose them?",
                yes="Discard",
                no="Keep editing",
            ),
            answer,
        )

    def _move_cursor_to(self, label: str | None) -> None:
        env = self.env
        if env is None or label is None:
            return
        labels = [ds.label for ds in env.by_priority()]
        if label in labels:
            self._restoring = True
            self.query_one("#ds-table", DataTable).move_cursor(row=labels.index(label))
            self.call_after_refresh(setattr, self, "_restoring", False)

    # --- checks while typing --------------------------------------------------

    def _resolve(self, secret: Secret, field: str) -> str:
        return self.services.box.resolve(secret, "", field)

    @on(DataSourceForm.Changed)
    def refresh_checks(self) -> FormResult:
        """Field errors and the non-blocking warnings for what is typed now.

        References (``env:``/``file:``) are resolved only on save: reading a file at
        every keystroke could stall the console.
        """
        result = self.form.collect(for_save=False)
        self.form.show_messages(result, self.warnings(result.datasource))
        return result

    def warnings(self, candidate: DataSource | None) -> dict[str, str]:
        """Duplicate priority within an alias, and a channel that does not fit the key column."""
        env = self.env
        if candidate is None or env is None:
            return {}
        out: dict[str, str] = {}
        others = [ds for ds in env.datasources if ds.label != self.selected]
        priority = priority_warning(candidate, others)
        if priority:
            out["priority"] = priority
        if candidate.id_type is IdType.DECLARED:
            column = candidate.reconciliation_key
            values = self._column_values(env, column)
            channel = channel_warning(candidate.channel, column, values)
            if channel:
                out["channel"] = channel
        return out

    def _column_values(self, env: Environment, column: str) -> list[str]:
        if column not in self._columns(env):
            return []
        try:
            return column_sample(self.services.store, env.name, column, limit=COLUMN_SAMPLE)
        except AudienceError:
            return []

    # --- actions ------------------------------------------------------------

    @on(Button.Pressed, "#ds-save")
    def action_save(self) -> Environment | None:
        """Validates the form and writes the environment; errors keep what was typed."""
        env = self.env
        if env is None:
            self.notify(NO_ENV, severity="error")
            return None
        result = self.form.collect(for_save=True, resolve=self._resolve)
        self.form.show_messages(result, self.warnings(result.datasource))
        ds = result.datasource
        if ds is None:
            self._focus_tab("tab-settings")
            first = self.form.first_error()
            if first is not None:
                self.form.scroll_to_widget(first)
            self.notify("not saved: fix the fields marked ✗", severity="error")
            return None
        stored = env.datasource(self.selected) if self.selected else None
        try:
            if stored is not None and stored.label != ds.label:
                ds = self._reseal_for_rename(env, stored, ds)
            sources = list(env.datasources)
            if stored is None:
                sources.append(ds)
            else:
                sources[[s.label for s in sources].index(stored.label)] = ds
            saved = self.services.repo.save(replace(env, datasources=tuple(sources)))
            if stored is not None and stored.label != ds.label:
                rename_sample(self.services.store, env, stored.label, ds.label)
        except ValidationError as exc:
            field = "label" if exc.field == "datasources" else exc.field
            self.form.show_messages(
                FormResult(None, {field: f"✗ {exc.message}. {exc.hint}"}, {}),
                self.warnings(ds),
            )
            self.notify("not saved: " + str(exc), severity="error")
            return None
        except AudienceError as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=10)
            return None
        self.console.environment_saved(saved)
        self.notify(f"data source {ds.label!r} saved")
        self.reload(ds.label)
        return saved

    def _reseal_for_rename(
        self, env: Environment, stored: DataSource, ds: DataSource
    ) -> DataSource:
        """Stored secrets are bound to the label: carry them over to the new one."""
        changes: dict[str, Secret] = {}
        for field in ("aes_key", "aes_iv"):
            secret = getattr(ds, field)
            if secret is not None and secret.kind == "stored" and secret == getattr(stored, field):
                changes[field] = Secret("literal", self.services.secret(env, stored, field))
        return replace(ds, **changes) if changes else ds

    @on(Button.Pressed, "#ds-new")
    def action_new(self) -> None:
        """An empty form for a new data source (asking first when edits are unsaved)."""
        if self.env is None:
            self.notify(NO_ENV, severity="error")
            return

        def start(discard: bool | None = True) -> None:
            if not discard:
                return
            self.show(None)
            self._focus_tab("tab-settings")
            self.form.query_one("#label").focus()

        if not self.form.dirty:
            start()
            return
        what = repr(self.selected) if self.selected else "the new data source"
        self.app.push_screen(
            ConfirmModal(
                "Discard your changes?",
                f"The edits to {what} are not saved. Start a new data source and lose them?",
                yes="Discard",
                no="Keep editing",
            ),
            start,
        )

    @on(Button.Pressed, "#ds-delete")
    def action_delete(self) -> None:
        """Deletes the data source in the form, after a confirmation."""
        env = self.env
        if env is None or self.selected is None:
            self.notify("select a saved data source first", severity="warning")
            return
        label = self.selected

        def answer(yes: bool | None) -> None:
            if yes:
                self._delete(label)

        self.app.push_screen(
            ConfirmModal(
                f"Delete data source {label!r}?",
                "Its settings and its last website sample leave the store. Campaign keeps "
                "its own copy; audiences already imported stay.",
                yes="Delete",
                no="Cancel",
            ),
            answer,
        )

    def _delete(self, label: str) -> None:
        env = self.env
        if env is None:
            return
        remaining = tuple(ds for ds in env.datasources if ds.label != label)
        try:
            saved = self.services.repo.save(replace(env, datasources=remaining))
            forget_sample(self.services.store, env, label)
        except AudienceError as exc:
            self.notify(str(exc), title="Not deleted", severity="error", timeout=10)
            return
        self.console.environment_saved(saved)
        self.notify(f"data source {label!r} deleted")
        self.reload()

    @on(Button.Pressed, "#ds-workflow")
    def action_import_workflow(self) -> None:
        """Opens the import workflow on the audiences screen."""
        self.app.switch_mode("audiences")
        show = getattr(self.app.screen, "show_workflow", None)
        if show is not None:
            show()

    def action_website_check(self) -> None:
        """Shows the website cross-check tab."""
        self._focus_tab("tab-check")
        self.panel.query_one("#diag-clear").focus()

    def _focus_tab(self, tab: str) -> None:
        self.query_one("#ds-tabs", TabbedContent).active = tab

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "delete":
            return self.selected is not None
        return True

    def palette_commands(self) -> list[PaletteCommand]:
        """The screen's commands, named ``datasources: verb``."""
        return [
            PaletteCommand("datasources: save", "Save the data source (Ctrl+S)", self.action_save),
            PaletteCommand("datasources: new", "A new data source (Ctrl+N)", self.action_new),
            PaletteCommand(
                "datasources: delete", "Delete the data source (F8)", self.action_delete
            ),
            PaletteCommand(
                "datasources: website check",
                "Diagnose a website sample (Ctrl+T)",
                self.action_website_check,
            ),
            PaletteCommand(
                "datasources: show import workflow",
                "Open the audiences screen (Ctrl+O)",
                self.action_import_workflow,
            ),
        ]
