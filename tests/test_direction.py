"""Direction findings: identical, swapped and deprecated accounts; file names as evidence."""

from __future__ import annotations

import pytest

from core.direction import Finding, direction_findings
from core.model import Account, AccountType, Environment, Role


def sftp(role: Role, host: str = "sftp.example.net", folder: str = "", **kw: object) -> Account:
    return Account(role, host=host, user=kw.pop("user", "campaign"), remote_dir=folder, **kw)  # type: ignore[arg-type]


def env(imp: Account, exp: Account) -> Environment:
    return Environment("prod", import_account=imp, export_account=exp)


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.level) for f in findings]


def test_a_correct_setup_has_no_finding() -> None:
    e = env(sftp(Role.IMPORT, folder="/outbound"), sftp(Role.EXPORT, folder="/inbound"))
    assert direction_findings(e) == []


def test_unconfigured_accounts_have_no_finding() -> None:
    assert direction_findings(Environment("prod")) == []


def test_identical_accounts_fail() -> None:
    e = env(
        sftp(Role.IMPORT, folder="/data/"),
        sftp(Role.EXPORT, host="SFTP.example.net.", folder="/data"),
    )
    findings = direction_findings(e)
    assert codes(findings) == [("identical", "fail")]
    assert "same place" in findings[0].message
    assert "outbound" in findings[0].fix


@pytest.mark.parametrize(
    "change",
    [{"port": 2222}, {"user": "other"}, {"folder": "/elsewhere"}, {"host": "b.example.net"}],
)
def test_accounts_differing_in_one_part_are_not_identical(change: dict[str, object]) -> None:
    folder = str(change.pop("folder", "/data"))
    e = env(sftp(Role.IMPORT, folder="/data"), sftp(Role.EXPORT, folder=folder, **change))  # type: ignore[arg-type]
    assert "identical" not in [f.code for f in direction_findings(e)]


def test_identical_local_folders_fail() -> None:
    e = env(
        Account(Role.IMPORT, type=AccountType.LOCAL, path="/srv/aam"),
        Account(Role.EXPORT, type=AccountType.LOCAL, path="/srv/aam/"),
    )
    assert codes(direction_findings(e)) == [("identical", "fail")]


@pytest.mark.parametrize(
    ("imp", "exp"),
    [
        (sftp(Role.IMPORT, folder="/inbound"), sftp(Role.EXPORT, folder="/outbound")),
        (
            sftp(Role.IMPORT, host="sftp-in.example.net"),
            sftp(Role.EXPORT, host="sftp-out.example.net"),
        ),
        (sftp(Role.IMPORT, folder="/upload"), sftp(Role.EXPORT, folder="/download")),
        (
            Account(Role.IMPORT, type=AccountType.LOCAL, path="/srv/aam/in"),
            Account(Role.EXPORT, type=AccountType.LOCAL, path="/srv/aam/out"),
        ),
    ],
)
def test_folder_words_alone_are_only_notes(imp: Account, exp: Account) -> None:
    """From Campaign's side, imports come *in*: a folder's name is no evidence."""
    findings = direction_findings(env(imp, exp))
    assert codes(findings) == [("folder_words", "note"), ("folder_words", "note")]
    assert "only the files" in findings[0].message


def test_a_word_on_one_side_is_a_note_for_that_side() -> None:
    only_import = direction_findings(
        env(sftp(Role.IMPORT, folder="/inbound"), sftp(Role.EXPORT, folder="/campaign"))
    )
    assert codes(only_import) == [("folder_words", "note")]
    assert "import account" in only_import[0].message
    only_export = direction_findings(
        env(sftp(Role.IMPORT, folder="/campaign"), sftp(Role.EXPORT, folder="/outbound"))
    )
    assert codes(only_export) == [("folder_words", "note")]
    assert "export account" in only_export[0].message


def test_a_country_domain_is_not_a_hint() -> None:
    e = env(
        sftp(Role.IMPORT, host="sftp.acme.co.in", folder="/aam"),
        sftp(Role.EXPORT, host="files.acme.co.in", folder="/campaign"),
    )
    assert direction_findings(e) == []


OUTBOUND = [
    "ftp_12345_67890_full_1500727351632-1.sync.gz",
    "ftp_215_888_iter_1449756724.sync",
    "S3_1234_5678_full_1449756724001.sync",
    "ftp_12345_67890_full_1500727351632.info",
]
INBOUND = ["ftp_dpm_14016_1700000000.sync", "date=2026-11-02/"]


def test_aam_outbound_files_in_the_import_folder_confirm_even_on_in() -> None:
    """import → /in with AAM's files in it: the natural Campaign setup, a pass."""
    e = env(sftp(Role.IMPORT, folder="/in"), sftp(Role.EXPORT, folder="/out"))
    findings = direction_findings(e, {Role.IMPORT: OUTBOUND, Role.EXPORT: INBOUND})
    assert codes(findings) == [("confirmed", "note"), ("confirmed", "note")]
    assert "ftp_12345_67890_full_1500727351632-1.sync.gz" in findings[0].message
    assert all(f.level != "fail" for f in findings)


def test_campaign_exports_in_the_import_folder_fail_and_name_them() -> None:
    e = env(sftp(Role.IMPORT, folder="/aam"), sftp(Role.EXPORT, folder="/campaign"))
    findings = direction_findings(e, {Role.IMPORT: ["readme.txt", *INBOUND]})
    assert codes(findings) == [("wrong_files", "fail")]
    assert "ftp_dpm_14016_1700000000.sync" in findings[0].message
    assert "date=2026-11-02/" in findings[0].message
    assert "readme.txt" not in findings[0].message


def test_aam_outbound_files_in_the_export_folder_fail_and_name_them() -> None:
    e = env(sftp(Role.IMPORT, folder="/aam"), sftp(Role.EXPORT, folder="/campaign"))
    findings = direction_findings(e, {Role.EXPORT: OUTBOUND})
    assert codes(findings) == [("wrong_files", "fail")]
    assert "export folder" in findings[0].message
    assert "ftp_215_888_iter_1449756724.sync" in findings[0].message
    assert "and 1 more" in findings[0].message


def test_files_outrank_folder_words() -> None:
    e = env(sftp(Role.IMPORT, folder="/outbound"), sftp(Role.EXPORT, folder="/inbound"))
    findings = direction_findings(e, {Role.IMPORT: INBOUND})
    assert codes(findings) == [("wrong_files", "fail")]


def test_identical_endpoints_fail_whatever_the_files() -> None:
    e = env(sftp(Role.IMPORT, folder="/data"), sftp(Role.EXPORT, folder="/data"))
    findings = direction_findings(e, {Role.IMPORT: OUTBOUND, Role.EXPORT: OUTBOUND})
    assert codes(findings) == [("identical", "fail")]


def test_words_inside_other_words_do_not_count() -> None:
    e = env(sftp(Role.IMPORT, folder="/inbox"), sftp(Role.EXPORT, folder="/outbox"))
    assert direction_findings(e) == []


def test_demdex_hosts_the_right_way_round_fail_as_gone() -> None:
    e = env(
        sftp(Role.IMPORT, host="ftp-out.demdex.com"), sftp(Role.EXPORT, host="ftp-in.demdex.com")
    )
    findings = direction_findings(e)
    assert codes(findings) == [("deprecated_host", "fail"), ("deprecated_host", "fail")]
    assert "21.1.3" in findings[0].message
    fix = findings[0].fix
    assert "move importSharedAudience to an Amazon S3 account" in fix
    for field in (
        "<bucket>.s3.amazonaws.com/<path>",
        "access key ID",
        "secret access key",
        "AWS region",
        "server-side encryption",
    ):
        assert field in fix
    assert "importSharedAudience" in findings[0].message
    assert "exportSharedAudience" in findings[1].message


def test_demdex_hosts_swapped_fail_first() -> None:
    e = env(
        sftp(Role.IMPORT, host="ftp-in.demdex.com"), sftp(Role.EXPORT, host="ftp-out.demdex.com")
    )
    findings = direction_findings(e)
    assert codes(findings)[0] == ("swapped", "fail")
    assert "ftp-out.demdex.com" in findings[0].message
    assert [c for c, _ in codes(findings)].count("deprecated_host") == 2


def test_one_demdex_host_on_the_wrong_side_is_swapped() -> None:
    e = env(sftp(Role.IMPORT, host="ftp-in.demdex.com"), Account(Role.EXPORT))
    assert codes(direction_findings(e)) == [("swapped", "fail"), ("deprecated_host", "fail")]


def test_finding_is_frozen_and_positional() -> None:
    finding = Finding("warn", "message", "fix")
    assert (finding.level, finding.message, finding.fix, finding.code) == (
        "warn",
        "message",
        "fix",
        "",
    )
    with pytest.raises(AttributeError):
        finding.level = "fail"  # type: ignore[misc]


def s3(role: Role, server: str) -> Account:
    return Account(
        role,
        AccountType.S3,
        server=server,
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        region="eu-west-1",
    )


def test_s3_accounts_in_the_same_bucket_and_prefix_are_identical() -> None:
    e = env(s3(Role.IMPORT, "aam.s3.amazonaws.com/x/"), s3(Role.EXPORT, "aam.s3.amazonaws.com/x"))
    findings = direction_findings(e)
    assert codes(findings) == [("identical", "fail")]
    assert "s3://aam/x/" in findings[0].message


def test_s3_prefix_words_are_notes_and_s3_files_are_evidence() -> None:
    e = env(
        s3(Role.IMPORT, "aam.s3.amazonaws.com/inbound"),
        s3(Role.EXPORT, "aam.s3.amazonaws.com/outbound"),
    )
    assert codes(direction_findings(e)) == [("folder_words", "note"), ("folder_words", "note")]
    wrong = direction_findings(e, {Role.IMPORT: INBOUND})
    assert codes(wrong)[0] == ("wrong_files", "fail")
    assert "s3://aam/inbound/" in wrong[0].message
    right = direction_findings(e, {Role.IMPORT: OUTBOUND, Role.EXPORT: INBOUND})
    assert codes(right) == [("confirmed", "note"), ("confirmed", "note")]
    right = env(
        s3(Role.IMPORT, "aam.s3.amazonaws.com/outbound"),
        s3(Role.EXPORT, "aam.s3.amazonaws.com/inbound"),
    )
    assert direction_findings(right) == []
