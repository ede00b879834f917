"""`audiencectl crypto encrypt|decrypt|hash|diagnose`: outputs, exit codes, bad inputs."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_TOML
from tests.external import needs_openssl, openssl_cbc_hex

KEY = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV = "000102030405060708090a0b0c0d0e0f"
OTHER_IV = "0f0e0d0c0b0a09080706050403020100"

# The same data source, its key and IV read from the environment.
ENV_TOML = SAMPLE_TOML.replace(f'aes_key = "{KEY}"', 'aes_key = "env:AC_TEST_KEY"').replace(
    f'aes_iv = "{IV}"', 'aes_iv = "env:AC_TEST_IV"'
)
HASHED_SOURCE = """
[[datasources]]
label = "Recipient - SMS"
alias = "Adobe Campaign"
dpid = 14017
destination_id = 46391
priority = 5
id_type = "declared"
reconciliation_key = "mobile_phone"
transform = "sha1"
channel = "sms"
"""


def openssl_hex(value: str, iv: str = IV) -> str:
    return openssl_cbc_hex(value, KEY, iv)


@pytest.fixture
def configured(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A store whose only data source reads its key and IV from AC_TEST_KEY / AC_TEST_IV."""
    monkeypatch.setenv("AC_TEST_KEY", KEY)
    monkeypatch.setenv("AC_TEST_IV", IV)
    path = tmp_path / "env.toml"
    path.write_text(ENV_TOML, encoding="utf-8")
    assert run_cli("config", "import", str(path)).code == 0
    return run_cli


def import_toml(run_cli, tmp_path: Path, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "other.toml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("config", "import", str(path))
    assert result.code == 0, result.err


def store_rows(db_path: Path) -> list[tuple[object, ...]]:
    """What an error must leave untouched: the environments and the stored samples."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT name, config, updated_at FROM environments").fetchall()
        rows += conn.execute("SELECT * FROM website_samples").fetchall()
    finally:
        conn.close()
    return rows


def no_secret_in(*texts: str) -> None:
    for text in texts:
        low = text.lower()
        assert KEY not in low and IV not in low


# ----------------------------------------------------------------------- encrypt


@needs_openssl
def test_encrypt_matches_openssl_after_normalization(configured) -> None:  # type: ignore[no-untyped-def]
    result = configured("crypto", "encrypt", " Alice@Example.COM ", "bob@example.com")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        openssl_hex("alice@example.com"),
        openssl_hex("bob@example.com"),
    ]
    no_secret_in(result.out, result.err)


def test_encrypt_invalid_value_prints_outcome_and_exits_1(configured) -> None:  # type: ignore[no-untyped-def]
    result = configured("crypto", "encrypt", "not-an-email", "alice@example.com")
    lines = result.out.splitlines()
    assert result.code == 1
    assert lines[0] == "[invalid_email]"
    assert len(lines) == 2 and len(lines[1]) == 64


def test_encrypt_with_sealed_literal_key(run_cli, sample_toml: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("config", "import", str(sample_toml)).code == 0
    result = run_cli("crypto", "encrypt", "--datasource", "Recipient - Email", "a@example.com")
    assert result.code == 0
    decrypted = run_cli("crypto", "decrypt", result.out.strip())
    assert decrypted.out.strip() == "a@example.com"
    no_secret_in(result.out, result.err, decrypted.out, decrypted.err)


@pytest.mark.parametrize(
    ("key_text", "iv_text"),
    [
        ("\\x" + KEY, "\\x" + IV),  # Campaign's form, once in front
        ("".join(f"\\x{KEY[i : i + 2]}" for i in range(0, 64, 2)), "0x" + IV.upper()),
    ],
    ids=["backslash-x", "backslash-x-per-byte"],
)
def test_campaigns_key_forms_encrypt_like_bare_hex(  # type: ignore[no-untyped-def]
    configured, monkeypatch: pytest.MonkeyPatch, key_text: str, iv_text: str
) -> None:
    bare = configured("crypto", "encrypt", "alice@example.com")
    monkeypatch.setenv("AC_TEST_KEY", key_text)
    monkeypatch.setenv("AC_TEST_IV", iv_text)
    prefixed = configured("crypto", "encrypt", "alice@example.com")
    assert bare.code == prefixed.code == 0, prefixed.err
    assert prefixed.out == bare.out


def test_toml_literal_backslash_x_key_imports_and_encrypts(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A TOML literal string keeps Campaign's ``\\x`` form as typed; it seals and works."""
    text = SAMPLE_TOML.replace(f'aes_key = "{KEY}"', f"aes_key = '\\x{KEY}'").replace(
        f'aes_iv = "{IV}"', f"aes_iv = '\\x{IV}'"
    )
    assert "\\x" in text
    import_toml(run_cli, tmp_path, text)
    result = run_cli("crypto", "encrypt", "--datasource", "Recipient - Email", "a@example.com")
    assert result.code == 0, result.err
    assert run_cli("crypto", "decrypt", result.out.strip()).out.strip() == "a@example.com"


# ----------------------------------------------------------------------- decrypt


@needs_openssl
def test_decrypt_gives_clear_values_and_outcomes(configured) -> None:  # type: ignore[no-untyped-def]
    good = openssl_hex("alice@example.com")
    result = configured("crypto", "decrypt", good, "00112233445566778899aabbccddeeff", "abcd")
    assert result.out.splitlines() == ["alice@example.com", "[bad_padding]", "[bad_encoding]"]
    assert result.code == 1
    ok = configured("crypto", "decrypt", good.upper())
    assert ok.code == 0 and ok.out.strip() == "alice@example.com"


def test_decrypt_non_hex_ciphertext_is_a_usage_error(configured, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = store_rows(db_path)
    result = configured("crypto", "decrypt", "00112233445566778899aabbccddeeff", "zz-not-hex")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert "VALUE 2" in result.err and "not hex" in result.err
    assert "Traceback" not in result.err
    assert store_rows(db_path) == before


def test_decrypt_of_a_hashed_source_is_refused(configured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import_toml(configured, tmp_path, ENV_TOML + HASHED_SOURCE)
    result = configured("crypto", "decrypt", "--datasource", "Recipient - SMS", "ab" * 20)
    assert result.code == 2
    assert "cannot be decrypted" in result.err


# -------------------------------------------------------------------------- hash


def test_hash_defaults_to_sha256_for_an_encrypting_source(configured) -> None:  # type: ignore[no-untyped-def]
    result = configured("crypto", "hash", " Alice@Example.com")
    assert result.code == 0
    assert result.out.strip() == hashlib.sha256(b"alice@example.com").hexdigest()
    md5 = configured("crypto", "hash", "--algorithm", "md5", "alice@example.com")
    assert md5.out.strip() == hashlib.md5(b"alice@example.com").hexdigest()


def test_hash_uses_the_sources_algorithm_and_channel(configured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import_toml(configured, tmp_path, ENV_TOML + HASHED_SOURCE)
    result = configured(
        "crypto", "hash", "--datasource", "Recipient - SMS", "+33 6 12 34 56 78", "call me"
    )
    assert result.out.splitlines() == [
        hashlib.sha1(b"+33612345678").hexdigest(),
        "[invalid_phone]",
    ]
    assert result.code == 1


# --------------------------------------------------------------------- diagnose


@needs_openssl
def test_diagnose_ok_json_and_stored(configured, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = openssl_hex("alice@example.com")
    result = configured(
        "crypto",
        "diagnose",
        "--clear",
        "alice@example.com",
        "--sample",
        sample,
        "--from-website",
        "--json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["match"] is True and data["diagnosis"] == "ok"
    assert set(data) == {"match", "diagnosis", "detail"}
    rows = (
        sqlite3.connect(db_path)
        .execute("SELECT datasource, sample, diagnosis FROM website_samples")
        .fetchall()
    )
    assert rows == [("Recipient - Email", sample, "ok")]


@needs_openssl
def test_diagnose_wrong_iv_exits_1(configured, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = openssl_hex("alice@example.com", OTHER_IV)
    result = configured(
        "crypto",
        "diagnose",
        "--datasource",
        "Recipient - Email",
        "--clear",
        "alice@example.com",
        "--sample",
        sample,
        "--from-website",
    )
    assert result.code == 1
    assert result.out.startswith("✗ wrong_iv:")
    no_secret_in(result.out, result.err)
    stored = sqlite3.connect(db_path).execute("SELECT diagnosis FROM website_samples").fetchall()
    assert stored == [("wrong_iv",)]


@needs_openssl
def test_diagnose_keeps_a_sample_only_from_the_website(configured, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19.13: a deliberately wrong test sample became the website sample and turned
    the checklist's "Website sample matches" into a fail."""
    wrong = openssl_hex("alice@example.com", OTHER_IV)
    result = configured("crypto", "diagnose", "--clear", "alice@example.com", "--sample", wrong)
    assert result.code == 1 and result.out.startswith("✗ wrong_iv:")
    assert sqlite3.connect(db_path).execute("SELECT * FROM website_samples").fetchall() == []
    doctor = configured("doctor", "--offline", "--json")
    checks = {c["id"]: c["status"] for c in json.loads(doctor.out)["checks"]}
    assert checks.get("datasource.website_sample") != "fail"


def test_diagnose_requires_clear_and_sample(configured) -> None:  # type: ignore[no-untyped-def]
    result = configured("crypto", "diagnose", "--clear", "a@example.com")
    assert result.code == 2
    assert "--sample" in result.err


# ------------------------------------------------------------- data source choice


def test_datasource_is_required_when_there_are_several(configured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import_toml(configured, tmp_path, ENV_TOML + HASHED_SOURCE)
    result = configured("crypto", "hash", "a@example.com")
    assert result.code == 2
    assert "--datasource" in result.err and "'Recipient - SMS'" in result.err
    unknown = configured("crypto", "encrypt", "--datasource", "Nope", "a@example.com")
    assert unknown.code == 2 and "no data source labelled 'Nope'" in unknown.err


# --------------------------------------------------------------- bad key and IV

BAD_SECRETS = [
    pytest.param(
        "AC_TEST_KEY", "00112233445566778899aabbccddee", ["aes_key", "15 bytes"], id="short-key"
    ),
    pytest.param("AC_TEST_KEY", "zz" * 32, ["aes_key", "not hexadecimal"], id="non-hex-key"),
    pytest.param(
        "AC_TEST_IV", "000102030405060708090a0b0c0d0e", ["aes_iv", "15 bytes", "16"], id="iv-15"
    ),
    pytest.param("AC_TEST_IV", None, ["aes_iv", "AC_TEST_IV", "not set"], id="missing-env"),
]

COMMANDS = [
    pytest.param(["crypto", "encrypt", "alice@example.com"], id="encrypt"),
    pytest.param(["crypto", "decrypt", "00112233445566778899aabbccddeeff"], id="decrypt"),
    pytest.param(
        ["crypto", "diagnose", "--clear", "alice@example.com", "--sample", "00" * 32], id="diagnose"
    ),
    pytest.param(
        ["crypto", "diagnose", "--clear", "a@example.com", "--sample", "00" * 32, "--json"],
        id="diagnose-json",
    ),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("variable", "value", "expected"), BAD_SECRETS)
def test_bad_key_or_iv_is_one_line_exit_2_nothing_stored(
    configured,  # type: ignore[no-untyped-def]
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    variable: str,
    value: str | None,
    expected: list[str],
) -> None:
    before = store_rows(db_path)
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    result = configured(*command)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audiencectl: error:")
    for word in expected:
        assert word in lines[0]
    assert "datasources.Recipient - Email" in lines[0]
    no_secret_in(result.out, result.err)
    if value is not None:
        assert value not in result.err
    assert store_rows(db_path) == before


def test_hash_needs_no_key(configured, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AC_TEST_KEY")
    result = configured("crypto", "hash", "alice@example.com")
    assert result.code == 0
