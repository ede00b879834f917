"""Host key fingerprints (as ssh-keygen prints them), the pinning policy, the store."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from core.errors import ExitCode
from core.hostkeys import (
    HostKey,
    HostKeyChanged,
    HostKeyCheck,
    HostKeyUnknown,
    MemoryHostKeyStore,
    fingerprint,
    host_label,
)
from storage.db import Store
from storage.hostkeys import SqliteHostKeyStore

A = HostKey("ssh-ed25519", "SHA256:" + "A" * 43)
B = HostKey("ssh-ed25519", "SHA256:" + "B" * 43)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize(
    ("args", "key_type"),
    [
        (["-t", "ed25519"], "ssh-ed25519"),
        (["-t", "rsa", "-b", "2048"], "ssh-rsa"),
        (["-t", "ecdsa", "-b", "256"], "ecdsa-sha2-nistp256"),
        (["-t", "rsa", "-b", "2048", "-m", "PEM"], "ssh-rsa"),
    ],
)
def test_fingerprint_equals_ssh_keygen(tmp_path: Path, args: list[str], key_type: str) -> None:
    path = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-f", str(path), *args], check=True)
    printed = subprocess.run(
        ["ssh-keygen", "-lf", f"{path}.pub"], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    key = paramiko.PKey.from_path(path)
    host_key = fingerprint(key)
    assert host_key == HostKey(key_type, printed)
    assert not host_key.fingerprint.endswith("=")
    assert host_key.to_json() == {"type": key_type, "fingerprint": printed}


def test_first_use_pins_when_trusted() -> None:
    store = MemoryHostKeyStore()
    note = HostKeyCheck(store, trust_new=True).check("sftp.example.net", 22, A)
    assert note == "pinned on first use"
    assert store.get("sftp.example.net", 22) == A
    assert HostKeyCheck(store, trust_new=False).check("sftp.example.net", 22, A) == (
        "matches the pinned key"
    )


def test_unknown_key_without_trust_carries_the_key() -> None:
    store = MemoryHostKeyStore()
    with pytest.raises(HostKeyUnknown) as caught:
        HostKeyCheck(store, trust_new=False).check("sftp.example.net", 2222, A)
    assert caught.value.key == A
    assert A.fingerprint in caught.value.message
    assert caught.value.exit_code == ExitCode.CONNECTION
    assert store.get("sftp.example.net", 2222) is None


def test_changed_key_is_refused_and_the_pin_stays() -> None:
    store = MemoryHostKeyStore()
    store.pin("sftp.example.net", 2222, A)
    with pytest.raises(HostKeyChanged) as caught:
        HostKeyCheck(store, trust_new=True).check("sftp.example.net", 2222, B)
    error = caught.value
    assert "HOST KEY CHANGED" in error.message
    assert A.fingerprint in error.message and B.fingerprint in error.message
    assert "audiencectl hostkey forget sftp.example.net:2222" in error.hint
    assert error.exit_code == ExitCode.CONNECTION
    assert (error.pinned, error.presented) == (A, B)
    assert store.get("sftp.example.net", 2222) == A


def test_fingerprint_from_the_configuration_wins() -> None:
    store = MemoryHostKeyStore()
    check = HostKeyCheck(store, trust_new=False, pinned_from_config=A.fingerprint)
    assert "configuration" in check.check("h", 22, A)
    assert store.get("h", 22) == A  # recorded for display
    with pytest.raises(HostKeyChanged) as caught:
        check.check("h", 22, B)
    assert "host_key" in caught.value.hint


def test_host_label() -> None:
    assert host_label("h", 22) == "h"
    assert host_label("h", 2222) == "h:2222"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteHostKeyStore]:
    with Store(tmp_path / "keys.db") as store:
        yield SqliteHostKeyStore(store.conn)


def test_sqlite_store(sqlite_store: SqliteHostKeyStore) -> None:
    assert sqlite_store.get("SFTP.example.net", 22) is None
    sqlite_store.pin("SFTP.example.net", 22, A)
    assert sqlite_store.get("sftp.example.net", 22) == A
    sqlite_store.pin("sftp.example.net", 22, B)  # a deliberate re-pin replaces
    sqlite_store.pin("sftp.example.net", 2222, A)
    pins = sqlite_store.all()
    assert [(p.host, p.port, p.key) for p in pins] == [
        ("sftp.example.net", 22, B),
        ("sftp.example.net", 2222, A),
    ]
    assert pins[0].pinned_at.tzinfo is not None
    assert sqlite_store.forget("sftp.example.net", 22) is True
    assert sqlite_store.forget("sftp.example.net", 22) is False
    assert sqlite_store.get("sftp.example.net", 22) is None
    assert sqlite_store.get("sftp.example.net", 2222) == A


def test_sqlite_store_with_the_policy(sqlite_store: SqliteHostKeyStore) -> None:
    HostKeyCheck(sqlite_store, trust_new=True).check("h", 22, A)
    with pytest.raises(HostKeyChanged):
        HostKeyCheck(sqlite_store, trust_new=True).check("h", 22, B)
    assert sqlite_store.get("h", 22) == A
