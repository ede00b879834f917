"""Shared fixtures: a fresh store per test, the CLI as a function, a frozen clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import clock
from tests.cryptojs_helper import cryptojs  # noqa: F401 (the session fixture, for every test)

pytest_plugins = ["tests.sshd", "tests.s3server"]

FROZEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

SAMPLE_TOML = """\
# Production integration (comments must survive an export)
name = "production"

[request]
organization = "Example Corp"   # legal name
ims_org_id = "5DC5123F5245B1D20A490D46@AdobeOrg"
environment = "Production"
service = "Adobe Audience Manager"
id_type = "Declared ID"

[accounts.import]
type = "sftp"
host = "sftp.example.net"
port = 22
user = "campaign"
password = "hunter2-import-secret"
remote_dir = "/outbound"

[accounts.export]
type = "sftp"
host = "sftp.example.net"
port = 2222
user = "campaign-out"
password = "env:AUDIENCECTL_TEST_EXPORT_PW"
remote_dir = "/inbound"

[tracking]
server = "t.news.example.com"
website = "https://www.example.com"

[[datasources]]
label = "Recipient - Email"
alias = "Adobe Campaign"
dpid = 14016
destination_id = 46390
priority = 10
id_type = "declared"
reconciliation_key = "email"
transform = "aes"
aes_key = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
aes_iv = "000102030405060708090a0b0c0d0e0f"
channel = "email"
"""


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store path of its own, also exported as AUDIENCECTL_DB for the CLI."""
    path = tmp_path / "store" / "audiencectl.db"
    monkeypatch.setenv("AUDIENCECTL_DB", str(path))
    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    return path


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], db_path: Path):  # type: ignore[no-untyped-def]
    """Runs `audiencectl ARGS...` in-process and returns its exit code, stdout and stderr."""
    from tui.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def sample_toml(tmp_path: Path) -> Path:
    path = tmp_path / "production.toml"
    path.write_text(SAMPLE_TOML, encoding="utf-8")
    return path


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    clock.freeze(FROZEN)
    yield FROZEN
    clock.freeze(None)


def store_bytes(path: Path) -> bytes:
    """Every byte the store keeps on disk (main file, WAL, key file)."""
    data = b""
    for suffix in ("", "-wal", "-shm", ".key"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            data += candidate.read_bytes()
    return data


def snapshot_of_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith("-shm")
    }


os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
