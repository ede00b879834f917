"""The secrets and host-key policy a use case needs to open an account or a data source."""

from __future__ import annotations

from collections.abc import Callable

from core.hostkeys import HostKeyCheck
from core.model import Account, DataSource, Environment
from core.probe import Credentials
from core.transport import FileTransport, open_transport
from storage.hostkeys import SqliteHostKeyStore
from usecases.services import Services

TRANSFER_TIMEOUT = 30.0


def credentials_for(services: Services, env: Environment, account: Account) -> Credentials:
    """The account's secrets, resolved now (``SecretError`` names a field that cannot be)."""
    return Credentials.of(account, lambda name: services.secret(env, account, name))


def host_key_check(services: Services, account: Account, trust_new: bool) -> HostKeyCheck:
    """The host key policy for ``account``: the store's pins, or the configured fingerprint."""
    return HostKeyCheck(
        SqliteHostKeyStore(services.store.conn), trust_new, pinned_from_config=account.host_key
    )


def account_opener(
    services: Services, env: Environment, timeout: float = TRANSFER_TIMEOUT
) -> Callable[[Account], FileTransport]:
    """Opens an account of ``env`` with its resolved secrets, checking host keys against
    the store's pins (never trusting a new key: probe first)."""

    def open_account(account: Account) -> FileTransport:
        creds = credentials_for(services, env, account)
        return open_transport(account, creds, host_key_check(services, account, False), timeout)

    return open_account


def secret_resolver(services: Services, env: Environment) -> Callable[[DataSource, str], str]:
    """``resolve(ds, field)`` for data source secrets (AES key and IV)."""

    def resolve(ds: DataSource, field: str) -> str:
        return services.secret(env, ds, field)

    return resolve
