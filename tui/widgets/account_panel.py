"""The form of one external account, with its probe underneath.

The title says the direction so it cannot be misread. The fields follow the
type: an SFTP server, an Amazon S3 bucket (the fields of Campaign's "AWS S3"
external account, each explained in Campaign's words) or a local folder.
Secret fields (password, private key, passphrase, S3 secret access key) are
masked inputs whose placeholder shows
the stored mask or reference; left empty they keep what is stored. The private
key field takes a path to a key file (kept as a ``file:`` reference), an
``env:``/``file:`` reference, or a pasted key (OpenSSH or PEM, stored
encrypted). :meth:`AccountPanel.collect` validates every field through the
``Account`` model and returns the account and the reasons per field; it never
clears what the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

from core.errors import AudienceError, ValidationError
from core.model import LOCAL_FIELDS, S3_FIELDS, Account, AccountType, Role
from core.s3 import check_ca_bundle, secret_file_problem
from core.secrets import Secret
from tui.widgets.probe_view import ProbeView

TITLES: dict[Role, tuple[str, str]] = {
    Role.IMPORT: ("importSharedAudience — AAM → Campaign", "(the console reads)"),
    Role.EXPORT: (
        "exportSharedAudience — Campaign → AAM",
        "(the console writes; an export from Campaign is an import for AAM)",
    ),
}
TYPES = [
    ("SFTP server", AccountType.SFTP.value),
    ("Amazon S3 (AWS S3)", AccountType.S3.value),
    ("Local folder", AccountType.LOCAL.value),
]
FIELD_TITLES: dict[str, str] = {
    "type": "Type",
    "host": "Host",
    "port": "Port",
    "user": "User",
    "password": "Password",
    "private_key": "Private key",
    "private_key_passphrase": "Passphrase",
    "remote_dir": "Remote folder",
    "host_key": "Pinned key",
    "path": "Folder",
    "server": "S3 server",
    "access_key_id": "Access key ID",
    "secret_access_key": "Secret key",
    "region": "AWS region",
    "server_side_encryption": "Encryption",
    "endpoint_url": "Endpoint URL",
    "ca_bundle": "CA bundle",
}
S3_TEXT_FIELDS = ("server", "access_key_id", "region", "endpoint_url", "ca_bundle")
SFTP_SECRET_FIELDS = ("password", "private_key", "private_key_passphrase")
SECRET_FIELDS = (*SFTP_SECRET_FIELDS, "secret_access_key")
PASTED_KEY = "(pasted key)"
SECRET_HELP = {
    "password": "env:NAME, file:PATH or the password",
    "private_key": "key file path, env:NAME, or paste the key",
    "private_key_passphrase": "only for an encrypted key",
    "secret_access_key": "env:NAME, file:PATH or the secret access key",
}
# What each S3 field is, in the words of Campaign's external account form (docs/adobe.md).
S3_HELP = {
    "server": 'Campaign\'s "AWS S3 Account Server": <bucket>.s3.amazonaws.com/<path>, '
    "no https:// or s3://, no region (Campaign adds it). Adobe sends it with the keys.",
    "access_key_id": "Campaign's \"AWS access key ID\" (AKIA..., an IAM user's long-term key; "
    "temporary ASIA... keys cannot be used).",
    "secret_access_key": 'Campaign\'s "Secret access key", sent with the key ID; stored '
    "encrypted, never shown again.",
    "region": 'Campaign\'s "AWS region" of the bucket, e.g. eu-west-1 (required).',
    "server_side_encryption": 'Campaign\'s "Use server side encryption" ("Keep files in S3 '
    'encrypted"): uploads ask S3 to encrypt them (SSE-S3, AES256).',
    "endpoint_url": "Not in Campaign: only for another S3-compatible service, "
    "https://host:port. Empty for AWS.",
    "ca_bundle": "Not in Campaign: the PEM file of a private CA for that endpoint. Empty for AWS.",
}
SSE_CHOICES = [("No", "no"), ("Yes: use server side encryption", "yes")]


class KeyInput(Input):
    """A masked input that keeps a pasted multi-line private key whole.

    ``Input`` keeps only the first line of a paste; a key needs all of them.
    """

    pasted_key: str = ""

    def _on_paste(self, event: events.Paste) -> None:
        text = event.text.strip()
        if "\n" in text and "PRIVATE KEY" in text:
            event.prevent_default()
            event.stop()
            self.pasted_key = text + "\n"
            self.value = PASTED_KEY
            self.cursor_position = len(self.value)


@dataclass
class FormResult:
    """The account in the form (None when a field is invalid) and the reason per field."""

    account: Account | None
    errors: dict[str, str] = field(default_factory=dict)


def _row(title: str, name: str, widget: Input | Select[str] | Static, role: Role) -> Vertical:
    if name in LOCAL_FIELDS:
        classes = "acct-field local-only"
    elif name in S3_FIELDS:
        classes = "acct-field s3-only"
    elif name == "type":
        classes = "acct-field"
    else:
        classes = "acct-field sftp-only"
    help_line = (
        [Static(S3_HELP[name], classes="acct-help", markup=False)] if name in S3_HELP else []
    )
    return Vertical(
        Horizontal(Label(title, classes="acct-label"), widget, classes="acct-row"),
        *help_line,
        Static("", classes="acct-error", id=f"{role.value}-{name}-error", markup=False),
        classes=classes,
    )


def _reason(exc: ValidationError | AudienceError) -> str:
    reason = exc.reason if isinstance(exc, ValidationError) else exc.message
    return f"✗ {reason}" + (f". {exc.hint}" if exc.hint else "")


class AccountPanel(Vertical):
    """One account: title, fields with their errors, probe buttons, the probe's stages."""

    DEFAULT_CLASSES = "account-panel"

    class ProbeRequested(Message):
        """The panel's Probe button was pressed."""

        def __init__(self, role: Role) -> None:
            super().__init__()
            self.role = role

    class CancelRequested(Message):
        """The panel's Cancel button was pressed."""

        def __init__(self, role: Role) -> None:
            super().__init__()
            self.role = role

    def __init__(self, role: Role, probe_key: str, **kwargs: object) -> None:
        super().__init__(id=f"{role.value}-panel", **kwargs)  # type: ignore[arg-type]
        self.role = role
        self.probe_key = probe_key
        self.stored: Account = Account(role)

    def wid(self, name: str) -> str:
        return f"{self.role.value}-{name}"

    def compose(self) -> ComposeResult:
        title, subtitle = TITLES[self.role]
        yield Static(title, classes="panel-title", markup=False)
        yield Static(subtitle, classes="panel-subtitle", markup=False)
        yield _row(
            "Type",
            "type",
            Select(TYPES, id=self.wid("type"), allow_blank=False, compact=True),
            self.role,
        )
        # examples say so ("e.g."), so that an empty field never reads as a filled one
        placeholders = {
            "host": "e.g. sftp.example.net",
            "port": "22 when empty",
            "user": "e.g. campaign",
            "remote_dir": "e.g. " + ("/outbound" if self.role is Role.IMPORT else "/inbound"),
            "path": "e.g. /data/aam/" + ("outbound" if self.role is Role.IMPORT else "inbound"),
        }
        for name in ("host", "port", "user"):
            yield _row(
                FIELD_TITLES[name],
                name,
                Input(id=self.wid(name), placeholder=placeholders[name], compact=True),
                self.role,
            )
        for name in SFTP_SECRET_FIELDS:  # the S3 secret key has its row among the S3 fields
            cls = KeyInput if name == "private_key" else Input
            yield _row(
                FIELD_TITLES[name],
                name,
                # a private key's path is no secret: only what it points at is
                cls(
                    id=self.wid(name),
                    password=name != "private_key",
                    compact=True,
                    placeholder=SECRET_HELP[name],
                ),
                self.role,
            )
        yield _row(
            FIELD_TITLES["remote_dir"],
            "remote_dir",
            Input(id=self.wid("remote_dir"), placeholder=placeholders["remote_dir"], compact=True),
            self.role,
        )
        yield _row(
            FIELD_TITLES["host_key"],
            "host_key",
            Static("", id=self.wid("host_key"), classes="acct-readonly", markup=False),
            self.role,
        )
        yield _row(
            FIELD_TITLES["path"],
            "path",
            Input(id=self.wid("path"), placeholder=placeholders["path"], compact=True),
            self.role,
        )
        yield from self._s3_rows()
        with Horizontal(classes="panel-buttons"):
            yield Button(f"Probe ({self.probe_key})", id=self.wid("probe"), compact=True)
            yield Button("Cancel (Esc)", id=self.wid("cancel"), compact=True, disabled=True)
        yield ProbeView(self.role, self.probe_key, id=self.wid("probe-view"))

    def _s3_rows(self) -> ComposeResult:
        side = "outbound" if self.role is Role.IMPORT else "inbound"
        placeholders = {
            "server": f"e.g. mybucket.s3.amazonaws.com/aam/{side}",
            "access_key_id": "e.g. AKIAIOSFODNN7EXAMPLE",
            "region": "e.g. eu-west-1",
            "endpoint_url": "empty for AWS",
            "ca_bundle": "empty for AWS",
        }
        for name in S3_FIELDS:
            widget: Input | Select[str]
            if name == "secret_access_key":
                widget = Input(
                    id=self.wid(name), password=True, compact=True, placeholder=SECRET_HELP[name]
                )
            elif name == "server_side_encryption":
                widget = Select(SSE_CHOICES, id=self.wid(name), allow_blank=False, compact=True)
            else:
                widget = Input(id=self.wid(name), placeholder=placeholders[name], compact=True)
            yield _row(FIELD_TITLES[name], name, widget, self.role)

    # --- values -----------------------------------------------------------

    def field_input(self, name: str) -> Input:
        """The Input of field ``name``."""
        return self.query_one(f"#{self.wid(name)}", Input)

    @property
    def probe_view(self) -> ProbeView:
        return self.query_one(ProbeView)

    def load(self, account: Account, pinned: str) -> None:
        """Shows ``account``; secret inputs are emptied and show the stored mask or reference."""
        self.stored = account
        self.query_one(f"#{self.wid('type')}", Select).value = account.type.value
        self.field_input("host").value = account.host
        self.field_input("port").value = str(account.port)
        self.field_input("user").value = account.user
        self.field_input("remote_dir").value = account.remote_dir
        self.field_input("path").value = account.path
        for name in S3_TEXT_FIELDS:
            self.field_input(name).value = getattr(account, name)
        self.query_one(f"#{self.wid('server_side_encryption')}", Select).value = (
            "yes" if account.server_side_encryption else "no"
        )
        for name in SECRET_FIELDS:
            box = self.field_input(name)
            box.value = ""
            if isinstance(box, KeyInput):
                box.pasted_key = ""
            secret: Secret | None = getattr(account, name)
            box.placeholder = (
                f"{secret.display()} stored; empty keeps it" if secret else SECRET_HELP[name]
            )
        self.query_one(f"#{self.wid('host_key')}", Static).update(pinned)
        for name in FIELD_TITLES:
            self.show_error(name, "")
        self.show_type(account.type)

    def show_type(self, kind: AccountType | str) -> None:
        """Shows the fields of an SFTP account, an S3 account or a local folder."""
        kind = AccountType(kind)
        for row in self.query(".sftp-only"):
            row.display = kind is AccountType.SFTP
        for row in self.query(".s3-only"):
            row.display = kind is AccountType.S3
        for row in self.query(".local-only"):
            row.display = kind is AccountType.LOCAL
        self.probe_view.set_kind(kind)

    def show_error(self, name: str, text: str) -> None:
        found = self.query(f"#{self.wid(name)}-error")
        if found:
            box = found.first(Static)
            box.update(text)
            box.display = bool(text)

    def set_running(self, running: bool) -> None:
        """Enables Cancel while a probe of this account runs."""
        self.query_one(f"#{self.wid('probe')}", Button).disabled = running
        self.query_one(f"#{self.wid('cancel')}", Button).disabled = not running

    # --- validation -------------------------------------------------------

    def _secret(self, name: str, errors: dict[str, str]) -> Secret | None:
        box = self.field_input(name)
        text = box.value.strip()
        stored: Secret | None = getattr(self.stored, name)
        if not text:
            return stored
        try:
            if name == "private_key":
                return self._private_key(box, text)
            return Secret.parse(text)
        except AudienceError as exc:
            errors[name] = _reason(exc)
            return stored

    def _private_key(self, box: Input, text: str) -> Secret:
        if isinstance(box, KeyInput) and text == PASTED_KEY and box.pasted_key:
            return Secret("literal", box.pasted_key)
        if text.startswith("-----BEGIN"):
            raise AudienceError(
                "only the first line of the key arrived",
                "paste the whole key (all its lines) or give the key file's path",
            )
        if text.startswith(("env:", "file:")):
            secret = Secret.parse(text)
            assert secret is not None
            if secret.kind == "file":
                _check_key_file(Path(secret.ref).expanduser())
            return secret
        path = Path(text).expanduser()
        _check_key_file(path)
        return Secret("file", str(path.resolve()))

    def collect(self, check_files: bool = False) -> FormResult:
        """Validates every field; the account is None when any field is invalid.

        ``check_files`` (on save) also checks the S3 account's files: the CA bundle is read
        through the bounded, non-blocking reader and a ``file:`` secret is ``stat``-ed. It
        is off while typing, so that no keystroke reads a file."""
        errors: dict[str, str] = {}
        role = self.role
        kind = str(self.query_one(f"#{self.wid('type')}", Select).value)
        texts = {
            name: self.field_input(name).value.strip()
            for name in ("host", "user", "remote_dir", "path")
        }
        port_text = self.field_input("port").value.strip() or "22"
        port = 22
        if not port_text.isdigit() or len(port_text) > 5:
            errors["port"] = "✗ must be a number. 1 to 65535, usually 22"
        else:
            port = int(port_text)
            try:
                Account(role, port=port)
            except ValidationError as exc:
                errors["port"] = _reason(exc)
                port = 22
        for name, text in texts.items():
            try:
                Account(role, **{name: text})  # type: ignore[arg-type]
            except ValidationError as exc:
                errors[name] = _reason(exc)
        secrets = {name: self._secret(name, errors) for name in SECRET_FIELDS}
        s3_values: dict[str, object] = {
            name: self.field_input(name).value.strip() for name in S3_TEXT_FIELDS
        }
        sse = self.query_one(f"#{self.wid('server_side_encryption')}", Select).value
        s3_values["server_side_encryption"] = sse == "yes"
        account: Account | None = None
        if check_files and kind == AccountType.S3.value:
            _check_s3_files(s3_values, secrets["secret_access_key"], errors)
        if not errors:
            try:
                account = Account(
                    role,
                    type=AccountType(kind),
                    port=port,
                    host_key=self.stored.host_key,
                    **texts,  # type: ignore[arg-type]
                    **secrets,  # type: ignore[arg-type]
                    **s3_values,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                errors[exc.field] = _reason(exc)
        for name in FIELD_TITLES:
            self.show_error(name, errors.get(name, ""))
        return FormResult(account, errors)

    # --- events -----------------------------------------------------------

    @on(Select.Changed)
    def type_changed(self, event: Select.Changed) -> None:
        if event.select.id == self.wid("type") and event.value is not Select.BLANK:
            self.show_type(str(event.value))

    @on(Input.Changed)
    def field_changed(self, event: Input.Changed) -> None:
        event.stop()
        if isinstance(event.input, KeyInput):  # a path shows; key material never does
            event.input.password = _looks_like_key_material(event.value)
        self.collect()

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == self.wid("probe"):
            self.post_message(self.ProbeRequested(self.role))
        elif event.button.id == self.wid("cancel"):
            self.post_message(self.CancelRequested(self.role))


def _check_s3_files(
    values: dict[str, object], secret: Secret | None, errors: dict[str, str]
) -> None:
    """The CA bundle must be a PEM file and a ``file:`` secret a regular file, as on import;
    neither check can block (a FIFO or a device is refused at once)."""
    try:
        check_ca_bundle(str(values["ca_bundle"]))
    except ValidationError as exc:
        errors["ca_bundle"] = _reason(exc)
    problem = secret_file_problem(secret)
    if problem:
        errors["secret_access_key"] = (
            f"✗ {problem}. Write the secret access key in a plain file, or give env:NAME"
        )


def _looks_like_key_material(text: str) -> bool:
    """True unless ``text`` reads as a key file's path, a reference or the pasted-key mark
    (what the private key field shows in clear)."""
    text = text.strip()
    if not text or text == PASTED_KEY or text.startswith(("env:", "file:")):
        return False
    if text.startswith("-----") or " " in text or len(text) > 200:
        return True
    return not (text.startswith(("/", "~", ".")) or "/" in text or "\\" in text)


def _check_key_file(path: Path) -> None:
    """A readable file that holds a private key, or an ``AudienceError`` saying what is wrong."""
    try:
        if not path.is_file():  # a FIFO or a device would block the console
            raise IsADirectoryError if path.is_dir() else FileNotFoundError
        with path.open("rb") as fh:  # the head is enough; never read a huge file whole
            head = fh.read(4096).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise AudienceError(f"no such file: {path}", "give the private key file's path") from None
    except IsADirectoryError:
        raise AudienceError(f"{path} is a folder", "give the private key file's path") from None
    except OSError as exc:
        raise AudienceError(
            f"cannot read {path}: {exc.strerror}", "check its permissions"
        ) from None
    if "PRIVATE KEY" not in head:
        raise AudienceError(
            f"{path} does not hold a private key",
            "an OpenSSH or PEM private key (not the .pub file)",
        )
