"""Configuration as code: one TOML file describes one environment (docs/reference.md §2).

Reading is strict (``tomllib``): unknown keys, wrong types and invalid values
are errors that name the key and its line. Writing uses ``tomlkit`` so that
exporting onto an existing file updates values and keeps the user's comments.
Secrets are written as references or ``"<stored>"``, never as values.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from core.errors import ConfigError, InputError, ValidationError
from core.ids import MAX_NUMBER_DIGITS
from core.model import (
    FIELDS_OF_TYPE,
    LOCAL_FIELDS,
    S3_FIELDS,
    SFTP_FIELDS,
    Account,
    DataSource,
    Environment,
    ProvisioningRequest,
    Role,
    Tracking,
    WorkflowSettings,
)
from core.secrets import STORED_MARK, Secret
from core.text import printable_name

SECRET_FIELDS = frozenset(
    {"password", "private_key", "private_key_passphrase", "secret_access_key", "aes_key", "aes_iv"}
)

# Expected TOML types per key; a tuple means any of them.
_REQUEST_KEYS: dict[str, type | tuple[type, ...]] = {
    "organization": str,
    "ims_org_id": str,
    "environment": str,
    "service": str,
    "id_type": str,
    "additional_info": str,
}
_ACCOUNT_KEYS: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "host": str,
    "port": int,
    "user": str,
    "password": str,
    "private_key": str,
    "private_key_passphrase": str,
    "remote_dir": str,
    "host_key": str,
    "path": str,
    "server": str,
    "access_key_id": str,
    "secret_access_key": str,
    "region": str,
    "server_side_encryption": bool,
    "endpoint_url": str,
    "ca_bundle": str,
}
_TRACKING_KEYS: dict[str, type | tuple[type, ...]] = {
    "server": str,
    "website": str,
    "website_file": str,
}
_WORKFLOW_KEYS: dict[str, type | tuple[type, ...]] = {"interval_minutes": int}
_DATASOURCE_KEYS: dict[str, type | tuple[type, ...]] = {
    "label": str,
    "alias": str,
    "dpid": (int, str),
    "destination_id": (int, str),
    "triggers_only": bool,
    "priority": int,
    "id_type": str,
    "reconciliation_key": str,
    "transform": str,
    "aes_key": str,
    "aes_iv": str,
    "ciphertext_encoding": str,
    "channel": str,
}
_TOP_KEYS = {"name", "request", "accounts", "tracking", "workflow", "datasources"}

_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false"}


@dataclass(frozen=True)
class Change:
    """One difference between two environments, for ``config import --dry-run``."""

    key: str
    old: str | None
    new: str | None

    def render(self) -> str:
        """One line (labels and values escaped: a control character never reaches it)."""
        key = printable_name(self.key)
        old = None if self.old is None else printable_name(str(self.old))
        new = None if self.new is None else printable_name(str(self.new))
        if old is None:
            return f"+ {key} = {new}"
        if new is None:
            return f"- {key} (was {old})"
        return f"~ {key}: {old} -> {new}"


class _Locator:
    """Finds the line of a key in the TOML text, to name it in errors."""

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\" -]+?)\s*\]\]?")
    _key = re.compile(r"^\s*\"?([A-Za-z0-9_-]+)\"?\s*=")

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[tuple[str | int, ...], int]] = []
        table: tuple[str | int, ...] = ()
        counters: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._header.match(line)
            if header:
                name = header.group(2).replace('"', "").replace(" ", "")
                if header.group(1) == "[[":
                    counters[name] = counters.get(name, -1) + 1
                    table = (*name.split("."), counters[name])
                else:
                    table = tuple(name.split("."))
                self.entries.append((table, number))
                continue
            key = self._key.match(line)
            if key:
                self.entries.append(((*table, key.group(1)), number))

    def line(self, path: tuple[str | int, ...]) -> int | None:
        for candidate in (path, path[:-1]):
            for entry, number in self.entries:
                if entry == candidate:
                    return number
        return None


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Reader:
    def __init__(self, text: str, source: str, existing: Environment | None) -> None:
        self.locator = _Locator(text)
        self.source = source
        self.existing = existing

    def fail(self, path: tuple[str | int, ...], message: str, hint: str = "") -> ConfigError:
        line = self.locator.line(path)
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{where}: {_dotted(path)}: {message}", hint)

    def table(
        self, data: Any, path: tuple[str | int, ...], schema: Mapping[str, type | tuple[type, ...]]
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(path, "must be a table", f"write it as [{_dotted(path)}]")
        for key, value in data.items():
            if key not in schema:
                known = ", ".join(sorted(schema))
                raise self.fail((*path, key), "unknown key", f"known keys here: {known}")
            expected = schema[key]
            types = expected if isinstance(expected, tuple) else (expected,)
            if isinstance(value, bool) and bool not in types:
                ok = False
            else:
                ok = isinstance(value, types)
            if not ok:
                wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
                raise self.fail((*path, key), f"must be {wanted}, not {type(value).__name__}")
        return dict(data)

    def secrets(
        self, values: dict[str, Any], path: tuple[str | int, ...], current: Callable[[str], Any]
    ) -> None:
        for key in SECRET_FIELDS & values.keys():
            text = values[key]
            if text == STORED_MARK:
                kept = current(key)
                if kept is None:
                    raise self.fail(
                        (*path, key),
                        '"<stored>" but nothing is stored for it yet',
                        "give env:NAME, file:PATH or the value itself",
                    )
                values[key] = kept
                continue
            try:
                values[key] = Secret.parse(text)
            except InputError as exc:
                raise self.fail((*path, key), exc.message, exc.hint) from None

    def build(
        self, where: tuple[str | int, ...], factory: Callable[..., Any], /, **kwargs: Any
    ) -> Any:
        try:
            return factory(**kwargs)
        except ValidationError as exc:
            raise self.fail((*where, exc.field), exc.reason, exc.hint) from None


def _current(owner: object) -> Callable[[str], Any]:
    """The stored value of a field of ``owner`` (None when there is no owner or no value)."""
    return lambda key: getattr(owner, key, None)


def _check_literal_aes(reader: _Reader, path: tuple[str | int, ...], ds: DataSource) -> None:
    """Literal AES keys and IVs are checked now; references are checked when resolved."""
    from core.cipher import parse_iv, parse_key

    for name, parse in (("aes_key", parse_key), ("aes_iv", parse_iv)):
        secret = getattr(ds, name)
        if secret is not None and secret.kind == "literal":
            try:
                parse(secret.ref)
            except ValidationError as exc:
                raise reader.fail((*path, name), exc.reason, exc.hint) from None


_BARE_NUMBER = re.compile(
    r"^[ \t]*([A-Za-z0-9_.\"' -]+?)[ \t]*=[ \t]*[+-]?([0-9_]+)[ \t]*(?:#.*)?$"
)


def _refuse_long_numbers(text: str, source: str) -> None:
    """A bare number longer than :data:`MAX_NUMBER_DIGITS` is refused by key and line, before
    the TOML reader turns it into an integer too large to print."""
    for number, line in enumerate(text.splitlines(), start=1):
        found = _BARE_NUMBER.match(line) if len(line) > MAX_NUMBER_DIGITS else None
        if found is None:
            continue
        digits = found.group(2).replace("_", "")
        if len(digits) > MAX_NUMBER_DIGITS:
            key = printable_name(found.group(1).strip()[:40])
            raise ConfigError(
                f"{source}:{number}: {key}: has {len(digits)} digits",
                f"a number of at most {MAX_NUMBER_DIGITS} digits",
            )


def _check_s3_files(reader: _Reader, path: tuple[str | int, ...], account: Account) -> None:
    """An S3 account's files must be usable now: the CA bundle (a bounded PEM file) and
    a ``file:`` secret (a regular file)."""
    from core.model import AccountType
    from core.s3 import check_ca_bundle, secret_file_problem

    if account.type is not AccountType.S3:
        return
    try:
        check_ca_bundle(account.ca_bundle)
    except ValidationError as exc:
        raise reader.fail((*path, exc.field), exc.reason, exc.hint) from None
    problem = secret_file_problem(account.secret_access_key)
    if problem:
        raise reader.fail(
            (*path, "secret_access_key"),
            problem,
            "write the secret access key in a plain file, or give env:NAME",
        )


def parse_environment(
    text: str, source: str = "<config>", existing: Environment | None = None
) -> Environment:
    """Parses and validates a TOML environment; raises ``ConfigError`` naming key and line.

    ``existing`` is the stored environment of the same name, used to resolve
    ``"<stored>"`` secrets (so an exported file imports back unchanged).
    """
    _refuse_long_numbers(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{source}: not valid TOML: {exc}", "check quotes, brackets and '=' on that line"
        ) from None
    reader = _Reader(text, source, existing)
    for key in data:
        if key not in _TOP_KEYS:
            raise reader.fail((key,), "unknown key", "known keys: " + ", ".join(sorted(_TOP_KEYS)))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise reader.fail(("name",), "is required and must be a string", 'e.g. name = "production"')
    request = reader.build(
        ("request",),
        ProvisioningRequest,
        **reader.table(data.get("request", {}), ("request",), _REQUEST_KEYS),
    )
    accounts_raw = data.get("accounts", {})
    if not isinstance(accounts_raw, dict):
        raise reader.fail(("accounts",), "must be a table")
    for key in accounts_raw:
        if key not in ("import", "export"):
            raise reader.fail(
                ("accounts", key), "unknown account", "use [accounts.import] or [accounts.export]"
            )
    built: dict[Role, Account] = {}
    for role in Role:
        path: tuple[str | int, ...] = ("accounts", role.value)
        values = reader.table(accounts_raw.get(role.value, {}), path, _ACCOUNT_KEYS)
        old = existing.account(role) if existing else None
        reader.secrets(values, path, _current(old))
        built[role] = reader.build(path, Account, role=role, **values)
        _check_s3_files(reader, path, built[role])
    tracking = reader.build(
        ("tracking",),
        Tracking,
        **reader.table(data.get("tracking", {}), ("tracking",), _TRACKING_KEYS),
    )
    workflow = reader.build(
        ("workflow",),
        WorkflowSettings,
        **reader.table(data.get("workflow", {}), ("workflow",), _WORKFLOW_KEYS),
    )
    raw_sources = data.get("datasources", [])
    if not isinstance(raw_sources, list):
        raise reader.fail(
            ("datasources",), "must be an array of tables", "write each as [[datasources]]"
        )
    sources: list[DataSource] = []
    for index, raw in enumerate(raw_sources):
        path = ("datasources", index)
        values = reader.table(raw, path, _DATASOURCE_KEYS)
        if "label" not in values:
            raise reader.fail(path, "label is required", 'e.g. label = "Recipient - Visitor ID"')
        old_ds = None
        if existing:
            old_ds = next((d for d in existing.datasources if d.label == values["label"]), None)
        reader.secrets(values, path, _current(old_ds))
        datasource = reader.build(path, DataSource, **values)
        _check_literal_aes(reader, path, datasource)
        sources.append(datasource)
    return reader.build(
        (),
        Environment,
        name=name,
        request=request,
        import_account=built[Role.IMPORT],
        export_account=built[Role.EXPORT],
        tracking=tracking,
        workflow=workflow,
        datasources=tuple(sources),
    )


def load_file(
    path: Path, existing_lookup: Callable[[str], Environment | None] | None = None
) -> Environment:
    """Reads and parses a TOML file; unreadable files are a one-line ``ConfigError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", "check the path") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot be read ({exc.strerror})", "check its permissions"
        ) from None
    existing = None
    if existing_lookup is not None:
        try:
            _refuse_long_numbers(text, str(path))
            name = tomllib.loads(text).get("name")
        except (tomllib.TOMLDecodeError, ConfigError):
            name = None
        if isinstance(name, str):
            existing = existing_lookup(name)
    return parse_environment(text, str(path), existing)


# --- writing -----------------------------------------------------------------


def _value(obj: Any, name: str) -> Any:
    value = getattr(obj, name)
    if isinstance(value, Secret):
        return value.export_text()
    if value is None:
        return ""
    if hasattr(value, "value") and not isinstance(value, (int, str)):
        return value.value
    if isinstance(value, str) and hasattr(value, "value"):
        return value.value
    return value


def _foreign_keys(account: Account) -> tuple[str, ...]:
    """Keys an export leaves out: those of the other account types (and the role), so a
    local account writes only type and path, an SFTP or S3 account only its own keys."""
    own = FIELDS_OF_TYPE[account.type]
    return ("role", *(k for k in (*SFTP_FIELDS, *S3_FIELDS, *LOCAL_FIELDS) if k not in own))


def to_document(env: Environment) -> dict[str, Any]:
    """The environment as plain TOML-able data, secrets as references or ``<stored>``."""
    skip_empty = {"dpid", "destination_id"}

    def section(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(obj):
            if f.name in exclude:
                continue
            value = _value(obj, f.name)
            if f.name in skip_empty and value == "":
                continue
            out[f.name] = value
        return out

    return {
        "name": env.name,
        "request": section(env.request),
        "accounts": {
            "import": section(env.import_account, _foreign_keys(env.import_account)),
            "export": section(env.export_account, _foreign_keys(env.export_account)),
        },
        "tracking": section(env.tracking),
        "workflow": section(env.workflow),
        "datasources": [section(ds) for ds in env.datasources],
    }


def _merge(target: Any, data: Mapping[str, Any]) -> None:
    """Writes ``data`` into a tomlkit container, keeping comments and order of existing keys."""
    for key in [k for k in target if k not in data]:
        del target[key]
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in target or not isinstance(target[key], (Table, dict)):
                target[key] = tomlkit.table()
            _merge(target[key], value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            existing = target.get(key)
            if not isinstance(existing, AoT):
                existing = tomlkit.aot()
                target[key] = existing
            while len(existing) > len(value):
                existing.body.pop()
            for index, item in enumerate(value):
                if index < len(existing):
                    _merge(existing[index], item)
                else:
                    table = tomlkit.table()
                    _merge(table, item)
                    existing.append(table)
        elif isinstance(value, list):
            target[key] = value
        elif key in target and target[key] == value:
            continue
        else:
            target[key] = value


def dump_environment(env: Environment, existing_text: str | None = None) -> str:
    """TOML text for ``env``; onto ``existing_text`` it updates values and keeps comments."""
    if existing_text:
        try:
            doc = tomlkit.parse(existing_text)
        except Exception:
            raise ConfigError(
                "the existing file is not valid TOML, so it cannot be updated in place",
                "fix it or export to a new file",
            ) from None
    else:
        doc = tomlkit.document()
        doc.add(tomlkit.comment("audiencectl environment; secrets are references or <stored>"))
    _merge(doc, to_document(env))
    return tomlkit.dumps(doc)


def _flatten(data: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        for item in data:
            out.update(_flatten(item, f"{prefix}[{item.get('label', '?')}]"))
    else:
        out[prefix] = repr(data) if not isinstance(data, str) else f'"{data}"'
    return out


def _display_document(env: Environment) -> dict[str, Any]:
    doc = to_document(env)
    for section in [doc["accounts"]["import"], doc["accounts"]["export"], *doc["datasources"]]:
        for key in SECRET_FIELDS & section.keys():
            secret = None
            owner: Any = env.import_account if section is doc["accounts"]["import"] else None
            if section is doc["accounts"]["export"]:
                owner = env.export_account
            if owner is None:
                owner = next(d for d in env.datasources if d.label == section["label"])
            secret = getattr(owner, key)
            if secret is None:
                section[key] = ""
            elif secret.kind == "literal":
                section[key] = secret.display() + " (new value)"
            else:
                section[key] = secret.display()
    return doc


def diff(old: Environment | None, new: Environment) -> list[Change]:
    """What importing ``new`` over ``old`` would change, secrets masked."""
    before = _flatten(_display_document(old)) if old else {}
    after = _flatten(_display_document(new))
    changes: list[Change] = []
    for key in after:
        if key not in before:
            changes.append(Change(key, None, after[key]))
        elif before[key] != after[key]:
            changes.append(Change(key, before[key], after[key]))
    changes.extend(Change(key, before[key], None) for key in before if key not in after)
    return changes
