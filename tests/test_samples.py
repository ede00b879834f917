"""storage/samples.py: the last website sample per data source."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core.clock import freeze
from core.diagnose import Diagnosis
from core.errors import StoreError
from storage.samples import forget_sample, last_sample, rename_sample, save_sample
from tests.conftest import FROZEN
from tests.tui_helpers import services_with_sample

OK = Diagnosis(True, "ok", "The sample matches.")
WRONG_IV = Diagnosis(False, "wrong_iv", "Only the first 16 bytes differ.")


def test_nothing_stored_gives_none(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    assert last_sample(services.store, env, "Recipient - Email") is None


def test_save_then_read_back(db_path: Path, frozen_clock: datetime) -> None:
    services, env = services_with_sample(db_path)
    ds = env.datasource("Recipient - Email")
    saved = save_sample(services.store, env, ds, "alice@example.com", "abcd", WRONG_IV)
    got = last_sample(services.store, env.name, ds.label)
    assert got == saved
    assert got is not None
    assert (got.clear, got.sample, got.diagnosis, got.detail) == (
        "alice@example.com",
        "abcd",
        "wrong_iv",
        WRONG_IV.detail,
    )
    assert got.at == FROZEN and not got.match
    assert got.to_diagnosis() == WRONG_IV


def test_a_new_check_replaces_the_last(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    save_sample(services.store, env, "Recipient - Email", "a@example.com", "1", WRONG_IV)
    freeze(datetime(2027, 1, 1, tzinfo=FROZEN.tzinfo))
    try:
        save_sample(services.store, env, "Recipient - Email", "a@example.com", "2", OK)
    finally:
        freeze(None)
    got = last_sample(services.store, env, "Recipient - Email")
    assert got is not None and got.sample == "2" and got.match and got.at.year == 2027
    count = services.store.conn.execute("SELECT COUNT(*) FROM website_samples").fetchone()[0]
    assert count == 1


def test_samples_are_per_environment_and_data_source(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    save_sample(services.store, env, "Recipient - Email", "a@example.com", "1", OK)
    assert last_sample(services.store, env, "Other") is None
    assert last_sample(services.store, "staging", "Recipient - Email") is None


def test_unknown_environment_is_refused_and_nothing_stored(db_path: Path) -> None:
    services, _ = services_with_sample(db_path)
    with pytest.raises(StoreError, match="no environment named 'nope'"):
        save_sample(services.store, "nope", "Recipient - Email", "a", "b", OK)
    assert services.store.conn.execute("SELECT COUNT(*) FROM website_samples").fetchone()[0] == 0


def test_rename_and_forget(db_path: Path) -> None:
    services, env = services_with_sample(db_path)
    save_sample(services.store, env, "Recipient - Email", "a@example.com", "1", OK)
    rename_sample(services.store, env, "Recipient - Email", "Email (AES)")
    assert last_sample(services.store, env, "Recipient - Email") is None
    moved = last_sample(services.store, env, "Email (AES)")
    assert moved is not None and moved.sample == "1"
    forget_sample(services.store, env, "Email (AES)")
    assert last_sample(services.store, env, "Email (AES)") is None
