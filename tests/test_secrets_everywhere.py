"""Known secrets pass through every command and screen; none of them ever comes out.

Checked: the store's bytes (main file, WAL, key file), exported TOML, reports,
stdout and stderr of every command, and SVG screenshots of every screen.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from core.cipher import encrypt_batch
from tests.conftest import store_bytes
from tui.app import AudienceApp
from usecases.services import Services

PASSWORD = "S3cr3t-Import-PW-4711"
PASSPHRASE = "Pass-Phrase-0815-xyz"
AES_KEY = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"  # 24 bytes: AES-192
AES_IV = "f0e1d2c3b4a5968778695a4b3c2d1e0f"


@pytest.fixture
def private_key(tmp_path: Path) -> str:
    path = tmp_path / "id_test"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-f", str(path)], check=True
    )
    return path.read_text()


def forbidden(private_key: str) -> list[bytes]:
    """Every form in which a secret could leak."""
    key_body = "".join(private_key.strip().splitlines()[1:-1])
    values = [
        PASSWORD,
        PASSPHRASE,
        AES_KEY,
        AES_KEY.upper(),
        AES_IV,
        AES_IV.upper(),
        key_body[100:160],
    ]  # past the constant OpenSSH header
    raw = [bytes.fromhex(AES_KEY), bytes.fromhex(AES_IV)]
    b64 = [base64.b64encode(r).decode() for r in raw]
    return [v.encode() for v in values + b64] + raw


def config_text(tmp_path: Path, private_key: str) -> str:
    key_literal = private_key.replace("\n", "\\n")
    return f"""
name = "secrets"

[request]
organization = "Example Corp"
ims_org_id = "5DC5123F5245B1D20A490D46@AdobeOrg"

[accounts.import]
type = "sftp"
host = "127.0.0.1"
port = 9
user = "campaign"
password = "{PASSWORD}"
remote_dir = "/outbound"

[accounts.export]
type = "sftp"
host = "127.0.0.1"
port = 9
user = "campaign-out"
private_key = "{key_literal}"
private_key_passphrase = "{PASSPHRASE}"
remote_dir = "/inbound"

[[datasources]]
label = "Email"
alias = "Adobe Campaign"
dpid = 14016
destination_id = 46390
id_type = "declared"
reconciliation_key = "email"
transform = "aes"
aes_key = "{AES_KEY}"
aes_iv = "{AES_IV}"
channel = "email"
"""


def test_no_secret_leaves_through_any_door(
    run_cli, db_path: Path, tmp_path: Path, private_key: str
) -> None:  # type: ignore[no-untyped-def]
    secrets_ = forbidden(private_key)
    config = tmp_path / "env.toml"
    config.write_text(config_text(tmp_path, private_key))
    (tmp_path / "profiles.csv").write_text("id,email\nP1,alice@example.com\nP2,bob@example.com\n")
    cipher = encrypt_batch(bytes.fromhex(AES_KEY), bytes.fromhex(AES_IV), [b"alice@example.com"])
    audience = tmp_path / "ftp_46390_14016_full_1486140843000.sync"
    audience.write_text(f"{cipher[0].hex()} 201\nzz 202\n{'00' * 16} 203\n")
    (tmp_path / "members.csv").write_text("id\nP1\nP2\n")
    (tmp_path / "out").mkdir()
    outputs: list[bytes] = []

    def run(*args: str, expect: set[int] = {0}) -> None:  # noqa: B006
        result = run_cli(*args)
        assert result.code in expect, (args, result.code, result.err)
        outputs.append(result.out.encode() + result.err.encode())

    run("config", "import", str(config), "--dry-run")
    run("config", "import", str(config))
    run("config", "export")
    run("config", "export", str(tmp_path / "exported.toml"))
    run("config", "import", str(tmp_path / "exported.toml"))  # <stored> round trip
    for fmt in ("text", "eml", "json"):
        run("request", "render", "--format", fmt)
    run("probe", "all", "--timeout", "1", "--json", expect={1})
    run("hostkey", "list", "--json")
    run("profiles", "load", str(tmp_path / "profiles.csv"))
    run(
        "dry-run",
        "--profiles",
        str(tmp_path / "profiles.csv"),
        "--json",
        "--report",
        str(tmp_path / "report.md"),
        str(audience),
    )
    run("crypto", "encrypt", "--datasource", "Email", "alice@example.com")
    run("crypto", "decrypt", "--datasource", "Email", cipher[0].hex())
    assert b"alice@example.com" in outputs[-1]  # the secrets were really used
    run(
        "crypto",
        "diagnose",
        "--datasource",
        "Email",
        "--clear",
        "alice@example.com",
        "--sample",
        "0" * 32,
        "--json",
        expect={1},
    )
    run(
        "export",
        "--members",
        str(tmp_path / "members.csv"),
        "--segment-id",
        "201",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    run("import", "status", "--json")
    run("doctor", "--offline", "--json", "--report", str(tmp_path / "doctor.md"), expect={0, 1})

    files = [
        tmp_path / "exported.toml",
        tmp_path / "report.md",
        tmp_path / "doctor.md",
        *sorted((tmp_path / "out").iterdir()),
    ]
    blobs = {
        "store": store_bytes(db_path),
        **{str(f.name): f.read_bytes() for f in files},
        **{f"output {i}": o for i, o in enumerate(outputs)},
    }
    for where, blob in blobs.items():
        for secret in secrets_:
            assert secret not in blob, f"a secret leaked into {where}"


async def test_no_secret_on_any_screen(
    run_cli, db_path: Path, tmp_path: Path, private_key: str
) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "env.toml"
    config.write_text(config_text(tmp_path, private_key))
    assert run_cli("config", "import", str(config)).code == 0
    secrets_ = [s for s in forbidden(private_key) if s.isascii()]
    app = AudienceApp(Services(db_path=db_path))
    async with app.run_test(size=(160, 60)) as pilot:
        for key in ("f2", "f3", "f4", "f5", "f6", "f7"):
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()  # what the screen reads in threads is shown
            await pilot.pause()
            svg = app.export_screenshot().encode()
            for secret in secrets_:
                assert secret not in svg, f"a secret is visible on {key}"
