from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.config import parse_environment
from core.errors import SecretError
from core.secrets import Secret, SecretBox, mask
from storage.db import Store
from storage.repo import EnvironmentRepo, resolve_secret
from tests.conftest import SAMPLE_TOML, store_bytes


def test_literals_are_sealed_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    repo = EnvironmentRepo(store)
    saved = repo.save(parse_environment(SAMPLE_TOML))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = store_bytes(path)
    for secret in (b"hunter2-import-secret", b"603deb1015ca71be", b"000102030405060708090a0b"):
        assert secret not in raw
    key_file = path.with_name(path.name + ".key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert resolve_secret(repo.box, saved, saved.import_account, "password") == (
        "hunter2-import-secret"
    )


def test_token_is_bound_to_its_place(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "k")
    sealed = box.seal(Secret("literal", "value"), "prod/accounts.import/password")
    assert sealed is not None and sealed.kind == "stored"
    assert box.resolve(sealed, "prod/accounts.import/password") == "value"
    with pytest.raises(SecretError, match="cannot be decrypted"):
        box.resolve(sealed, "prod/accounts.export/password")


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "k")
    sealed = box.seal(Secret("literal", "v"), "c")
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        SecretBox(tmp_path / "k").resolve(sealed, "c")


def test_missing_key_file(tmp_path: Path) -> None:
    sealed = SecretBox(tmp_path / "k").seal(Secret("literal", "v"), "c")
    (tmp_path / "k").unlink()
    with pytest.raises(SecretError, match="missing"):
        SecretBox(tmp_path / "k").resolve(sealed, "c")


def test_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = SecretBox(tmp_path / "k")
    monkeypatch.setenv("AUDIENCECTL_T_PW", "from-env")
    assert box.resolve(Secret.parse("env:AUDIENCECTL_T_PW"), "c") == "from-env"
    (tmp_path / "pw").write_text("from-file\n")
    assert box.resolve(Secret.parse(f"file:{tmp_path / 'pw'}"), "c") == "from-file"
    monkeypatch.delenv("AUDIENCECTL_T_PW")
    with pytest.raises(SecretError, match="AUDIENCECTL_T_PW is not set") as info:
        box.resolve(Secret.parse("env:AUDIENCECTL_T_PW"), "c", "accounts.import.password")
    assert "accounts.import.password" in str(info.value)
    with pytest.raises(SecretError, match="does not exist"):
        box.resolve(Secret.parse(f"file:{tmp_path / 'nope'}"), "c")
    assert not (tmp_path / "k").exists()  # references never need the key file


def test_mask() -> None:
    assert mask("hunter2") == "••••••"
    assert mask("") == ""
    assert mask("abcdefghijkl", keep=2) == "••••••kl"


def test_the_store_refuses_to_open_with_an_open_key_file(
    run_cli, sample_toml: Path, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("config", "import", str(sample_toml)).code == 0
    key_file = db_path.with_name(db_path.name + ".key")
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    os.chmod(key_file, 0o640)
    result = run_cli("request", "status")  # no secret needed, still refused
    assert result.code == 2
    assert "chmod 600" in result.err and result.err.count("\n") == 1
    os.chmod(key_file, 0o600)
    assert run_cli("request", "status").code == 0


def test_a_bad_env_reference_is_not_echoed() -> None:
    with pytest.raises(SecretError) as info:
        Secret.parse("env:not a name S3cret-value")
    assert "S3cret" not in str(info.value)
