"""The form of one shared data source: every field of docs/reference.md §2.

The form only shows and reads values. ``collect`` turns what is typed into a
``DataSource`` and a map of field errors; it never clears what the user typed.
Secret fields (AES key and IV) are password inputs whose placeholder shows the
stored value's mask or reference; left empty they keep what is stored.

The module also holds the form's non-blocking checks (``priority_warning``,
``channel_warning``): plain functions, so they are tested without a screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static

from core.cipher import parse_iv, parse_key
from core.errors import AudienceError, ValidationError
from core.ids import MAX_NUMBER_DIGITS, check_numeric_id
from core.model import Channel, CipherEncoding, DataSource, IdType, Transform
from core.normalize import normalize_email, normalize_phone
from core.secrets import Secret
from core.text import quoted
from tui.text import plain
from tui.widgets.tickbox import TickBox

__all__ = [
    "FIELD_TITLES",
    "DataSourceForm",
    "FormResult",
    "SecretResolver",
    "channel_warning",
    "priority_warning",
]

#: How each field is named to the admin (errors start with it).
FIELD_TITLES: dict[str, str] = {
    "label": "Label",
    "alias": "Data Source / Alias",
    "dpid": "DPID",
    "destination_id": "AAM destination ID",
    "triggers_only": "Triggers only",
    "priority": "Priority",
    "id_type": "ID type",
    "reconciliation_key": "Reconciliation key",
    "transform": "Transform",
    "aes_key": "AES key",
    "aes_iv": "AES IV",
    "ciphertext_encoding": "Ciphertext encoding",
    "channel": "Channel",
}

ID_TYPES = [("Visitor ID", IdType.VISITOR.value), ("Declared ID", IdType.DECLARED.value)]
TRANSFORMS = [
    ("none (clear value)", Transform.NONE.value),
    ("MD5", Transform.MD5.value),
    ("SHA-1", Transform.SHA1.value),
    ("SHA-256", Transform.SHA256.value),
    ("AES-CBC", Transform.AES.value),
]
ENCODINGS = [
    ("hex (lower case)", CipherEncoding.HEX.value),
    ("base64", CipherEncoding.BASE64.value),
]
CHANNELS = [
    ("Email", Channel.EMAIL.value),
    ("SMS", Channel.SMS.value),
    ("Other", Channel.OTHER.value),
]

#: Hex may be bare, ``0x…`` or Campaign's ``\\x…`` (core.cipher.parse_key).
SECRET_HELP = "hex (or 0x…, \\x…), base64:…, env:NAME, file:PATH"

#: Resolves an ``env:``/``file:`` reference to its text (raises ``AudienceError``).
SecretResolver = Callable[[Secret, str], str]

_PHONE_NAME = re.compile(r"phone|mobile|sms|cell|msisdn|(^|[^a-z])tel", re.IGNORECASE)
_EMAIL_NAME = re.compile(r"e-?mail|courriel", re.IGNORECASE)


# ------------------------------------------------------------------ non-blocking checks


def priority_warning(candidate: DataSource, others: Sequence[DataSource]) -> str:
    """A warning when another data source with the same alias has the same priority, else ''."""
    clashes = [
        ds.label
        for ds in others
        if ds.label != candidate.label
        and ds.alias.strip().lower() == candidate.alias.strip().lower()
        and ds.priority == candidate.priority
    ]
    if not clashes:
        return ""
    names = ", ".join(repr(label) for label in clashes)
    alias = candidate.alias or "(no alias)"
    return (
        f"! priority {candidate.priority} is also used by {names} with the same alias "
        f"{alias!r}: which one wins is undefined; give the preferred one a higher priority"
    )


def channel_warning(channel: Channel, column: str, values: Sequence[str]) -> str:
    """Whether the reconciliation key's column fits the channel, by its name and its values.

    ``values`` is a sample of the column's values (may be empty). Returns a line
    starting with ``!`` (a mismatch), ``✓`` (the values fit) or ''.
    """
    if channel is Channel.OTHER or not column:
        return ""
    emails = sum(1 for v in values if normalize_email(v) is not None)
    phones = sum(1 for v in values if normalize_phone(v) is not None)
    counts = (
        f"{emails} of {len(values)} sampled values of {column!r} look like emails, "
        f"{phones} like phone numbers"
        if values
        else ""
    )
    problems: list[str] = []
    if channel is Channel.EMAIL and _PHONE_NAME.search(column):
        problems.append(f"channel Email, but {column!r} is named like a phone column")
    if channel is Channel.SMS and _EMAIL_NAME.search(column):
        problems.append(f"channel SMS, but {column!r} is named like an email column")
    fitting = emails if channel is Channel.EMAIL else phones
    if values and fitting * 2 < len(values):
        what = "emails" if channel is Channel.EMAIL else "phone numbers"
        problems.append(f"most values of {column!r} are not {what}")
    if problems:
        tail = f" ({counts})" if counts else ""
        return "! " + "; ".join(problems) + tail + ": IDs will not reconcile"
    return f"✓ {counts}" if counts else ""


# ------------------------------------------------------------------------ the form


@dataclass(frozen=True)
class FormResult:
    """What the form holds: the data source (None when a field is wrong) and the errors."""

    datasource: DataSource | None
    errors: dict[str, str]
    notes: dict[str, str]  # non-blocking remarks per field (e.g. an unset env: reference)


def _row(title: str, field: str, *widgets: object) -> Horizontal:
    return Horizontal(
        Label(title, classes="ds-label"), *widgets, id=f"row-{field}", classes="ds-row"
    )  # type: ignore[arg-type]


def _message(field: str, kind: str = "error") -> Static:
    widget = Static("", id=f"{field}-{kind}", classes=f"ds-{kind} {kind}", markup=False)
    widget.display = False
    return widget


class DataSourceForm(VerticalScroll):
    """Every field of a shared data source, with a reason under each wrong one."""

    class Changed(Message):
        """A value in the form changed (typed or chosen)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.stored: DataSource | None = None
        self.columns: list[str] = []
        self._loaded: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        yield _row(
            "Label", "label", Input(id="label", compact=True, placeholder="e.g. Recipient - Email")
        )
        yield _message("label")
        yield _row(
            "Data Source / Alias",
            "alias",
            Input(id="alias", compact=True, placeholder="e.g. Adobe Campaign (14016)"),
        )
        yield _message("alias")
        yield _row("DPID", "dpid", Input(id="dpid", compact=True, placeholder="e.g. 14016"))
        yield _message("dpid")
        yield _row(
            "AAM destination ID",
            "destination_id",
            Input(id="destination_id", compact=True, placeholder="e.g. 46390"),
        )
        yield _message("destination_id")
        yield _row(
            "",
            "triggers_only",
            TickBox("Triggers only (no destination ID needed)", id="triggers_only", compact=True),
        )
        yield _row(
            "Priority",
            "priority",
            Input(id="priority", compact=True, placeholder="0 when empty (higher wins)"),
        )
        yield _message("priority")
        yield _message("priority", "warning")
        yield _row(
            "ID type",
            "id_type",
            Select(ID_TYPES, id="id_type", allow_blank=False, compact=True),
        )
        yield _row(
            "Reconciliation key",
            "reconciliation_key",
            Select[str](
                [],
                id="reconciliation_key-select",
                allow_blank=True,
                compact=True,
                prompt="profile column",
            ),
            Input(id="reconciliation_key-input", compact=True, placeholder="e.g. email"),
        )
        yield _message("reconciliation_key")
        yield _row(
            "Transform",
            "transform",
            Select(TRANSFORMS, id="transform", allow_blank=False, compact=True),
        )
        yield _row(
            "AES key",
            "aes_key",
            Input(id="aes_key", compact=True, password=True, placeholder=SECRET_HELP),
        )
        yield _message("aes_key")
        yield _message("aes_key", "warning")
        yield _row(
            "AES IV (16 bytes)",
            "aes_iv",
            Input(id="aes_iv", compact=True, password=True, placeholder=SECRET_HELP),
        )
        yield _message("aes_iv")
        yield _message("aes_iv", "warning")
        yield _row(
            "Ciphertext encoding",
            "ciphertext_encoding",
            Select(ENCODINGS, id="ciphertext_encoding", allow_blank=False, compact=True),
        )
        yield _row(
            "Channel", "channel", Select(CHANNELS, id="channel", allow_blank=False, compact=True)
        )
        yield _message("channel", "warning")

    # --- loading ------------------------------------------------------------

    def load(self, ds: DataSource | None, columns: Sequence[str]) -> None:
        """Shows ``ds`` (None: an empty new data source); ``columns`` are the profile columns."""
        self.stored = ds
        self.columns = list(columns)
        shown = ds or DataSource(label="New data source")
        self.query_one("#label", Input).value = ds.label if ds else ""
        self.query_one("#alias", Input).value = shown.alias
        self.query_one("#dpid", Input).value = str(shown.dpid or "")
        self.query_one("#destination_id", Input).value = str(shown.destination_id or "")
        self.query_one("#triggers_only", Checkbox).value = shown.triggers_only
        self.query_one("#priority", Input).value = str(shown.priority)
        self.query_one("#id_type", Select).value = shown.id_type.value
        self.query_one("#transform", Select).value = shown.transform.value
        self.query_one("#ciphertext_encoding", Select).value = shown.ciphertext_encoding.value
        self.query_one("#channel", Select).value = shown.channel.value
        self._load_key_column(shown.reconciliation_key)
        for field, secret in (("aes_key", shown.aes_key), ("aes_iv", shown.aes_iv)):
            box = self.query_one(f"#{field}", Input)
            box.value = ""
            box.placeholder = (
                f"keep {secret.display()}; or hex, base64:…, env:NAME, file:PATH"
                if secret is not None
                else SECRET_HELP
            )
        for widget in self.query(".ds-error, .ds-warning").results(Static):
            widget.update("")
            widget.display = False
        self.update_visibility()
        self._loaded = self.raw()

    def _load_key_column(self, key: str) -> None:
        select = self.query_one("#reconciliation_key-select", Select)
        box = self.query_one("#reconciliation_key-input", Input)
        box.value = key
        if self.columns:
            options = [(plain(name), name) for name in self.columns]
            if key and key not in self.columns:
                options.append((plain(f"{key} (not a loaded column)"), key))
            select.set_options(options)
            if key:
                select.value = key
            else:
                select.clear()
        select.display = bool(self.columns)
        box.display = not self.columns

    # --- reading ------------------------------------------------------------

    def _select(self, field: str) -> str:
        value = self.query_one(f"#{field}", Select).value
        return "" if value is Select.NULL else str(value)

    def reconciliation_key(self) -> str:
        """The reconciliation key chosen (a profile column) or typed."""
        if self.columns:
            value = self.query_one("#reconciliation_key-select", Select).value
            return "" if value is Select.NULL else str(value)
        return self.query_one("#reconciliation_key-input", Input).value.strip()

    def raw(self) -> dict[str, object]:
        """Everything as typed, to tell whether the form was edited."""
        values: dict[str, object] = {
            name: self.query_one(f"#{name}", Input).value
            for name in (
                "label",
                "alias",
                "dpid",
                "destination_id",
                "priority",
                "aes_key",
                "aes_iv",
            )
        }
        for name in ("id_type", "transform", "ciphertext_encoding", "channel"):
            values[name] = self._select(name)
        values["triggers_only"] = self.query_one("#triggers_only", Checkbox).value
        values["reconciliation_key"] = self.reconciliation_key()
        return values

    @property
    def dirty(self) -> bool:
        """True when something was edited since the last ``load``."""
        return bool(self._loaded) and self.raw() != self._loaded

    def collect(self, *, for_save: bool, resolve: SecretResolver | None = None) -> FormResult:
        """The data source the form describes, with an error per wrong field.

        With ``for_save`` False (checks while typing), empty required fields are not
        errors yet. ``resolve`` reads ``env:``/``file:`` references so their key and
        IV lengths are checked too; an unresolvable reference is a note, not an error.
        """
        raw = self.raw()
        errors: dict[str, str] = {}
        notes: dict[str, str] = {}

        def fail(exc: ValidationError) -> None:
            errors.setdefault(exc.field, _describe(exc))

        label = str(raw["label"]).strip()
        if not label and for_save:
            errors["label"] = f"✗ {FIELD_TITLES['label']} is required (e.g. Recipient - Email)"
        triggers_only = bool(raw["triggers_only"])
        numbers: dict[str, int | None] = {}
        for name in ("dpid", "destination_id"):
            try:
                numbers[name] = check_numeric_id(str(raw[name]).strip(), name, required=False)
            except ValidationError as exc:
                fail(exc)
        if for_save and not str(raw["destination_id"]).strip() and not triggers_only:
            errors.setdefault(
                "destination_id",
                "✗ AAM destination ID is required unless the data source is Triggers only "
                "(Adobe sends it after provisioning, e.g. 46390)",
            )
        priority = 0
        text = str(raw["priority"]).strip() or "0"
        try:
            if len(text) > MAX_NUMBER_DIGITS:
                raise ValueError(text)
            priority = int(text)
        except ValueError:
            errors["priority"] = (
                f"✗ Priority {quoted(text[:24])} is not a whole number "
                f"of at most {MAX_NUMBER_DIGITS} digits (higher wins, e.g. 10)"
            )
        id_type = IdType(str(raw["id_type"]) or "visitor")
        visitor = id_type is IdType.VISITOR
        transform = Transform.NONE if visitor else Transform(str(raw["transform"]) or "none")
        key_column = "" if visitor else str(raw["reconciliation_key"])
        if not visitor and not key_column and for_save:
            errors["reconciliation_key"] = (
                "✗ Reconciliation key is required for declared IDs: the profile column whose "
                "value the website sends, e.g. email"
            )
        secrets: dict[str, Secret | None] = {"aes_key": None, "aes_iv": None}
        if transform is Transform.AES:
            for name, parse in (("aes_key", parse_key), ("aes_iv", parse_iv)):
                secret, note = self._secret(name, str(raw[name]), parse, resolve, errors)
                secrets[name] = secret
                if note:
                    notes[name] = note
                if secret is None and name not in errors and for_save:
                    errors[name] = (
                        f"✗ {FIELD_TITLES[name]} is required when the transform is AES-CBC "
                        f"({SECRET_HELP})"
                    )
        if errors:
            return FormResult(None, errors, notes)
        try:
            ds = DataSource(
                label=label or "(new)",
                alias=str(raw["alias"]).strip(),
                dpid=numbers.get("dpid"),
                destination_id=numbers.get("destination_id"),
                triggers_only=triggers_only,
                priority=priority,
                id_type=id_type,
                reconciliation_key=key_column or ("" if visitor else "?"),
                transform=transform,
                aes_key=secrets["aes_key"],
                aes_iv=secrets["aes_iv"],
                ciphertext_encoding=CipherEncoding(str(raw["ciphertext_encoding"]) or "hex"),
                channel=Channel.OTHER if visitor else Channel(str(raw["channel"]) or "other"),
            )
        except ValidationError as exc:
            return FormResult(None, {exc.field: _describe(exc)}, notes)
        return FormResult(ds, {}, notes)

    def _secret(
        self,
        name: str,
        text: str,
        parse: Callable[[str], bytes],
        resolve: SecretResolver | None,
        errors: dict[str, str],
    ) -> tuple[Secret | None, str]:
        """The secret typed (or the stored one when empty) and a note; errors go in ``errors``."""
        stored = getattr(self.stored, name) if self.stored is not None else None
        text = text.strip()
        if not text:
            return stored, ""
        try:
            secret = Secret.parse(text)
        except AudienceError as exc:
            errors[name] = f"✗ {FIELD_TITLES[name]}: {exc.message} ({exc.hint})"
            return None, ""
        assert secret is not None
        value = secret.ref if secret.kind == "literal" else None
        note = ""
        if value is None and resolve is not None:
            try:
                value = resolve(secret, name)
            except AudienceError as exc:
                note = (
                    f"! {secret.display()} cannot be read here ({exc.message}); "
                    "it will be read when used"
                )
        if value is not None:
            try:
                parse(value)
            except ValidationError as exc:
                where = "" if secret.kind == "literal" else f" (read from {secret.display()})"
                errors[name] = _describe(exc) + where
                return None, ""
        return secret, note

    # --- showing results ----------------------------------------------------

    def show_messages(self, result: FormResult, warnings: dict[str, str] | None = None) -> None:
        """Shows each field's error (✗) and warning (!) under it; clears the others.

        Errors of a field without an error line are notified instead.
        """
        shown = {f"{k}-error": v for k, v in result.errors.items()}
        for field, note in result.notes.items():
            shown[f"{field}-warning"] = note
        for field, text in (warnings or {}).items():
            shown[f"{field}-warning"] = text
        placed: set[str] = set()
        for widget in self.query(".ds-error, .ds-warning").results(Static):
            text = shown.get(widget.id or "", "")
            widget.update(text)
            widget.display = bool(text)
            if text:
                placed.add(widget.id or "")
        for field, text in result.errors.items():
            if f"{field}-error" not in placed:
                self.notify(text, severity="error", timeout=8)

    def first_error(self) -> Static | None:
        """The error line of the first wrong field, to scroll to."""
        for widget in self.query(".ds-error").results(Static):
            if widget.display:
                return widget
        return None

    # --- visibility -----------------------------------------------------------

    def update_visibility(self) -> None:
        """Hides the fields that do not apply (AES fields unless aes; declared-ID fields)."""
        visitor = self._select("id_type") == IdType.VISITOR.value
        aes = not visitor and self._select("transform") == Transform.AES.value
        for field in ("reconciliation_key", "transform", "channel"):
            self.query_one(f"#row-{field}").display = not visitor
        for field in ("aes_key", "aes_iv", "ciphertext_encoding"):
            self.query_one(f"#row-{field}").display = aes
        if visitor:
            for field in ("reconciliation_key", "channel"):
                self._hide_message(field)
        if not aes:
            for field in ("aes_key", "aes_iv"):
                self._hide_message(field)

    def _hide_message(self, field: str) -> None:
        for kind in ("error", "warning"):
            for widget in self.query(f"#{field}-{kind}").results(Static):
                widget.update("")
                widget.display = False

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Message) -> None:
        event.stop()
        self.update_visibility()
        self.post_message(self.Changed())


def _describe(exc: ValidationError) -> str:
    title = FIELD_TITLES.get(exc.field, exc.field)
    hint = f" ({exc.hint})" if exc.hint else ""
    return f"✗ {title} {exc.reason}{hint}"
