"""`audiencectl probe` and `audiencectl hostkey` against a real OpenSSH server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from core.hostkeys import HostKey
from core.model import Account, AccountType, Environment, Role
from core.probe import EXPORT_STAGES, IMPORT_STAGES
from core.secrets import Secret
from storage import probes
from storage.db import Store
from storage.hostkeys import SqliteHostKeyStore
from tests.conftest import CliResult
from tests.sshd import HOST, SAMPLE_NAME, Sshd, SshdWorld, join_paramiko_threads
from tui.commands.probe import parse_host_port
from usecases.services import Services

sshd_test = pytest.mark.sshd
ENV = "probe-test"


def save_env(db_path: Path, imp: Account, exp: Account | None = None) -> None:
    services = Services(db_path=db_path)
    try:
        services.repo.save(
            Environment(ENV, import_account=imp, export_account=exp or Account(Role.EXPORT))
        )
    finally:
        services.close()


def sftp(
    role: Role, port: int, user: str, folder: str, *, password: str = "", key: Path | None = None
) -> Account:
    return Account(
        role,
        host=HOST,
        port=port,
        user=user,
        remote_dir=folder,
        password=Secret("literal", password) if password else None,
        private_key=Secret("file", str(key)) if key else None,
    )


def pins_of(db_path: Path) -> dict[tuple[str, int], HostKey]:
    with Store(db_path) as store:
        return {(p.host, p.port): p.key for p in SqliteHostKeyStore(store.conn).all()}


def reports(result: CliResult) -> list[dict[str, Any]]:
    data = json.loads(result.out)
    assert isinstance(data, list)
    return data


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in report["stages"]}


# ------------------------------------------------------------------------ success


@sshd_test
def test_password_and_key_probe_json_shape(
    run_cli,
    db_path: Path,
    sshd: Sshd,
    sshd_world: SshdWorld,
    chroot_dir,  # type: ignore[no-untyped-def]
) -> None:
    out_dir = chroot_dir(owner=sshd_world.key_user)
    save_env(
        db_path,
        sftp(
            Role.IMPORT, sshd.port, sshd_world.password_user, "/inbox", password=sshd_world.password
        ),
        sftp(
            Role.EXPORT,
            sshd.port,
            sshd_world.key_user,
            out_dir,
            key=sshd_world.keys["ed25519"].path,
        ),
    )
    result = run_cli("probe", "all", "--json", "--trust-new-host-key", "--timeout", "5")
    assert result.code == 0, (result.out, result.err)
    imp, exp = reports(result)
    assert imp["account"] == "import" and exp["account"] == "export"
    for report, names in ((imp, IMPORT_STAGES), (exp, EXPORT_STAGES)):
        assert report["ok"] is True
        assert report["host_key"] == {
            "type": "ssh-ed25519",
            "fingerprint": sshd.host_key_fingerprint,
        }
        assert [s["name"] for s in report["stages"]] == list(names)
        for stage in report["stages"]:
            assert set(stage) >= {"name", "status", "ms", "detail", "hint"}
            assert stage["status"] == "pass"
            assert isinstance(stage["ms"], int)
    assert "password accepted" in imp["stages"][4]["detail"]
    assert "public key accepted" in exp["stages"][4]["detail"]
    assert SAMPLE_NAME in imp["stages"][7]["detail"]
    assert list(sshd_world.disk(out_dir).iterdir()) == []  # the write probe left nothing
    # Both reports are in the store; the key is pinned.
    with Store(db_path) as store:
        assert probes.last(store.conn, ENV, Role.IMPORT).ok  # type: ignore[union-attr]
        assert probes.last(store.conn, ENV, Role.EXPORT).ok  # type: ignore[union-attr]
    assert pins_of(db_path)[(HOST, sshd.port)].fingerprint == sshd.host_key_fingerprint


@sshd_test
def test_human_output_one_line_per_stage(
    run_cli,
    db_path: Path,
    sshd: Sshd,
    sshd_world: SshdWorld,  # type: ignore[no-untyped-def]
) -> None:
    save_env(
        db_path,
        sftp(
            Role.IMPORT, sshd.port, sshd_world.password_user, "/inbox", password=sshd_world.password
        ),
    )
    result = run_cli("probe", "import", "--trust-new-host-key")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    stage_lines = [line for line in lines if line.startswith("  ✓ ")]
    assert [line.split()[1] for line in stage_lines] == list(IMPORT_STAGES)
    assert all(" ms " in line for line in stage_lines)
    assert lines[-1] == "import: ok"
    assert "importSharedAudience (AAM → Campaign)" in lines[0]


# ----------------------------------------------------------------------- failures


@sshd_test
def test_wrong_password_fails_at_auth(
    run_cli,
    db_path: Path,
    sshd: Sshd,
    sshd_world: SshdWorld,  # type: ignore[no-untyped-def]
) -> None:
    save_env(
        db_path,
        sftp(
            Role.IMPORT, sshd.port, sshd_world.password_user, "/inbox", password="not-the-password"
        ),
    )
    result = run_cli("probe", "import", "--json", "--trust-new-host-key")
    assert result.code == 1, result.err
    (report,) = reports(result)
    assert report["ok"] is False
    seen = statuses(report)
    assert seen["auth"] == "fail"
    assert [seen[n] for n in ("dns", "tcp", "banner", "hostkey")] == ["pass"] * 4
    assert [seen[n] for n in ("sftp", "list", "read")] == ["skip"] * 3
    auth = report["stages"][4]
    assert "wrong user name or password" in auth["hint"]

    human = run_cli("probe", "import")
    assert human.code == 1
    assert "  ✗ auth" in human.out
    assert "→ wrong user name or password" in human.out
    assert human.out.splitlines()[-1] == "import: FAILED at auth"


@sshd_test
def test_unknown_host_key_needs_the_flag(
    run_cli,
    db_path: Path,
    sshd_rekeyable: Sshd,
    sshd_world: SshdWorld,  # type: ignore[no-untyped-def]
) -> None:
    server = sshd_rekeyable
    save_env(
        db_path,
        sftp(
            Role.IMPORT,
            server.port,
            sshd_world.password_user,
            "/inbox",
            password=sshd_world.password,
        ),
    )
    refused = run_cli("probe", "import", "--json")
    assert refused.code == 3
    assert server.host_key_fingerprint in refused.err
    assert "audiencectl probe import --trust-new-host-key" in refused.err
    (report,) = reports(refused)
    assert statuses(report)["hostkey"] == "fail"
    assert statuses(report)["auth"] == "skip"
    assert pins_of(db_path) == {}

    trusted = run_cli("probe", "import", "--trust-new-host-key")
    assert trusted.code == 0, trusted.err
    assert pins_of(db_path)[(HOST, server.port)].fingerprint == server.host_key_fingerprint
    again = run_cli("probe", "import")  # pinned now: no flag needed
    assert again.code == 0, again.err
    assert "matches the pinned key" in again.out


@sshd_test
def test_changed_host_key_is_refused_and_the_pin_kept(
    run_cli,
    db_path: Path,
    sshd_rekeyable: Sshd,
    sshd_world: SshdWorld,  # type: ignore[no-untyped-def]
) -> None:
    server = sshd_rekeyable
    save_env(
        db_path,
        sftp(
            Role.IMPORT,
            server.port,
            sshd_world.password_user,
            "/inbox",
            password=sshd_world.password,
        ),
    )
    assert run_cli("probe", "import", "--trust-new-host-key").code == 0
    old = server.host_key_fingerprint
    server.restart(new_host_key=True)
    new = server.host_key_fingerprint
    assert new != old
    result = run_cli("probe", "import", "--trust-new-host-key")  # the flag never accepts a change
    assert result.code == 3
    assert old in result.err and new in result.err
    assert f"audiencectl hostkey forget {HOST}:{server.port}" in result.err
    assert "HOST KEY CHANGED" in result.err
    assert pins_of(db_path)[(HOST, server.port)].fingerprint == old

    # The documented way out: forget, then trust the new key.
    forgot = run_cli("hostkey", "forget", f"{HOST}:{server.port}")
    assert forgot.code == 0, forgot.err
    assert run_cli("probe", "import", "--trust-new-host-key").code == 0
    assert pins_of(db_path)[(HOST, server.port)].fingerprint == new


def test_silent_port_ends_within_the_timeout(run_cli, db_path: Path, silent_port: int) -> None:  # type: ignore[no-untyped-def]
    save_env(db_path, sftp(Role.IMPORT, silent_port, "u", "/inbox", password="x"))
    started = time.monotonic()
    result = run_cli("probe", "import", "--timeout", "1.5", "--json")
    elapsed = time.monotonic() - started
    # time is the behaviour: the --timeout given ends it, well before the default 10 s
    # (the margin holds on a loaded machine)
    assert elapsed < 1.5 + 6, elapsed
    assert result.code == 1
    assert statuses(reports(result)[0])["banner"] == "fail"


def test_paramiko_never_writes_to_stderr(
    capfd: pytest.CaptureFixture[str], db_path: Path, http_port: int
) -> None:
    from tui.cli import main

    save_env(db_path, sftp(Role.IMPORT, http_port, "u", "/inbox", password="x"))
    capfd.readouterr()
    code = main(["probe", "import"])
    join_paramiko_threads()  # they would have logged by the time they end
    out, err = capfd.readouterr()
    assert code == 1
    assert "✗ banner" in out
    assert err == ""


def test_local_accounts_list_read_and_write(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inbound, outbound = tmp_path / "from-aam", tmp_path / "to-aam"
    inbound.mkdir()
    outbound.mkdir()
    (inbound / SAMPLE_NAME).write_text("1 2\n")
    save_env(
        db_path,
        Account(Role.IMPORT, type=AccountType.LOCAL, path=str(inbound)),
        Account(Role.EXPORT, type=AccountType.LOCAL, path=str(outbound)),
    )
    result = run_cli("probe", "--json")
    assert result.code == 0, result.err
    imp, exp = reports(result)
    assert statuses(imp)["list"] == statuses(imp)["read"] == "pass"
    assert statuses(exp)["list"] == statuses(exp)["write"] == "pass"
    assert statuses(imp)["dns"] == "skip"
    assert imp["host_key"] is None
    assert SAMPLE_NAME in imp["stages"][-1]["detail"]
    assert list(outbound.iterdir()) == []


def test_missing_account_fields_are_named(run_cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_env(db_path, Account(Role.IMPORT, host="sftp.example.net"))
    result = run_cli("probe", "all")
    assert result.code == 2
    assert "import account (importSharedAudience) misses user, password or private_key" in (
        result.err
    )
    assert "export account (exportSharedAudience) misses host, user" in result.err
    assert result.err.count("\n") == 1  # one line
    with Store(db_path) as store:
        assert probes.last(store.conn, ENV, Role.IMPORT) is None


# ------------------------------------------------------------------------ hostkey


def test_hostkey_list_and_forget(run_cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_env(db_path, Account(Role.IMPORT))
    empty = run_cli("hostkey", "list", "--json")
    assert empty.code == 0 and json.loads(empty.out) == []
    key = HostKey("ssh-ed25519", "SHA256:" + "A" * 43)
    with Store(db_path) as store:
        SqliteHostKeyStore(store.conn).pin("sftp.example.net", 2222, key)
        SqliteHostKeyStore(store.conn).pin("other.example.net", 22, key)
    listed = run_cli("hostkey", "list", "--json")
    rows = json.loads(listed.out)
    assert [(r["host"], r["port"]) for r in rows] == [
        ("other.example.net", 22),
        ("sftp.example.net", 2222),
    ]
    assert rows[0]["type"] == "ssh-ed25519" and rows[0]["fingerprint"] == key.fingerprint
    human = run_cli("hostkey", "list")
    assert "sftp.example.net:2222" in human.out and key.fingerprint in human.out

    assert run_cli("hostkey", "forget", "[sftp.example.net]:2222").code == 0
    again = run_cli("hostkey", "forget", "sftp.example.net:2222")
    assert again.code == 2
    assert "no host key is pinned for sftp.example.net:2222" in again.err
    assert run_cli("hostkey", "forget", "other.example.net").code == 0
    assert pins_of(db_path) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h.example", ("h.example", 22)),
        ("h.example:2222", ("h.example", 2222)),
        ("[h.example]:2222", ("h.example", 2222)),
        ("[h.example]", ("h.example", 22)),
    ],
)
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["", ":22", "h:0", "h:port", "[h", "[h]x"])
def test_parse_host_port_rejects(text: str) -> None:
    from core.errors import InputError

    with pytest.raises(InputError):
        parse_host_port(text)
