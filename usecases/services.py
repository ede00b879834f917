"""The services a front end works with: the store, the environments, the secrets box.

Shared by the command line and the console; it imports no Textual.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.model import Account, DataSource, Environment
from core.secrets import SecretBox
from storage.db import Store, default_db_path
from storage.repo import EnvironmentRepo, resolve_secret

ENV_VAR = "AUDIENCECTL_ENV"


@dataclass
class Services:
    """Opens the store on first use; ``env_name`` may be None (the only environment)."""

    db_path: Path = field(default_factory=default_db_path)
    env_name: str | None = None
    #: Whether opening a store that does not exist creates it (the console, `config
    #: import`); other commands refuse, so a mistyped --db never makes an empty store.
    create: bool = True
    _store: Store | None = None

    @classmethod
    def from_options(
        cls, db: Path | None, env_name: str | None, *, create: bool = True
    ) -> Services:
        return cls(
            db_path=db or default_db_path(),
            env_name=env_name or os.environ.get(ENV_VAR) or None,
            create=create,
        )

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path, create=self.create)
        return self._store

    @property
    def box(self) -> SecretBox:
        return self.repo.box

    @property
    def repo(self) -> EnvironmentRepo:
        if not hasattr(self, "_repo"):
            self._repo = EnvironmentRepo(self.store)
        return self._repo

    def env(self) -> Environment:
        """The environment to act on (``--env``, or the only one)."""
        return self.repo.require(self.env_name)

    def maybe_env(self) -> Environment | None:
        names = self.repo.names()
        if self.env_name:
            return self.repo.get(self.env_name)
        return self.repo.get(names[0]) if len(names) == 1 else None

    def secret(self, env: Environment, owner: Account | DataSource, field_name: str) -> str:
        return resolve_secret(self.box, env, owner, field_name)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@contextmanager
def worker_services(services: Services) -> Iterator[Services]:
    """A ``Services`` with its own store connection, for one worker thread; closed after."""
    own = Services(db_path=services.db_path, env_name=services.env_name)
    try:
        yield own
    finally:
        own.close()
