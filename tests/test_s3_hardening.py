"""S3 accounts against hostile or mistaken files and values: the CA bundle and ``file:``
secrets read through the bounded, non-blocking reader (FIFO, device, folder, huge file),
the console's form (one secret key input, no file read per keystroke), values echoed
cut short, one TLS hint for a plain HTTP endpoint, and exports of each type's keys."""

from __future__ import annotations

import http.server
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConnectionFailure, SecretError, ValidationError
from core.model import Account, AccountType, Environment, Role
from core.probe import Credentials, probe
from core.s3 import (
    MAX_CA_BUNDLE_BYTES,
    check_ca_bundle,
    check_region,
    parse_server,
    secret_file_problem,
)
from core.secrets import Secret, read_secret_file
from core.transport import open_transport

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "ca.fifo"
    os.mkfifo(path)
    return path


def s3_account(**changes: object) -> Account:
    fields: dict[str, object] = {
        "type": AccountType.S3,
        "server": "aam-share.s3.amazonaws.com/aam",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "secret_access_key": Secret("literal", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "region": "eu-west-1",
    }
    fields.update(changes)
    return Account(Role.IMPORT, **fields)  # type: ignore[arg-type]


def in_thread(fn: object) -> object:
    """Runs ``fn`` in a daemon thread and returns what it returned or raised; a hang
    (what a FIFO did before) fails the test instead of stopping the suite."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(fn())  # type: ignore[operator]
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "blocked on the file"
    return box[0]


# ------------------------------------------------------------- 1. the bounded reader


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "huge"])
def test_ca_bundle_that_is_not_a_small_regular_file_is_refused_at_once(
    kind: str, fifo: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as fh:
        fh.truncate(MAX_CA_BUNDLE_BYTES + 1)
    path = {"fifo": fifo, "device": Path("/dev/zero"), "folder": tmp_path, "huge": huge}[kind]
    caught = in_thread(lambda: check_ca_bundle(str(path)))
    assert isinstance(caught, ValidationError)
    assert caught.field == "ca_bundle"
    expected = "is larger than 1 MiB" if kind == "huge" else "is not a regular file"
    assert expected in caught.reason and "\n" not in str(caught)


def test_secret_files_share_the_bounded_reader(fifo: Path, tmp_path: Path) -> None:
    for path in (fifo, Path("/dev/zero"), tmp_path):
        caught = in_thread(lambda p=path: read_secret_file(p, "secret_access_key"))
        assert isinstance(caught, SecretError)
        assert "is not a regular file" in caught.message


def test_config_import_with_a_fifo_ca_bundle_exits_2_at_once(
    run_cli,  # type: ignore[no-untyped-def]
    fifo: Path,
    tmp_path: Path,
) -> None:
    path = tmp_path / "s3.toml"
    path.write_text(
        'name = "s3env"\n[accounts.import]\ntype = "s3"\n'
        'server = "mybucket.s3.amazonaws.com/aam"\naccess_key_id = "AKIAIOSFODNN7EXAMPLE"\n'
        f'secret_access_key = "env:X"\nregion = "eu-west-1"\nca_bundle = "{fifo}"\n'
    )
    result = in_thread(lambda: run_cli("config", "import", str(path)))
    assert result.code == 2  # type: ignore[attr-defined]
    err = result.err.strip()  # type: ignore[attr-defined]
    assert "ca_bundle" in err and "is not a regular file" in err and "\n" not in err


# ------------------------------------------------------ 4. probe and transfers


def test_ca_source_refuses_a_fifo_from_ca_bundle_or_aws_ca_bundle(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.probe.s3 import ca_source, make_client

    account = s3_account(ca_bundle=str(fifo), endpoint_url="https://127.0.0.1:9")
    found = in_thread(lambda: ca_source(account))
    assert isinstance(found, ValidationError) and found.field == "ca_bundle"
    with pytest.raises(ValidationError):
        make_client(account, Credentials(secret_access_key="x"), 1.0)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(fifo))
    with pytest.raises(ValidationError) as caught:
        ca_source(s3_account(endpoint_url="https://127.0.0.1:9"))
    assert caught.value.field == "AWS_CA_BUNDLE" and "not a regular file" in caught.value.reason


def test_probe_fails_the_tls_stage_at_once_on_a_fifo_ca_bundle(
    fifo: Path, s3_server: object, s3_bucket: str
) -> None:
    from tests.s3server import S3Server

    assert isinstance(s3_server, S3Server)
    account = s3_account(
        server=f"{s3_bucket}.s3.amazonaws.com/aam",
        access_key_id=s3_server.access_key,
        endpoint_url=s3_server.url,
        ca_bundle=str(fifo),
    )
    creds = Credentials(secret_access_key=s3_server.secret_key)
    report = in_thread(lambda: probe(account, creds, None, timeout=2.0))  # type: ignore[arg-type]
    failure = report.first_failure  # type: ignore[attr-defined]
    assert failure is not None and failure.name == "tls"
    assert "ca_bundle" in failure.detail and "is not a regular file" in failure.detail
    caught = in_thread(lambda: open_transport(account, creds, None, 2.0))  # type: ignore[arg-type]
    assert isinstance(caught, ValidationError) and caught.field == "ca_bundle"


# -------------------------------------------------------------- 5. long values


def test_long_server_and_region_give_short_lines() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_server("a" * 200_000 + ".s3.amazonaws.com/aam")
    assert caught.value.field == "server" and "more than 1,100" in caught.value.reason
    assert len(str(caught.value)) < 400
    with pytest.raises(ValidationError) as caught:
        parse_server("mybucket.s3.amazonaws.com/" + "p" * 1_050)
    assert "path longer than 1,000 bytes" in caught.value.reason
    with pytest.raises(ValidationError) as caught:
        check_region("x" * 450_000)
    assert caught.value.field == "region" and len(str(caught.value)) < 300
    assert "x" * 60 + "…" in caught.value.reason
    with pytest.raises(ValidationError) as caught:
        s3_account(endpoint_url="https://" + "h" * 100_000)
    assert caught.value.field == "endpoint_url" and len(str(caught.value)) < 300
    with pytest.raises(ValidationError) as caught:
        s3_account(server="B" * 900 + "/aam", endpoint_url="https://minio.example")
    assert caught.value.field == "server" and len(str(caught.value)) < 400


# --------------------------------------------------------- 6. plain HTTP endpoint


@pytest.fixture
def http_port() -> Iterator[int]:
    """A plain HTTP server (no TLS) on a free local port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_https_to_a_plain_http_port_says_so_in_probe_and_transfers(
    http_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    account = s3_account(endpoint_url=f"https://127.0.0.1:{http_port}")
    creds = Credentials(secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    report = probe(account, creds, None, timeout=5.0)  # type: ignore[arg-type]
    failure = report.first_failure
    assert failure is not None and failure.name == "tls"
    assert "not a TLS (https) service" in failure.hint
    with pytest.raises(ConnectionFailure) as caught:
        open_transport(account, creds, None, 5.0)  # type: ignore[arg-type]
    assert caught.value.hint == failure.hint


# ------------------------------------------------------------ 7. smaller defects


def test_a_secret_file_that_is_not_a_file_says_so(fifo: Path, tmp_path: Path) -> None:
    for path in (fifo, Path("/dev/zero"), tmp_path):
        assert "is not a regular file" in secret_file_problem(Secret("file", str(path)))
    assert "does not exist" in secret_file_problem(Secret("file", str(tmp_path / "none")))
    plain = tmp_path / "secret"
    plain.write_text("x")
    assert secret_file_problem(Secret("file", str(plain))) == ""


def test_config_import_of_a_folder_as_secret_file_says_not_a_regular_file(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    path = tmp_path / "s3.toml"
    path.write_text(
        'name = "s3env"\n[accounts.import]\ntype = "s3"\n'
        'server = "mybucket.s3.amazonaws.com/aam"\naccess_key_id = "AKIAIOSFODNN7EXAMPLE"\n'
        f'secret_access_key = "file:{tmp_path}"\nregion = "eu-west-1"\n'
    )
    result = run_cli("config", "import", str(path))
    assert result.code == 2
    assert "is not a regular file" in result.err and "does not exist" not in result.err


@pytest.mark.skipif(not SYSTEM_BUNDLE.is_file(), reason="no Debian system CA bundle here")
def test_the_system_bundle_loads_without_library_warnings() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        check_ca_bundle(str(SYSTEM_BUNDLE))
    assert [str(w.message) for w in seen if "serial number" in str(w.message)] == []


def test_export_writes_each_account_types_keys_and_round_trips(
    run_cli,  # type: ignore[no-untyped-def]
    db_path: Path,
    tmp_path: Path,
) -> None:
    from storage.db import Store
    from storage.repo import EnvironmentRepo

    inbound = tmp_path / "in"
    inbound.mkdir()
    env = Environment(
        "typed",
        import_account=Account(Role.IMPORT, type=AccountType.LOCAL, path=str(inbound)),
        export_account=Account(
            Role.EXPORT, type=AccountType.SFTP, host="sftp.example.net", user="campaign"
        ),
    )
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with Store(db_path) as store:
        EnvironmentRepo(store).save(env)
    out = tmp_path / "typed.toml"
    assert run_cli("--env", "typed", "config", "export", str(out)).code == 0
    text = out.read_text()
    local, sftp = text.split("[accounts.import]")[1].split("[accounts.export]")
    local_keys = {line.split(" =")[0] for line in local.splitlines() if " = " in line}
    assert local_keys == {"type", "path"}, local
    sftp_keys = {line.split(" =")[0] for line in sftp.split("\n[")[0].splitlines() if " = " in line}
    assert "path" not in sftp_keys and "server" not in sftp_keys and "host" in sftp_keys
    again = run_cli("config", "import", str(out), "--dry-run")
    assert again.code == 0 and "nothing to change" in again.out, again.out + again.err


# ----------------------------------------------------------------- 2, 3. console


async def test_console_s3_form_has_one_secret_key_and_reads_files_only_on_save(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Input

    from tests.test_accounts_screen import open_accounts, services_with
    from tui.app import AudienceApp
    from tui.widgets import account_panel
    from tui.widgets.account_panel import AccountPanel

    reads: list[str] = []
    real = account_panel.check_ca_bundle

    def counted(path: str, field: str = "ca_bundle") -> None:
        reads.append(path)
        real(path, field)

    monkeypatch.setattr(account_panel, "check_ca_bundle", counted)
    notpem = tmp_path / "ca.txt"
    notpem.write_text("not a certificate\n")
    services = services_with(db_path, s3_account())
    app = AudienceApp(services)
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await open_accounts(pilot)
        panel = screen.query_one("#import-panel", AccountPanel)
        boxes = list(panel.query("#import-secret_access_key"))
        assert len(boxes) == 1 and isinstance(boxes[0], Input)
        box = boxes[0]
        rows = [w.id for w in panel.query(Input) if w.display and w.parent.parent.display]  # type: ignore[union-attr]
        assert rows.index("import-secret_access_key") == rows.index("import-access_key_id") + 1
        box.focus()
        await pilot.press(*"typed-secret-key")
        panel.field_input("ca_bundle").value = str(notpem)
        await pilot.pause()
        assert reads == []  # no keystroke read the CA file
        assert screen.action_save() is None  # the bad CA file is found on save
        assert reads and "not a PEM" in panel.collect(check_files=True).errors["ca_bundle"]
        panel.field_input("ca_bundle").value = ""
        await pilot.pause()
        saved = screen.action_save()
        assert saved is not None
    from storage.repo import secret_context

    env = services.repo.get(saved.name)
    assert env is not None
    stored = env.import_account.secret_access_key
    assert stored is not None and stored.kind == "stored"
    context = secret_context(saved.name, "accounts.import", "secret_access_key")
    assert services.repo.box.resolve(stored, context) == "typed-secret-key"
