"""Import and export over a real OpenSSH server, and a changed host key refused by both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.model import Account, DataSource, Environment, Role
from core.secrets import Secret
from tests.sshd import HOST, SAMPLE_NAME, Sshd, SshdWorld
from usecases.services import Services

ECID = "59767559181262060060278870901087098252"  # the ID in the fixture's sample file


def _account(role: Role, server: Sshd, world: SshdWorld, folder: str) -> Account:
    return Account(
        role,
        host=HOST,
        port=server.port,
        user=world.password_user,
        password=Secret("literal", world.password),
        remote_dir=folder,
    )


def _outbox(folder: Path) -> str:
    """The export account's folder on the server, one per test."""
    return f"/out-{folder.name[-8:]}"


@pytest.fixture
def sftp_env(db_path: Path, tmp_path: Path, sshd_rekeyable: Sshd, sshd_world: SshdWorld) -> Path:
    """An environment whose two accounts are the real sshd, with profiles and a visitor map."""
    outbox = _outbox(tmp_path)
    sshd_world.give(sshd_world.make_dir(outbox.lstrip("/")), sshd_world.password_user)
    services = Services(db_path=db_path)
    try:
        services.repo.save(
            Environment(
                "sftp",
                import_account=_account(Role.IMPORT, sshd_rekeyable, sshd_world, "/inbox"),
                export_account=_account(Role.EXPORT, sshd_rekeyable, sshd_world, outbox),
                datasources=(
                    DataSource(
                        "Recipient - Visitor ID",
                        alias="Adobe Campaign",
                        dpid=14016,
                        destination_id=46390,
                        id_type="visitor",
                    ),
                ),
            )
        )
    finally:
        services.close()
    (tmp_path / "profiles.csv").write_text("id,email\nP1,a@example.com\nP2,b@example.com\n")
    (tmp_path / "visitors.csv").write_text(f"profile_id,visitor_id\nP1,{ECID}\n")
    (tmp_path / "members.csv").write_text("id\nP1\n")
    return tmp_path


@pytest.mark.sshd
def test_import_and_export_over_sftp_then_changed_key_refused(
    run_cli,
    sftp_env: Path,
    sshd_rekeyable: Sshd,
    sshd_world: SshdWorld,  # type: ignore[no-untyped-def]
) -> None:
    loaded = run_cli(
        "profiles",
        "load",
        str(sftp_env / "profiles.csv"),
        "--visitors",
        str(sftp_env / "visitors.csv"),
    )
    assert loaded.code == 0, loaded.err
    assert run_cli("probe", "all", "--trust-new-host-key").code == 0

    imported = run_cli("import", "run", "--once", "--json", "--quiet")
    assert imported.code == 0, imported.err
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["segments"]["24"]["members"] == 1  # the sample's segments, P1 reconciled
    assert status["processed_files"] >= 1

    exported = run_cli(
        "export",
        "--members",
        str(sftp_env / "members.csv"),
        "--segment-id",
        "201",
        "--upload",
        "--json",
    )
    assert exported.code == 0, exported.err
    uploaded = json.loads(exported.out)
    outbox = sshd_world.disk(_outbox(sftp_env))
    names = sorted(p.name for p in outbox.iterdir())
    assert names == [uploaded["file"]]
    assert (outbox / names[0]).read_text() == f"{ECID}\t201\n"

    old = sshd_rekeyable.host_key_fingerprint
    sshd_rekeyable.restart(new_host_key=True)
    new = sshd_rekeyable.host_key_fingerprint
    (sshd_world.disk("/inbox") / SAMPLE_NAME).touch()  # nothing new would be fetched anyway

    refused = run_cli("import", "run", "--once")
    assert refused.code == 3
    assert "HOST KEY CHANGED" in refused.err and old in refused.err and new in refused.err
    assert json.loads(run_cli("import", "status", "--json").out)["state"] == "failed"

    refused = run_cli(
        "export",
        "--members",
        str(sftp_env / "members.csv"),
        "--segment-id",
        "202",
        "--upload",
    )
    assert refused.code == 3
    assert "HOST KEY CHANGED" in refused.err and old in refused.err and new in refused.err
    assert sorted(p.name for p in outbox.iterdir()) == names  # nothing more was written
