from __future__ import annotations

from pathlib import Path

import pytest

from core.config import diff, dump_environment, parse_environment
from core.errors import ConfigError
from storage.db import Store
from storage.repo import EnvironmentRepo
from tests.conftest import SAMPLE_TOML, snapshot_of_files


def test_sample_parses() -> None:
    env = parse_environment(SAMPLE_TOML)
    assert env.name == "production"
    assert env.export_account.port == 2222
    assert env.datasources[0].dpid == 14016
    assert env.import_account.password is not None
    assert env.import_account.password.kind == "literal"
    assert env.export_account.password is not None
    assert env.export_account.password.display() == "env:AUDIENCECTL_TEST_EXPORT_PW"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("port = 22", "prot = 22"), r"<config>:14: accounts.import.prot: unknown key"),
        (("port = 22", 'port = "22"'), r":14: accounts.import.port: must be a whole number"),
        (("priority = 10", "priority = 1.5"), r"datasources\[0\].priority: must be"),
        (("dpid = 14016", "dpid = true"), r"datasources\[0\].dpid: must be"),
        (("[tracking]", "[trackin]"), r"trackin: unknown key"),
        (('environment = "Production"', 'environment = "Prod"'), r"request.environment"),
        (('ims_org_id = "5DC5', 'ims_org_id = "XDC5'), None),
        (("@AdobeOrg", "@Adobe"), r":6: request.ims_org_id: .* is not an IMS Org ID"),
        (('transform = "aes"', 'transform = "rot13"'), r"datasources\[0\].transform"),
        (('channel = "email"', 'channel = "fax"'), r"datasources\[0\].channel"),
        (('name = "production"', 'name = ""'), r"name: is required"),
        (('type = "sftp"', 'type = "ftp"'), r"accounts.import.type"),
        (('reconciliation_key = "email"', ""), r"datasources\[0\].reconciliation_key"),
        (("port = 22\n", "port = 22\nport = 23\n"), r"not valid TOML"),
        (('label = "Recipient - Email"', ""), r"label is required"),
    ],
)
def test_bad_config_names_key_and_line(edit: tuple[str, str], expected: str | None) -> None:
    text = SAMPLE_TOML.replace(edit[0], edit[1], 1)
    if expected is None:
        parse_environment(text)  # still valid: only a character changed inside the hex
        return
    with pytest.raises(ConfigError, match=expected):
        parse_environment(text)


def test_broken_toml_is_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_environment('name = "x\n[request\n')
    assert "\n" not in str(info.value)
    assert "line" in str(info.value)


def test_export_writes_no_secret_and_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    repo = EnvironmentRepo(store)
    saved = repo.save(parse_environment(SAMPLE_TOML))
    text = dump_environment(saved)
    assert "hunter2-import-secret" not in text
    assert "603deb1015" not in text
    assert 'password = "<stored>"' in text
    assert 'password = "env:AUDIENCECTL_TEST_EXPORT_PW"' in text
    again = parse_environment(text, existing=saved)
    assert again == saved  # <stored> resolves to what the store holds


def test_export_onto_existing_file_keeps_comments(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    repo = EnvironmentRepo(store)
    saved = repo.save(parse_environment(SAMPLE_TOML.replace("port = 2222", "port = 2200")))
    text = dump_environment(saved, SAMPLE_TOML)
    assert "# Production integration (comments must survive an export)" in text
    assert "# legal name" in text
    assert "port = 2200" in text
    assert "hunter2" not in text


def test_stored_marker_without_stored_value_is_an_error() -> None:
    text = SAMPLE_TOML.replace('"hunter2-import-secret"', '"<stored>"')
    with pytest.raises(ConfigError, match=r"accounts\.import\.password"):
        parse_environment(text)


def test_diff_masks_secrets() -> None:
    old = parse_environment(SAMPLE_TOML)
    new = parse_environment(SAMPLE_TOML.replace("hunter2-import-secret", "another-secret"))
    rendered = "\n".join(c.render() for c in diff(old, new))
    assert "another-secret" not in rendered and "hunter2" not in rendered


def test_rejected_import_changes_nothing(run_cli, db_path: Path, sample_toml: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("config", "import", str(sample_toml)).code == 0
    before = snapshot_of_files(db_path.parent)
    bad = sample_toml.with_name("bad.toml")
    bad.write_text(SAMPLE_TOML.replace("port = 2222", 'port = "x"'), encoding="utf-8")
    result = run_cli("config", "import", str(bad))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "accounts.export.port" in result.err
    assert "Traceback" not in result.err
    assert snapshot_of_files(db_path.parent) == before


def test_dry_run_changes_nothing(run_cli, db_path: Path, sample_toml: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("config", "import", "--dry-run", str(sample_toml))
    assert result.code == 0
    assert "would create" in result.out
    assert "hunter2" not in result.out
    assert run_cli("request", "status").code == 2  # no environment was created


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("aes_key", "603deb1015ca71be2b73aef0857d7781", None),  # 16 bytes: AES-128 is fine
        ("aes_key", "603deb1015ca71be", r"datasources\[0\]\.aes_key"),  # 8 bytes
        ("aes_key", "zz3deb1015ca71be2b73aef0857d7781", r"datasources\[0\]\.aes_key"),
        ("aes_iv", "000102030405060708090a0b0c0d0e", r"datasources\[0\]\.aes_iv"),  # 15 bytes
    ],
)
def test_literal_aes_sizes_are_checked(field: str, value: str, expected: str | None) -> None:
    original = {
        "aes_key": "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "aes_iv": "000102030405060708090a0b0c0d0e0f",
    }[field]
    text = SAMPLE_TOML.replace(original, value)
    if expected is None:
        parse_environment(text)
        return
    with pytest.raises(ConfigError, match=expected) as info:
        parse_environment(text)
    assert value not in str(info.value)  # never echo key material


def test_the_readme_example_is_a_valid_environment_with_every_key() -> None:
    """The README's TOML example must stay importable and show every key."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S)
    assert block is not None
    env = parse_environment(block.group(1), "README.md")
    assert env.name == "production" and env.datasources
    exported = dump_environment(env)
    keys = set(re.findall(r"^(\w+) =", exported, re.M))
    shown = set(re.findall(r"^(\w+) =", block.group(1), re.M))
    assert keys - shown == set(), f"keys missing from the README example: {keys - shown}"


def test_the_readme_s3_example_is_valid_and_shows_every_s3_key() -> None:
    import re

    from core.model import S3_FIELDS as S3_KEYS
    from core.model import AccountType

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Amazon S3 accounts", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    env = parse_environment('name = "s3"\n' + block.group(1), "README.md")
    assert env.import_account.type is AccountType.S3 and env.export_account.type is AccountType.S3
    assert env.import_account.s3_location.prefix == "aam/outbound/"
    shown = set(re.findall(r"^(\w+) =", block.group(1), re.M))
    assert set(S3_KEYS) <= shown
