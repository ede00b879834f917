"""Amazon S3 accounts against a real S3-compatible server (rclone serve s3, SigV4, TLS):
probe stages, the transport, import and export through the CLI, and bad configuration."""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ConnectionFailure, OperationCancelled
from core.model import Account, AccountType, Role
from core.probe import S3_EXPORT_STAGES, S3_IMPORT_STAGES, Credentials, ProbeReport, probe
from core.secrets import Secret
from core.transport import RemoteFileExists, open_transport
from storage.db import Store
from storage.repo import EnvironmentRepo
from tests.s3server import REGION, S3Server

PREFIX = "aam/outbound"


def s3_account(s3: S3Server, bucket: str, role: Role = Role.IMPORT, **changes: object) -> Account:
    fields: dict[str, object] = {
        "type": AccountType.S3,
        "server": f"{bucket}.s3.amazonaws.com/{PREFIX}",
        "access_key_id": s3.access_key,
        "secret_access_key": Secret("literal", s3.secret_key),
        "region": REGION,
        "endpoint_url": s3.url,
        "ca_bundle": str(s3.ca_file),
    }
    fields.update(changes)
    return Account(role, **fields)  # type: ignore[arg-type]


def creds(secret: str) -> Credentials:
    return Credentials(secret_access_key=secret)


def run_probe(account: Account, secret: str, timeout: float = 5.0) -> ProbeReport:
    return probe(account, creds(secret), None, timeout=timeout)  # type: ignore[arg-type]


def failed_at(report: ProbeReport, stage: str) -> tuple[str, str]:
    failure = report.first_failure
    assert failure is not None, [s.to_json() for s in report.stages]
    assert failure.name == stage, failure
    after = report.stages[[s.name for s in report.stages].index(stage) + 1 :]
    assert all(s.status == "skip" for s in after)
    assert not report.ok
    return failure.detail, failure.hint


def folder(server: S3Server, bucket: str) -> Path:
    path = server.bucket_dir(bucket) / PREFIX
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------ probe


def test_good_keys_pass_every_stage_and_leave_nothing(s3_server: S3Server, s3_bucket: str) -> None:
    box = folder(s3_server, s3_bucket)
    (box / "ftp_46390_14016_full_1700000000000.sync").write_bytes(b"C1 201\n" * 10)
    (box / "date=2026-12-06").mkdir()
    report = run_probe(s3_account(s3_server, s3_bucket), s3_server.secret_key)
    assert [s.name for s in report.stages] == list(S3_IMPORT_STAGES)
    assert report.ok, [s.to_json() for s in report.stages]
    assert all(s.status == "pass" for s in report.stages)
    assert "1 files, 1 other entries" in report.stage("list").detail  # type: ignore[union-attr]
    assert "read 70 bytes of the newest file" in report.stage("read").detail  # type: ignore[union-attr]
    assert "audiencectl-test-ca" in report.stage("tls").detail  # type: ignore[union-attr]
    data = report.to_json()
    assert data["account"] == "import" and data["host_key"] is None
    assert set(data["stages"][0]) == {"name", "status", "ms", "detail", "hint"}

    before = sorted(p.name for p in box.iterdir())
    export = s3_account(s3_server, s3_bucket, Role.EXPORT)
    report = run_probe(export, s3_server.secret_key)
    assert [s.name for s in report.stages] == list(S3_EXPORT_STAGES)
    assert report.ok, [s.to_json() for s in report.stages]
    assert sorted(p.name for p in box.iterdir()) == before


def test_wrong_secret_fails_auth(s3_server: S3Server, s3_bucket: str) -> None:
    report = run_probe(s3_account(s3_server, s3_bucket), "not-the-secret-at-all")
    detail, hint = failed_at(report, "auth")
    assert "secret access key is wrong" in detail
    assert "secret_access_key" in hint
    assert "not-the-secret" not in json.dumps(report.to_json())


def test_wrong_access_key_fails_auth(s3_server: S3Server, s3_bucket: str) -> None:
    account = s3_account(s3_server, s3_bucket, access_key_id="AKIAWRONGWRONGWRONG9")
    detail, hint = failed_at(run_probe(account, s3_server.secret_key), "auth")
    assert "does not know the access key ID AKIA…ONG9" in detail
    assert "access_key_id" in hint


def test_missing_bucket_fails_bucket(s3_server: S3Server) -> None:
    account = s3_account(s3_server, "no-such-bucket-here")
    detail, hint = failed_at(run_probe(account, s3_server.secret_key), "bucket")
    assert "no-such-bucket-here does not exist" in detail
    assert "server" in hint


@pytest.fixture
def no_ca_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No AWS_CA_BUNDLE nor OpenSSL override from the machine running the tests."""
    for name in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_certificate_from_unknown_ca_fails_tls(
    s3_server: S3Server, s3_bucket: str, no_ca_settings: pytest.MonkeyPatch
) -> None:
    for bundle in ("", str(s3_server.other_ca_file)):
        account = s3_account(s3_server, s3_bucket, ca_bundle=bundle)
        detail, hint = failed_at(run_probe(account, s3_server.secret_key), "tls")
        assert "not trusted" in detail
        assert "ca_bundle" in hint


def test_aws_ca_bundle_is_trusted_when_ca_bundle_is_empty(
    s3_server: S3Server, s3_bucket: str, no_ca_settings: pytest.MonkeyPatch
) -> None:
    """The throwaway CA through AWS_CA_BUNDLE: the tls stage and the transfers trust it;
    without it, the tls stage fails with the "not trusted" hint; ca_bundle wins."""
    (folder(s3_server, s3_bucket) / "trusted.sync").write_bytes(b"x")
    account = s3_account(s3_server, s3_bucket, ca_bundle="")
    detail, hint = failed_at(run_probe(account, s3_server.secret_key), "tls")
    assert "not trusted" in detail and "ca_bundle" in hint
    with pytest.raises(ConnectionFailure):
        open_transport(account, creds(s3_server.secret_key), None, 5.0)  # type: ignore[arg-type]
    no_ca_settings.setenv("AWS_CA_BUNDLE", str(s3_server.ca_file))
    report = run_probe(account, s3_server.secret_key)
    assert report.ok, [s.to_json() for s in report.stages]
    assert "audiencectl-test-ca" in report.stage("tls").detail  # type: ignore[union-attr]
    with open_transport(account, creds(s3_server.secret_key), None, 5.0) as files:  # type: ignore[arg-type]
        assert "trusted.sync" in [f.name for f in files.list()]
    no_ca_settings.setenv("AWS_CA_BUNDLE", str(s3_server.other_ca_file))
    failed_at(run_probe(account, s3_server.secret_key), "tls")
    assert run_probe(s3_account(s3_server, s3_bucket), s3_server.secret_key).ok  # ca_bundle wins
    no_ca_settings.setenv("AWS_CA_BUNDLE", str(s3_server.ca_file.parent / "missing.pem"))
    detail, hint = failed_at(run_probe(account, s3_server.secret_key), "tls")
    assert "AWS_CA_BUNDLE" in detail and "AWS_CA_BUNDLE" in hint


def test_the_system_ca_store_is_trusted_by_default(
    s3_server: S3Server, s3_bucket: str, no_ca_settings: pytest.MonkeyPatch
) -> None:
    """No ca_bundle, no AWS_CA_BUNDLE: the system's CA store (here OpenSSL's default
    file, pointed at the throwaway CA through SSL_CERT_FILE) is what TLS trusts."""
    from core.probe.s3 import ca_source

    (folder(s3_server, s3_bucket) / "system.sync").write_bytes(b"x")
    account = s3_account(s3_server, s3_bucket, ca_bundle="")
    no_ca_settings.setenv("SSL_CERT_FILE", str(s3_server.ca_file))
    assert ca_source(account) == (str(s3_server.ca_file), "the system's CA store")
    report = run_probe(account, s3_server.secret_key)
    assert report.ok, [s.to_json() for s in report.stages]
    with open_transport(account, creds(s3_server.secret_key), None, 5.0) as files:  # type: ignore[arg-type]
        assert "system.sync" in [f.name for f in files.list()]


def test_silent_port_fails_tls_within_the_timeout(
    s3_silent_port: int, s3_bucket: str, s3_server: S3Server
) -> None:
    account = s3_account(s3_server, s3_bucket, endpoint_url=f"https://127.0.0.1:{s3_silent_port}")
    started = time.monotonic()
    report = run_probe(account, s3_server.secret_key, timeout=1.0)
    elapsed = time.monotonic() - started
    detail, hint = failed_at(report, "tls")
    assert "did not complete TLS" in detail and "no TLS service" in hint
    assert elapsed < 1.0 + 30  # bounded by the timeout (a generous margin for slow machines)


def test_plain_http_endpoint_skips_tls(
    s3_silent_port: int, s3_bucket: str, s3_server: S3Server
) -> None:
    account = s3_account(s3_server, s3_bucket, endpoint_url=f"http://127.0.0.1:{s3_silent_port}")
    report = run_probe(account, s3_server.secret_key, timeout=1.0)
    tls = report.stage("tls")
    assert tls is not None and tls.status == "skip" and "http://" in tls.detail
    _detail, hint = failed_at(report, "auth")
    assert "stopped answering" in hint


# -------------------------------------------------------------------- transport


def test_transport_lists_fetches_uploads_and_removes(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    box = folder(s3_server, s3_bucket)
    payload = os.urandom(300_000)
    (box / "a.sync").write_bytes(payload)
    (box / "sub").mkdir()
    (box / "sub" / "deeper.sync").write_bytes(b"x")
    account = s3_account(s3_server, s3_bucket, Role.EXPORT)
    with open_transport(account, creds(s3_server.secret_key), None, 5.0) as files:  # type: ignore[arg-type]
        assert [f.name for f in files.list()] == ["a.sync"]
        with files.fetch("a.sync") as stream:
            assert stream.read(10) == payload[:10]
            assert stream.read() == payload[10:]
        local = tmp_path / "out.sync"
        local.write_bytes(b"ID\t201\n" * 1000)
        seen: list[tuple[int, int]] = []
        files.upload_atomic(
            local, "ftp_dpm_14016_1700000000.sync", lambda done, total: seen.append((done, total))
        )
        assert (box / "ftp_dpm_14016_1700000000.sync").read_bytes() == local.read_bytes()
        assert seen[-1] == (7000, 7000)
        with pytest.raises(RemoteFileExists):
            files.upload_atomic(local, "ftp_dpm_14016_1700000000.sync")
        assert files.remove("a.sync") is True
        assert files.remove("a.sync") is False
        assert not (box / "a.sync").exists()


def test_a_download_over_the_maximum_is_refused_before_it_starts(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SFTP rule on S3 too: a listed size over MAX_DOWNLOAD_BYTES is refused, one at
    the maximum reads whole."""
    import core.transport.base

    box = folder(s3_server, s3_bucket)
    (box / "big.sync").write_bytes(b"9" * 41)
    (box / "fits.sync").write_bytes(b"8" * 40)
    monkeypatch.setattr(core.transport.base, "MAX_DOWNLOAD_BYTES", 40)
    account = s3_account(s3_server, s3_bucket)
    with open_transport(account, creds(s3_server.secret_key), None, 5.0) as files:  # type: ignore[arg-type]
        with pytest.raises(ConnectionFailure) as caught, files.fetch("big.sync"):
            pytest.fail("the download must not start")
        assert "big.sync: 41 bytes is larger than the 40 bytes" in str(caught.value)
        with files.fetch("fits.sync") as stream:
            assert stream.read() == b"8" * 40


def test_a_body_longer_than_its_listed_size_is_refused() -> None:
    """A server sending more than the ContentLength it gave: the read stops there."""
    from core.transport.s3 import _Body

    class LongBody:
        def __init__(self) -> None:
            self.data = io.BytesIO(b"A" * 10 + b"B" * 5)
            self.closed = False

        def read(self, size: int = -1) -> bytes:
            return self.data.read(size)

        def close(self) -> None:
            self.closed = True

    wire = LongBody()
    stream = _Body(wire, "x.sync", 10, 5.0)
    got = b""
    with pytest.raises(ConnectionFailure) as caught:
        while block := stream.read(3):
            got += block
    assert got == b"A" * 10
    assert "x.sync: the server sent more than the 10 bytes it listed" in str(caught.value)
    stream.close()
    assert wire.closed
    whole = LongBody()
    whole.data = io.BytesIO(b"A" * 10)
    assert io.BufferedReader(_Body(whole, "y.sync", 10, 5.0)).read() == b"A" * 10


def test_cancelled_multipart_upload_leaves_nothing(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.transport import s3 as transport_s3

    monkeypatch.setattr(transport_s3, "PART_SIZE", 5 * 1024 * 1024)
    box = folder(s3_server, s3_bucket)
    local = tmp_path / "big.sync"
    local.write_bytes(os.urandom(11 * 1024 * 1024))
    calls: list[int] = []

    def cancel_after_first_part(done: int, total: int) -> None:
        calls.append(done)
        raise OperationCancelled("cancelled", "")

    account = s3_account(s3_server, s3_bucket, Role.EXPORT)
    with open_transport(account, creds(s3_server.secret_key), None, 5.0) as files:  # type: ignore[arg-type]
        with pytest.raises(OperationCancelled):
            files.upload_atomic(local, "big.sync", cancel_after_first_part)
        assert calls == [5 * 1024 * 1024]
        assert files.list() == []
        uploads = files.client.list_multipart_uploads(Bucket=s3_bucket)  # type: ignore[attr-defined]
        assert not uploads.get("Uploads")
        files.upload_atomic(local, "big.sync")  # the same name, complete this time
    assert (box / "big.sync").read_bytes() == local.read_bytes()


def test_transport_refuses_wrong_secret(s3_server: S3Server, s3_bucket: str) -> None:
    account = s3_account(s3_server, s3_bucket)
    with pytest.raises(ConnectionFailure) as caught:
        open_transport(account, creds("wrong"), None, 5.0)  # type: ignore[arg-type]
    assert "secret access key is wrong" in caught.value.message
    assert "secret_access_key" in caught.value.hint


# ---------------------------------------------------------------- through the CLI


def save_s3_env(db_path: Path, server: S3Server, bucket: str, tmp_path: Path) -> None:
    """The demo environment, its two accounts moved to the S3 bucket."""
    from tests.test_import_cli import demo_store

    ws = demo_store(tmp_path / "demo", db_path)
    with Store(db_path) as store:
        repo = EnvironmentRepo(store)
        env = repo.get(ws.env.name)
        assert env is not None
        repo.save(
            replace(
                env,
                import_account=s3_account(server, bucket, Role.IMPORT),
                export_account=s3_account(
                    server,
                    bucket,
                    Role.EXPORT,
                    server=f"{bucket}.s3.amazonaws.com/inbound",
                    server_side_encryption=True,
                ),
            )
        )


def test_import_of_a_split_batch_with_its_manifest(
    run_cli,
    db_path: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    from tests.test_workflow import DID, DPID, aam_name, write_file, write_manifest

    save_s3_env(db_path, s3_server, s3_bucket, tmp_path)
    box = folder(s3_server, s3_bucket)
    key = f"ftp_{DID}_{DPID}_full_{1:013d}"
    probe_run = run_cli("probe", "import", "--json")
    assert probe_run.code == 0, probe_run.out + probe_run.err
    first = json.loads(probe_run.out)[0]
    assert [s["name"] for s in first["stages"]] == list(S3_IMPORT_STAGES)

    assert json.loads(run_cli("import", "status", "--json").out)["processed_files"] == 0
    visitors = (tmp_path / "demo").rglob("visitors*.csv")
    ecids = []
    for path in visitors:
        ecids = [line.split(",")[1] for line in path.read_text().splitlines()[1:4]]
        break
    assert len(ecids) == 3
    part1 = write_file(box, aam_name("full", 1, "001"), [f"{ecids[0]} 201", f"{ecids[1]} 201"])
    part2 = write_file(box, aam_name("full", 1, "002"), [f"{ecids[2]} 202"])
    write_manifest(box, key, [part1, part2])
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "ok" and report["batches"] == 1 and report["files"] == 3
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["segments"]["201"]["members"] == 2 and status["segments"]["202"]["members"] == 1
    assert status["processed_files"] == 3
    again = json.loads(run_cli("import", "run", "--once", "--json", "--quiet").out)
    assert again["status"] == "nothing_new"  # the same ledger: nothing is read twice


def test_export_upload_lands_under_the_prefix_and_decrypts(
    run_cli,
    db_path: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    from tests.test_export import AES_DS, members_csv, openssl_decrypt, profiles_of
    from tests.test_import_cli import demo_store

    save_s3_env(db_path, s3_server, s3_bucket, tmp_path)
    ws = demo_store(tmp_path / "again", tmp_path / "scratch.db")  # the same demo profiles
    profiles = profiles_of(ws)
    inbound = s3_server.bucket_dir(s3_bucket) / "inbound"
    inbound.mkdir(parents=True)
    ids = [f"P{n:05d}" for n in range(1, 21)]
    members = members_csv(tmp_path / "members.csv", ids)
    result = run_cli(
        "export",
        "--members",
        str(members),
        "--segment-id",
        "777",
        "--datasource",
        AES_DS,
        "--upload",
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["uploaded"] is True
    assert sorted(p.name for p in inbound.iterdir()) == [report["file"]]
    lines = [line.split("\t") for line in (inbound / report["file"]).read_text().splitlines()]
    decrypted = sorted(openssl_decrypt(ct) for ct, _seg in lines)
    expected = sorted(
        p["email"].strip().lower() for i in ids if (p := profiles[i])["email"].strip()
    )
    assert decrypted == expected and {seg for _ct, seg in lines} == {"777"}


# ------------------------------------------------------------------ bad input


S3_TOML = """\
name = "s3env"

[accounts.import]
type = "s3"
server = "{server}"
access_key_id = "{key}"
secret_access_key = "{secret}"
region = "{region}"
{extra}
"""


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"server": "s3://mybucket/aam"}, ["server", "scheme", "mybucket.s3.amazonaws.com"]),
        ({"server": "https://mybucket.s3.amazonaws.com"}, ["server", "scheme"]),
        (
            {"server": "mybucket.s3.eu-west-1.amazonaws.com/aam"},
            ["server", "region eu-west-1", "mybucket.s3.amazonaws.com/<path>"],
        ),
        ({"server": "mybucket.s3-eu-west-1.amazonaws.com"}, ["server", "region eu-west-1"]),
        ({"server": "My_Bucket.s3.amazonaws.com"}, ["server", "bucket"]),
        ({"server": "ab.s3.amazonaws.com"}, ["server", "bucket"]),
        ({"region": ""}, ["region", "is required"]),
        ({"key": ""}, ["access_key_id", "is required"]),
        ({"key": "ASIAIOSFODNN7EXAMPLE"}, ["access_key_id", "temporary", "session-token"]),
        (
            {"key": "akiaiosfodnn7example"},
            ["access_key_id", "16 to 128 capital letters and digits", "AKIA"],
        ),
        ({"key": "AKIA12345678"}, ["access_key_id", "16 to 128"]),
        ({"secret": "file:/nonexistent/s3-secret"}, ["secret_access_key", "does not exist"]),
        ({"extra": 'ca_bundle = "{notpem}"'}, ["ca_bundle", "not a PEM"]),
        ({"extra": 'endpoint_url = "ftp://host"'}, ["endpoint_url"]),
    ],
)
def test_bad_s3_config_exits_2_and_stores_nothing(
    run_cli,
    db_path: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    values: dict[str, str],
    words: list[str],
) -> None:
    notpem = tmp_path / "ca.txt"
    notpem.write_text("not a certificate\n")
    fields = {
        "server": "mybucket.s3.amazonaws.com/aam",
        "key": "AKIAIOSFODNN7EXAMPLE",
        "secret": "env:AAM_S3_SECRET",
        "region": "eu-west-1",
        "extra": "",
    }
    fields.update(values)
    fields["extra"] = fields["extra"].replace("{notpem}", str(notpem))
    path = tmp_path / "s3.toml"
    path.write_text(S3_TOML.format(**fields))
    result = run_cli("config", "import", str(path))
    assert result.code == 2, result.out + result.err
    message = result.err.strip()
    assert "Traceback" not in message
    for word in words:
        assert word in message, message
    assert not db_path.exists() or run_cli("env", "list", "--json").out.count("s3env") == 0


def test_good_s3_config_round_trips_without_the_secret(
    run_cli,
    db_path: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    path = tmp_path / "s3.toml"
    path.write_text(
        S3_TOML.format(
            server="mybucket.s3.amazonaws.com/aam/outbound",
            key="AKIAIOSFODNN7EXAMPLE",
            secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region="eu-west-1",
            extra="server_side_encryption = true",
        )
    )
    assert run_cli("config", "import", str(path)).code == 0
    out = tmp_path / "back.toml"
    exported = run_cli("--env", "s3env", "config", "export", str(out))
    assert exported.code == 0, exported.err
    text = out.read_text()
    assert 'secret_access_key = "<stored>"' in text
    assert "wJalrXUtnFEMI" not in text and "host =" not in text.split("[accounts.export]")[0]
    assert "server_side_encryption = true" in text
    assert db_path.exists() and b"wJalrXUtnFEMI" not in db_path.read_bytes()
    again = run_cli("config", "import", str(out), "--dry-run")
    assert again.code == 0 and "nothing to change" in again.out


def test_doctor_account_checks_pass_for_s3_accounts(
    run_cli,
    db_path: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    save_s3_env(db_path, s3_server, s3_bucket, tmp_path)
    folder(s3_server, s3_bucket)
    (s3_server.bucket_dir(s3_bucket) / "inbound").mkdir()
    result = run_cli("doctor", "--json")
    checks = {c["id"]: c for c in json.loads(result.out)["checks"]}
    for check_id in (
        "account.import.reachable",
        "account.import.readable",
        "account.export.reachable",
        "account.direction",
    ):
        assert checks[check_id]["status"] == "pass", checks[check_id]
    assert "tls:" in checks["account.import.reachable"]["detail"]
    configured = checks["account.import.configured"]
    assert (
        configured["status"] == "pass"
        and "key ID AKIA…EST1 + secret ••••••" in (configured["detail"])
    )
    # the export account asks for SSE, which rclone accepts without confirming it
    writable = checks["account.export.writable"]
    assert writable["status"] == "warn", writable
    assert (
        "bucket:" in writable["detail"]
        and "did not confirm server-side encryption" in (writable["detail"])
    )
    assert "encryption settings" in writable["fix"]


# ------------------------------------------------ AWS's documented error responses


def client_error(
    code: str, status: int, message: str = "", headers: dict[str, str] | None = None, **fields: str
) -> object:
    from botocore.exceptions import ClientError

    response = {
        "Error": {"Code": code, "Message": message, **fields},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
    }
    return ClientError(response, "ListObjectsV2")  # type: ignore[arg-type]


AWS = Account(
    Role.IMPORT,
    AccountType.S3,
    server="aam-share.s3.amazonaws.com/outbound",
    access_key_id="AKIAIOSFODNN7EXAMPLE",
    region="eu-west-1",
)


def test_region_redirect_names_the_bucket_region() -> None:
    from core.probe.s3 import explain_client_error

    # a request to the wrong regional endpoint: 301 PermanentRedirect, x-amz-bucket-region
    error = explain_client_error(
        client_error(
            "PermanentRedirect",
            301,
            "The bucket you are attempting to access must be "
            "addressed using the specified endpoint.",
            {"x-amz-bucket-region": "eu-central-1"},
            Endpoint="aam-share.s3.eu-central-1.amazonaws.com",
            Bucket="aam-share",
        ),
        AWS,
        "listing",
    )
    assert error.detail == "the bucket aam-share is in eu-central-1, not eu-west-1"
    assert 'set region = "eu-central-1"' in error.hint
    # HeadBucket has no body: botocore gives the status as the code
    error = explain_client_error(
        client_error("301", 301, "Moved Permanently", {"x-amz-bucket-region": "us-east-2"}),
        AWS,
        "x",
    )
    assert "is in us-east-2" in error.detail
    # SigV4 scoped to the wrong region: 400 AuthorizationHeaderMalformed with Region
    error = explain_client_error(
        client_error(
            "AuthorizationHeaderMalformed",
            400,
            "the region 'eu-west-1' is wrong; expecting 'ap-south-1'",
            Region="ap-south-1",
        ),
        AWS,
        "x",
    )
    assert "is in ap-south-1" in error.detail


def test_clock_skew_says_by_how_much() -> None:
    from datetime import UTC, datetime, timedelta

    from core.probe.s3 import explain_client_error

    server_time = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    error = explain_client_error(
        client_error(
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
            RequestTime="20261206T080000Z",
            ServerTime=server_time,
            MaxAllowedSkewMilliseconds="900000",
        ),
        AWS,
        "signing a request",
    )
    assert "clock is 20 min" in error.detail and "ahead of the service's" in error.detail
    assert "NTP" in error.hint


def test_other_documented_codes() -> None:
    from core.probe.s3 import explain_client_error

    cases = {
        ("InvalidAccessKeyId", 403): ("does not know the access key ID AKIA…MPLE", "access_key_id"),
        ("SignatureDoesNotMatch", 403): ("secret access key is wrong", "secret_access_key"),
        ("NoSuchBucket", 404): ("aam-share does not exist", "server"),
        ("AccessDenied", 403): ("access denied", "s3:ListBucket"),
        ("InvalidToken", 400): ("InvalidToken", "long-term keys"),
        ("SlowDown", 503): ("busy", "try again"),
    }
    for (code, status), (detail, hint) in cases.items():
        error = explain_client_error(client_error(code, status), AWS, "listing")
        assert detail in error.detail and hint in error.hint, (code, error.detail, error.hint)


def test_access_denied_on_list_buckets_still_proves_the_keys() -> None:
    from botocore.stub import Stubber

    from core.probe.s3 import _auth, make_client

    client = make_client(AWS, Credentials(secret_access_key="x" * 40), 5.0)
    with Stubber(client) as stub:
        stub.add_client_error("list_buckets", "AccessDenied", "Access Denied", 403)
        outcome = _auth(client, AWS, 5.0)
    assert outcome.status == "pass" and "is valid" in outcome.detail
    with Stubber(client) as stub:
        stub.add_client_error("list_buckets", "InvalidAccessKeyId", "no such key", 403)
        with pytest.raises(Exception) as caught:
            _auth(client, AWS, 5.0)
    assert "does not know the access key ID" in str(caught.value)


def test_bucket_in_another_region_fails_the_bucket_stage() -> None:
    from botocore.stub import Stubber

    from core.probe import StageError
    from core.probe.s3 import _bucket, make_client

    client = make_client(AWS, Credentials(secret_access_key="x" * 40), 5.0)
    with Stubber(client) as stub:
        stub.add_response(
            "head_bucket",
            {
                "ResponseMetadata": {
                    "HTTPStatusCode": 200,
                    "HTTPHeaders": {"x-amz-bucket-region": "us-west-2"},
                }
            },
            {"Bucket": "aam-share"},
        )
        with pytest.raises(StageError) as caught:
            _bucket(client, AWS, AWS.s3_location, 5.0)
    assert "is in us-west-2, not eu-west-1" in caught.value.detail


def test_probe_command_prints_the_s3_stages(
    run_cli,
    db_path: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    save_s3_env(db_path, s3_server, s3_bucket, tmp_path)
    folder(s3_server, s3_bucket)
    result = run_cli("probe", "import")
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert f"s3://{s3_bucket}/{PREFIX}/ at {s3_server.url}" in lines[0]
    assert [line.split()[1] for line in lines[1:-1]] == list(S3_IMPORT_STAGES)
    assert lines[-1] == "import: ok" and "host key" not in result.out
    assert s3_server.secret_key not in result.out + result.err


def test_transport_to_a_silent_port_fails_within_the_timeout(
    s3_silent_port: int, s3_server: S3Server
) -> None:
    account = s3_account(s3_server, "aam-share", endpoint_url=f"https://127.0.0.1:{s3_silent_port}")
    started = time.monotonic()
    with pytest.raises(ConnectionFailure) as caught:
        open_transport(account, creds(s3_server.secret_key), None, 1.0)  # type: ignore[arg-type]
    assert "no answer" in caught.value.message and "1 s" in caught.value.message
    assert "stopped answering" in caught.value.hint
    assert time.monotonic() - started < 1.0 + 30  # bounded (generous margin)
