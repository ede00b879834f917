"""The services a front end works with: the store, the environments, the secrets box.

Shared by the command line and the console; it imports no Textual.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.model import Account, DataSource, Environment
from core.secrets import SecretBox
from storage.db import Store, default_db_path
from storage.repo import EnvironmentRepo, resolve_secret

ENV_VAR = "AUDIENCECTL_ENV"
#: Test-only pause points (``fetch=2,write=5``): read here, at the edge, and nowhere else.
HOOKS_VAR = "AUDIENCECTL_TEST_HOOKS"


def pause_hooks(spec: str) -> Callable[[str], None] | None:
    """The hook of an ``AUDIENCECTL_TEST_HOOKS`` value, or None for an empty one.

    ``"write=5,fetch=2"`` makes the named point print ``audiencectl-hook: NAME`` on
    stderr then sleep that many seconds (1 when not given), so that a test can kill
    the process at a known moment. Other points pass at once.
    """
    delays: dict[str, float] = {}
    for item in spec.split(","):
        point, _, seconds = item.partition("=")
        if point.strip():
            delays.setdefault(point.strip(), float(seconds or "1"))
    if not delays:
        return None

    def hook(name: str) -> None:
        if name in delays:
            sys.stderr.write(f"audiencectl-hook: {name}\n")
            sys.stderr.flush()
            time.sleep(delays[name])

    return hook


@dataclass
class Services:
    """Opens the store on first use; ``env_name`` may be None (the only environment)."""

    db_path: Path = field(default_factory=default_db_path)
    env_name: str | None = None
    #: Whether opening a store that does not exist creates it (the console, `config
    #: import`); other commands refuse, so a mistyped --db never makes an empty store.
    create: bool = True
    #: Called at named points of an import pass or an export upload (tests only).
    hooks: Callable[[str], None] | None = None
    _store: Store | None = None

    @classmethod
    def from_options(
        cls, db: Path | None, env_name: str | None, *, create: bool = True
    ) -> Services:
        return cls(
            db_path=db or default_db_path(),
            env_name=env_name or os.environ.get(ENV_VAR) or None,
            create=create,
            hooks=pause_hooks(os.environ.get(HOOKS_VAR, "")),
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
    own = Services(db_path=services.db_path, env_name=services.env_name, hooks=services.hooks)
    try:
        yield own
    finally:
        own.close()
