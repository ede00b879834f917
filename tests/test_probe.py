"""The stage-by-stage probe against a real OpenSSH server and misbehaving ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from core.errors import InputError
from core.hostkeys import HostKeyChanged, HostKeyCheck, HostKeyUnknown
from core.model import Account, AccountType, Role
from core.probe import EXPORT_STAGES, IMPORT_STAGES, Credentials, ProbeReport, StageResult, probe
from storage import probes
from storage.db import Store
from storage.hostkeys import SqliteHostKeyStore
from tests.sshd import HOST, SAMPLE_NAME, Sshd, SshdWorld, join_paramiko_threads

sshd_test = pytest.mark.sshd


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "probe.db") as opened:
        yield opened


@pytest.fixture
def pins(store: Store) -> SqliteHostKeyStore:
    return SqliteHostKeyStore(store.conn)


def sftp_account(port: int, user: str, remote_dir: str = "", role: Role = Role.IMPORT) -> Account:
    return Account(role=role, host=HOST, port=port, user=user, remote_dir=remote_dir)


def run(
    account: Account,
    creds: Credentials,
    pins: SqliteHostKeyStore,
    *,
    trust: bool = True,
    timeout: float = 5.0,
    pinned: str = "",
) -> ProbeReport:
    return probe(account, creds, HostKeyCheck(pins, trust, pinned), timeout=timeout)


def statuses(report: ProbeReport) -> dict[str, str]:
    return {stage.name: stage.status for stage in report.stages}


def assert_fails_at(report: ProbeReport, name: str, hint: str) -> StageResult:
    """The named stage failed with ``hint`` in its hint; earlier passed, later skipped."""
    names = [s.name for s in report.stages]
    index = names.index(name)
    assert not report.ok
    earlier = report.stages[:index]
    assert all(s.status in ("pass", "warn") or s.detail == "local folder" for s in earlier)
    failed = report.stages[index]
    assert failed.status == "fail", failed
    assert hint in failed.hint, failed
    assert all(s.status == "skip" for s in report.stages[index + 1 :]), report.stages
    return failed


def pw(world: SshdWorld) -> Credentials:
    return Credentials(password=world.password)


# ------------------------------------------------------------------------ success


@sshd_test
def test_password_probe_of_import_account_passes(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd.port, sshd_world.password_user, "/inbox")
    report = run(account, pw(sshd_world), pins)
    assert report.ok, report.stages
    assert [s.name for s in report.stages] == list(IMPORT_STAGES)
    assert set(statuses(report).values()) == {"pass"}
    assert report.host_key is not None
    assert report.host_key.fingerprint == sshd.host_key_fingerprint
    assert report.host_key.key_type == "ssh-ed25519"
    assert "pinned on first use" in report.stage("hostkey").detail  # type: ignore[union-attr]
    assert SAMPLE_NAME in report.stage("read").detail  # type: ignore[union-attr]
    assert report.stage("banner").detail.startswith("SSH-2.0-OpenSSH")  # type: ignore[union-attr]
    assert pins.get(HOST, sshd.port) == report.host_key

    again = run(account, pw(sshd_world), pins, trust=False)
    assert again.ok
    assert "matches the pinned key" in again.stage("hostkey").detail  # type: ignore[union-attr]


@sshd_test
@pytest.mark.parametrize("key_name", ["ed25519", "rsa", "rsa_pem"])
def test_key_probe_of_export_account_passes_and_leaves_nothing(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore, key_name: str
) -> None:
    account = sftp_account(sshd.port, sshd_world.key_user, "/keyhome", Role.EXPORT)
    creds = Credentials(private_key=sshd_world.keys[key_name].text)
    report = run(account, creds, pins)
    assert report.ok, report.stages
    assert [s.name for s in report.stages] == list(EXPORT_STAGES)
    assert "public key accepted" in report.stage("auth").detail  # type: ignore[union-attr]
    assert "renamed and deleted" in report.stage("write").detail  # type: ignore[union-attr]
    assert os.listdir(sshd_world.disk("/keyhome")) == []


@sshd_test
def test_empty_folder_is_readable(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    report = run(sftp_account(sshd.port, sshd_world.password_user, "/empty"), pw(sshd_world), pins)
    assert report.ok
    assert "empty" in report.stage("read").detail  # type: ignore[union-attr]


# ------------------------------------------------------------------ authentication


@sshd_test
def test_wrong_password(sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore) -> None:
    account = sftp_account(sshd.port, sshd_world.password_user, "/inbox")
    report = run(account, Credentials(password="not-the-password"), pins)
    assert_fails_at(report, "auth", "wrong user name or password")


@sshd_test
def test_unknown_user_looks_like_a_wrong_password(sshd: Sshd, pins: SqliteHostKeyStore) -> None:
    report = run(sftp_account(sshd.port, "nosuchuser"), Credentials(password="x"), pins)
    assert_fails_at(report, "auth", "wrong user name or password (the server does not say which)")


@sshd_test
def test_key_only_user_offered_a_password(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd.port, sshd_world.key_user, "/keyhome")
    report = run(account, Credentials(password="whatever"), pins)
    failed = assert_fails_at(
        report, "auth", "this account accepts only keys: configure a private key"
    )
    assert "publickey" in failed.detail


@sshd_test
def test_key_the_server_does_not_know(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    stranger = sshd_world.keys["stranger"]
    account = sftp_account(sshd.port, sshd_world.key_user, "/keyhome")
    report = run(account, Credentials(private_key=stranger.text), pins)
    failed = assert_fails_at(report, "auth", "send Adobe the public key")
    assert stranger.fingerprint in failed.detail


@sshd_test
def test_unreadable_private_key(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd.port, sshd_world.key_user, "/keyhome")
    report = run(account, Credentials(private_key="-----BEGIN NONSENSE-----\nxx\n"), pins)
    assert_fails_at(report, "auth", "private key")


# ------------------------------------------------------------------- the network


def test_closed_port(closed_port: int, pins: SqliteHostKeyStore) -> None:
    report = run(sftp_account(closed_port, "u"), Credentials(password="x"), pins)
    failed = assert_fails_at(report, "tcp", "closed port")
    assert "refused" in failed.detail


def test_port_that_never_speaks_ends_within_the_timeout(
    silent_port: int, pins: SqliteHostKeyStore
) -> None:
    started = time.monotonic()
    report = run(sftp_account(silent_port, "u"), Credentials(password="x"), pins, timeout=1.5)
    elapsed = time.monotonic() - started
    # time is the behaviour: the timeout given ends it, well before the default 10 s
    # (the margin holds on a loaded machine)
    assert elapsed < 1.5 + 6, elapsed
    assert_fails_at(report, "banner", "never speaks SSH")


def test_port_that_speaks_http(http_port: int, pins: SqliteHostKeyStore) -> None:
    report = run(sftp_account(http_port, "u"), Credentials(password="x"), pins)
    failed = assert_fails_at(report, "banner", "wrong port, that is an HTTP/other service")
    assert "HTTP/1.1 400" in failed.detail


def test_port_that_closes_at_once(eof_port: int, pins: SqliteHostKeyStore) -> None:
    report = run(sftp_account(eof_port, "u"), Credentials(password="x"), pins)
    assert_fails_at(report, "banner", "banned (fail2ban/MaxStartups)")


def test_server_stuck_after_its_banner(banner_only_port: int, pins: SqliteHostKeyStore) -> None:
    started = time.monotonic()
    report = run(sftp_account(banner_only_port, "u"), Credentials(password="x"), pins, timeout=1)
    assert time.monotonic() - started < 1 + 6  # the timeout given, not the default 10 s
    failed = assert_fails_at(report, "hostkey", "stopped answering after its banner")
    assert "did not finish within 1 s" in failed.detail


def test_name_that_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch, pins: SqliteHostKeyStore
) -> None:
    def no_such_name(*_args: object, **_kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    account = Account(role=Role.IMPORT, host="sftp.example.invalid", user="u")
    report = run(account, Credentials(password="x"), pins)
    failed = assert_fails_at(report, "dns", "check the host name")
    assert "does not resolve" in failed.detail


# --------------------------------------------------------------------- host keys


@sshd_test
def test_changed_host_key_is_refused_loudly(
    sshd_rekeyable: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd_rekeyable.port, sshd_world.password_user, "/inbox")
    first = run(account, pw(sshd_world), pins)
    assert first.ok
    old = sshd_rekeyable.host_key_fingerprint
    pinned = pins.get(HOST, sshd_rekeyable.port)

    sshd_rekeyable.restart(new_host_key=True)
    new = sshd_rekeyable.host_key_fingerprint
    assert new != old
    report = run(account, pw(sshd_world), pins, trust=True)
    failed = assert_fails_at(report, "hostkey", "hostkey forget")
    assert "CHANGED" in failed.detail
    assert old in failed.detail and new in failed.detail
    assert isinstance(report.host_key_error, HostKeyChanged)
    assert report.host_key_error.exit_code == 3
    assert report.host_key is not None and report.host_key.fingerprint == new
    assert pins.get(HOST, sshd_rekeyable.port) == pinned  # the pin did not move


@sshd_test
def test_unknown_host_key_without_trust(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd.port, sshd_world.password_user, "/inbox")
    report = run(account, pw(sshd_world), pins, trust=False)
    assert_fails_at(report, "hostkey", "confirm this fingerprint")
    assert isinstance(report.host_key_error, HostKeyUnknown)
    assert report.host_key_error.key.fingerprint == sshd.host_key_fingerprint
    assert pins.get(HOST, sshd.port) is None
    # the front end shows the fingerprint, the admin confirms, it retries trusting it
    assert run(account, pw(sshd_world), pins, trust=True).ok


@sshd_test
def test_fingerprint_from_configuration(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd.port, sshd_world.password_user, "/inbox")
    good = run(account, pw(sshd_world), pins, trust=False, pinned=sshd.host_key_fingerprint)
    assert good.ok
    wrong = "SHA256:" + "A" * 43
    report = run(account, pw(sshd_world), pins, trust=True, pinned=wrong)
    failed = assert_fails_at(report, "hostkey", "configuration")
    assert wrong in failed.detail and "CHANGED" in failed.detail


# ----------------------------------------------------------------------- folders


@sshd_test
def test_unreadable_folder(sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore) -> None:
    report = run(sftp_account(sshd.port, sshd_world.password_user, "/locked"), pw(sshd_world), pins)
    assert_fails_at(report, "list", "permission denied")


@sshd_test
def test_unreadable_file(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore, chroot_dir: object
) -> None:
    folder = chroot_dir()  # type: ignore[operator]
    secret = sshd_world.disk(folder) / "secret.sync"
    secret.write_bytes(b"x")
    secret.chmod(0o600)  # root's
    report = run(sftp_account(sshd.port, sshd_world.password_user, folder), pw(sshd_world), pins)
    assert_fails_at(report, "read", "can list but not read")


@sshd_test
def test_read_only_folder_fails_the_write_stage_and_leaves_nothing(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    before = sorted(os.listdir(sshd_world.disk("/readonly")))
    account = sftp_account(sshd.port, sshd_world.password_user, "/readonly", Role.EXPORT)
    report = run(account, pw(sshd_world), pins)
    failed = assert_fails_at(report, "write", "ask Adobe for write access")
    assert "permission denied" in failed.detail
    assert sorted(os.listdir(sshd_world.disk("/readonly"))) == before


@sshd_test
def test_write_failing_half_way_leaves_nothing(
    sshd: Sshd,
    sshd_world: SshdWorld,
    pins: SqliteHostKeyStore,
    chroot_dir: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_rename(self: paramiko.SFTPClient, old: str, new: str) -> None:
        raise OSError("rename failed on purpose")

    monkeypatch.setattr(paramiko.SFTPClient, "posix_rename", broken_rename)
    folder = chroot_dir()  # type: ignore[operator]
    account = sftp_account(sshd.port, sshd_world.password_user, folder, Role.EXPORT)
    report = run(account, pw(sshd_world), pins)
    failed = assert_fails_at(report, "write", "write access")
    assert "rename failed on purpose" in failed.detail
    assert os.listdir(sshd_world.disk(folder)) == []


@sshd_test
def test_missing_folder_shows_where_the_session_starts(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd.port, sshd_world.password_user, "/srv/outbound")
    report = run(account, pw(sshd_world), pins)
    failed = assert_fails_at(report, "list", "folder missing")
    assert "/srv/outbound" in failed.detail
    assert "session starts in /" in failed.detail


@sshd_test
def test_no_sftp_subsystem(
    sshd_no_sftp: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    account = sftp_account(sshd_no_sftp.port, sshd_world.password_user, "/inbox")
    report = run(account, pw(sshd_world), pins)
    assert_fails_at(report, "sftp", "no SFTP subsystem: shell/SCP-only account")


# ------------------------------------------------------------------- local folder


def _local(role: Role, path: Path) -> Account:
    return Account(role=role, type=AccountType.LOCAL, path=str(path))


def test_local_import_probe(tmp_path: Path, pins: SqliteHostKeyStore) -> None:
    (tmp_path / "old.sync").write_text("a 1\n")
    (tmp_path / SAMPLE_NAME).write_text("b 2\n")
    os.utime(tmp_path / "old.sync", (1_000_000, 1_000_000))
    report = run(_local(Role.IMPORT, tmp_path), Credentials(), pins)
    assert report.ok
    assert [s.name for s in report.stages] == list(IMPORT_STAGES)
    for name in ("dns", "tcp", "banner", "hostkey", "auth", "sftp"):
        stage = report.stage(name)
        assert stage is not None and stage.status == "skip" and stage.detail == "local folder"
    assert SAMPLE_NAME in report.stage("read").detail  # type: ignore[union-attr]
    assert report.host_key is None


def test_local_export_probe_leaves_nothing(tmp_path: Path, pins: SqliteHostKeyStore) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    report = run(_local(Role.EXPORT, folder), Credentials(), pins)
    assert report.ok
    assert report.stage("write").status == "pass"  # type: ignore[union-attr]
    assert list(folder.iterdir()) == []


def test_local_missing_folder(tmp_path: Path, pins: SqliteHostKeyStore) -> None:
    report = run(_local(Role.IMPORT, tmp_path / "nope"), Credentials(), pins)
    assert_fails_at(report, "list", "folder missing")


# --------------------------------------------------------------- report and hooks


def test_to_json_shape(tmp_path: Path, pins: SqliteHostKeyStore) -> None:
    report = run(_local(Role.EXPORT, tmp_path), Credentials(), pins)
    data = report.to_json()
    json.dumps(data)
    assert data["account"] == "export"
    assert data["ok"] is True
    assert data["host_key"] is None
    assert data["endpoint"] == f"local:{tmp_path}"
    assert {"account", "ok", "host_key", "stages", "endpoint"} <= set(data)
    assert [s["name"] for s in data["stages"]] == list(EXPORT_STAGES)
    for stage in data["stages"]:
        assert set(stage) == {"name", "status", "ms", "detail", "hint"}
        assert stage["status"] in ("pass", "fail", "warn", "skip")
        assert isinstance(stage["ms"], int)
    assert ProbeReport.from_json(data).to_json() == data


@sshd_test
def test_to_json_host_key(sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore) -> None:
    report = run(sftp_account(sshd.port, sshd_world.password_user, "/inbox"), pw(sshd_world), pins)
    data = json.loads(json.dumps(report.to_json()))
    assert data["host_key"] == {"type": "ssh-ed25519", "fingerprint": sshd.host_key_fingerprint}
    assert data["account"] == "import"
    assert data["endpoint"] == f"sftp://{sshd_world.password_user}@{HOST}:{sshd.port}/inbox"


def test_on_stage_and_cancel(tmp_path: Path, pins: SqliteHostKeyStore) -> None:
    seen: list[StageResult] = []
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return True

    account = _local(Role.IMPORT, tmp_path)
    report = probe(
        account, Credentials(), HostKeyCheck(pins, True), on_stage=seen.append, cancelled=cancelled
    )
    assert [s.name for s in seen] == list(IMPORT_STAGES)
    assert report.stage("list").detail == "cancelled"  # type: ignore[union-attr]
    assert report.stage("read").status == "skip"  # type: ignore[union-attr]
    assert not report.ok and report.cancelled


@sshd_test
def test_cancel_between_network_stages(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore
) -> None:
    seen: list[str] = []
    account = sftp_account(sshd.port, sshd_world.password_user, "/inbox")
    report = probe(
        account,
        pw(sshd_world),
        HostKeyCheck(pins, True),
        on_stage=lambda s: seen.append(s.name),
        cancelled=lambda: "auth" in seen,
    )
    assert statuses(report)["auth"] == "pass"
    assert report.stage("sftp").detail == "cancelled"  # type: ignore[union-attr]
    assert not report.ok


@sshd_test
def test_no_paramiko_output_on_stderr(
    capfd: pytest.CaptureFixture[str],
    sshd: Sshd,
    sshd_world: SshdWorld,
    http_port: int,
    silent_port: int,
    pins: SqliteHostKeyStore,
) -> None:
    capfd.readouterr()
    run(sftp_account(http_port, "u"), Credentials(password="x"), pins)
    run(sftp_account(silent_port, "u"), Credentials(password="x"), pins, timeout=1)
    run(sftp_account(sshd.port, sshd_world.password_user), Credentials(password="bad"), pins)
    run(sftp_account(sshd.port, sshd_world.password_user, "/locked"), pw(sshd_world), pins)
    join_paramiko_threads()  # they would have logged by the time they end
    out, err = capfd.readouterr()
    assert err == ""
    assert out == ""


def test_credentials_repr_masks_everything() -> None:
    creds = Credentials(password="hunter2", private_key="-----BEGIN KEY-----", passphrase="pp")
    for text in (repr(creds), str(creds), f"{creds}"):
        assert "hunter2" not in text and "BEGIN" not in text and "pp)" not in text
    assert "<none>" in repr(Credentials())


def test_probe_history_in_the_store(tmp_path: Path, store: Store, pins: SqliteHostKeyStore) -> None:
    store.conn.execute(
        "INSERT INTO environments (name, config, created_at, updated_at) VALUES (?, ?, ?, ?)",
        ("production", "{}", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    )
    assert probes.last(store.conn, "production", Role.IMPORT) is None
    good = run(_local(Role.IMPORT, tmp_path), Credentials(), pins)
    bad = run(_local(Role.IMPORT, tmp_path / "missing"), Credentials(), pins)
    with store.transaction() as conn:
        probes.save(conn, "production", good)
        probes.save(conn, "production", bad)
    last = probes.last(store.conn, "production", "import")
    assert last is not None and not last.ok
    assert last.to_json() == bad.to_json()
    history = probes.history(store.conn, "production", Role.IMPORT, limit=10)
    assert [r.ok for r in history] == [False, True]
    assert probes.history(store.conn, "production", Role.EXPORT, limit=10) == []


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize("fmt", [[], ["-m", "PEM", "-t", "rsa", "-b", "2048"]])
def test_private_key_passphrase(tmp_path: Path, fmt: list[str]) -> None:
    path = tmp_path / "key"
    args = fmt or ["-t", "ed25519"]
    subprocess.run(["ssh-keygen", "-q", "-N", "s3cret", "-f", str(path), *args], check=True)
    text = path.read_text()
    key = Credentials(private_key=text, passphrase="s3cret").load_private_key()
    assert key is not None and key.can_sign()
    with pytest.raises(InputError, match="encrypted"):
        Credentials(private_key=text).load_private_key()
    with pytest.raises(InputError, match=r"decrypt|cannot read"):
        Credentials(private_key=text, passphrase="wrong").load_private_key()
    assert Credentials().load_private_key() is None


@sshd_test
def test_latin1_file_name_is_listed_escaped_and_read(
    sshd: Sshd, sshd_world: SshdWorld, pins: SqliteHostKeyStore, chroot_dir: object
) -> None:
    """A name that is not UTF-8 (Latin-1 é) used to break the list stage with a
    UnicodeDecodeError; it is counted, shown escaped, and still readable."""
    folder = chroot_dir()  # type: ignore[operator]
    raw = os.fsencode(sshd_world.disk(folder)) + b"/r\xe9sum\xe9.sync"
    with open(raw, "wb") as handle:
        handle.write(b"C1 201\n")
    os.utime(raw, (2_000_000_000, 2_000_000_000))  # the newest file: the one read
    (sshd_world.disk(folder) / "plain.sync").write_bytes(b"C2 201\n")
    report = run(sftp_account(sshd.port, sshd_world.password_user, folder), pw(sshd_world), pins)
    assert report.ok, report.stages
    assert "2 files, 0 other entries" in report.stage("list").detail  # type: ignore[union-attr]
    read = report.stage("read")
    assert read is not None and "r\\xe9sum\\xe9.sync" in read.detail and "7 bytes" in read.detail
