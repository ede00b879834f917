"""Loading and saving environments and the provisioning request's status."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any

from core.clock import iso, now, parse_iso
from core.errors import InputError, StoreError
from core.model import (
    Account,
    DataSource,
    Environment,
    ProvisioningRequest,
    RequestStatus,
    Role,
    StatusStamp,
    Tracking,
    WorkflowSettings,
)
from core.secrets import Secret, SecretBox
from storage.db import Store

SECRET_CONTEXT = "{env}/{owner}/{field}"


def secret_context(env: str, owner: str, field: str) -> str:
    """Associated data binding a sealed secret to where it belongs (no swapping tokens)."""
    return SECRET_CONTEXT.format(env=env, owner=owner, field=field)


def _encode(value: Any) -> Any:
    if isinstance(value, Secret):
        if value.kind == "literal":
            raise StoreError("refusing to store a secret in clear", "seal it first (a bug)")
        return {"kind": value.kind, "ref": value.ref}
    if is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _secret(value: Any) -> Secret | None:
    if value is None:
        return None
    return Secret(value["kind"], value["ref"])


def _decode(data: dict[str, Any]) -> Environment:
    def account(raw: dict[str, Any]) -> Account:
        for key in ("password", "private_key", "private_key_passphrase", "secret_access_key"):
            raw[key] = _secret(raw.get(key))
        return Account(**raw)

    def source(raw: dict[str, Any]) -> DataSource:
        for key in ("aes_key", "aes_iv"):
            raw[key] = _secret(raw.get(key))
        return DataSource(**raw)

    return Environment(
        name=data["name"],
        request=ProvisioningRequest(**data["request"]),
        import_account=account(data["import_account"]),
        export_account=account(data["export_account"]),
        tracking=Tracking(**data["tracking"]),
        workflow=WorkflowSettings(**data.get("workflow", {})),
        datasources=tuple(source(d) for d in data["datasources"]),
    )


def seal_environment(env: Environment, box: SecretBox) -> Environment:
    """Replaces every literal secret with an AES-GCM token bound to its place."""
    from dataclasses import replace

    def seal(obj: Any, owner: str) -> Any:
        changes = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, Secret) and value.kind == "literal":
                changes[f.name] = box.seal(value, secret_context(env.name, owner, f.name))
        return replace(obj, **changes) if changes else obj

    return replace(
        env,
        import_account=seal(env.import_account, "accounts.import"),
        export_account=seal(env.export_account, "accounts.export"),
        datasources=tuple(seal(ds, f"datasources.{ds.label}") for ds in env.datasources),
    )


def resolve_secret(
    box: SecretBox, env: Environment, owner: Account | DataSource, field: str
) -> str:
    """The clear text of one secret field of an account or data source ('' when unset)."""
    if isinstance(owner, Account):
        where = f"accounts.{owner.role.value}"
    else:
        where = f"datasources.{owner.label}"
    return box.resolve(
        getattr(owner, field), secret_context(env.name, where, field), f"{where}.{field}"
    )


class EnvironmentRepo:
    """Environments in the store; one environment per name."""

    def __init__(self, store: Store, box: SecretBox | None = None) -> None:
        self.store = store
        self.box = box or SecretBox(store.key_path)

    def names(self) -> list[str]:
        return [
            row[0] for row in self.store.conn.execute("SELECT name FROM environments ORDER BY name")
        ]

    def get(self, name: str) -> Environment | None:
        row = self.store.conn.execute(
            "SELECT config FROM environments WHERE name = ?", (name,)
        ).fetchone()
        return _decode(json.loads(row[0])) if row else None

    def require(self, name: str | None) -> Environment:
        """The environment named, or the only one; a clear error otherwise."""
        names = self.names()
        if name is None:
            if not names:
                raise InputError(
                    f"the store {self.store.path} holds no environment yet",
                    "run `audiencectl config import FILE.toml` or `audiencectl demo`",
                )
            if len(names) > 1:
                raise InputError(
                    "the store holds several environments: " + ", ".join(names),
                    "choose one with --env NAME or AUDIENCECTL_ENV",
                )
            name = names[0]
        env = self.get(name)
        if env is None:
            known = ", ".join(names) or "none"
            raise InputError(f"no environment named {name!r}", f"known: {known}")
        return env

    def save(self, env: Environment) -> Environment:
        """Seals literal secrets and writes the environment in one transaction."""
        sealed = seal_environment(env, self.box)
        payload = json.dumps(_encode(sealed), sort_keys=True)
        stamp = iso(now())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO environments (name, config, created_at, updated_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE"
                " SET config = excluded.config, updated_at = excluded.updated_at",
                (sealed.name, payload, stamp, stamp),
            )
            conn.execute(
                "INSERT OR IGNORE INTO request_status (env, status, at) VALUES (?, ?, ?)",
                (sealed.name, RequestStatus.DRAFT.value, stamp),
            )
            conn.execute(
                "INSERT OR IGNORE INTO workflow (env, state, changed_at) VALUES (?, 'idle', ?)",
                (sealed.name, stamp),
            )
        return sealed

    # --- the provisioning request's status --------------------------------

    def request_history(self, name: str) -> list[StatusStamp]:
        rows = self.store.conn.execute(
            "SELECT status, at FROM request_status WHERE env = ?", (name,)
        ).fetchall()
        stamps = [StatusStamp(RequestStatus(s), parse_iso(a)) for s, a in rows]
        return sorted(stamps, key=lambda st: st.status.rank)

    def request_status(self, name: str) -> RequestStatus:
        history = self.request_history(name)
        return history[-1].status if history else RequestStatus.DRAFT

    def set_request_status(self, env: Environment, status: RequestStatus) -> list[StatusStamp]:
        """Moves the request to ``status``: skipped steps are filled, later ones forgotten.

        Leaving draft requires a complete request.
        """
        if status is not RequestStatus.DRAFT and not env.request.complete:
            missing = ", ".join(env.request.missing())
            raise InputError(
                f"the request is incomplete (missing: {missing})",
                "fill it in the console or in [request] of the TOML file first",
            )
        current = {st.status for st in self.request_history(env.name)}
        stamp = iso(now())
        with self.store.transaction() as conn:
            for later in RequestStatus:
                if later.rank > status.rank:
                    conn.execute(
                        "DELETE FROM request_status WHERE env = ? AND status = ?",
                        (env.name, later.value),
                    )
            for step in RequestStatus:
                if step.rank <= status.rank and step not in current:
                    conn.execute(
                        "INSERT INTO request_status (env, status, at) VALUES (?, ?, ?)",
                        (env.name, step.value, stamp),
                    )
        return self.request_history(env.name)


__all__ = ["EnvironmentRepo", "Role", "iso", "now", "parse_iso", "resolve_secret", "secret_context"]
