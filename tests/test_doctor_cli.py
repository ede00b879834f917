"""`audiencectl doctor`: JSON shape, exit codes, the report, and no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.checks import CHECK_IDS
from storage.db import Store
from tests.conftest import CliResult
from tests.dns_server import DnsServer, dns_server_fixture  # noqa: F401 (fixture)
from tests.test_checks import BASE, IV, KEY, ORG, PAGE

SFTP_PASSWORD = "hunter2-sftp-literal-secret"
EXPORT_PASSWORD = "export-pw-from-env-9f8e7d"
PASSPHRASE = "passphrase-literal-77aa"


def _toml(tmp_path: Path, *, key: str = KEY, iv: str = IV, extra: str = "") -> Path:
    imp, exp = tmp_path / "from-aam", tmp_path / "to-aam"
    imp.mkdir(exist_ok=True)
    exp.mkdir(exist_ok=True)
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    text = BASE.format(org=ORG, imp=imp, exp=exp, page=page, key=key, iv=iv) + extra
    path = tmp_path / "env.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _import(run_cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    done: CliResult = run_cli("config", "import", str(path))
    assert done.code == 0, done.err


def test_json_shape_and_exit_code_zero_when_nothing_fails(
    run_cli,
    tmp_path: Path,
    dns_server: DnsServer,  # type: ignore[no-untyped-def]
) -> None:
    _import(run_cli, _toml(tmp_path))
    done = run_cli("doctor", "--json", "--offline")
    data = json.loads(done.out)
    assert set(data) >= {"checks", "summary"}
    assert [c["id"] for c in data["checks"]] == list(CHECK_IDS)
    for check in data["checks"]:
        assert set(check) >= {"id", "status", "title", "detail", "fix"}
        assert check["status"] in ("pass", "warn", "fail", "skip")
    assert set(data["summary"]) == {"pass", "warn", "fail", "skip"}
    assert sum(data["summary"].values()) == len(CHECK_IDS)
    assert data["summary"]["fail"] == 0, [c for c in data["checks"] if c["status"] == "fail"]
    assert done.code == 0
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses["tracking.cname"] == "skip"  # offline


def test_a_failure_exits_one_and_prints_the_fix(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _import(
        run_cli,
        _toml(
            tmp_path,
            extra="\n".join(
                [
                    "",
                    "[[datasources]]",
                    'label = "Second"',
                    'alias = "Adobe Campaign"',
                    "dpid = 1",
                    "destination_id = 2",
                    "priority = 10",
                    'id_type = "visitor"',
                    "",
                ]
            ),
        ),
    )
    done = run_cli("doctor", "--offline")
    assert done.code == 1
    lines = done.out.splitlines()
    at = next(i for i, line in enumerate(lines) if "datasource.priority" in line)
    assert lines[at].startswith("✗ fail")
    # a Visitor ID source under the Declared ID source's alias: ID types mixed
    assert "fix: do not mix ID types under one alias" in "\n".join(lines[at : at + 3])
    assert lines[-1].startswith("summary: 1 fail")


def test_online_dns_check_uses_the_given_nameserver(
    run_cli,
    tmp_path: Path,
    dns_server: DnsServer,  # type: ignore[no-untyped-def]
) -> None:
    _import(run_cli, _toml(tmp_path))
    done = run_cli("doctor", "--json", "--offline")  # a baseline, no DNS
    assert json.loads(done.out)["summary"]["fail"] == 0
    done = run_cli("doctor", "--json", "--nameserver", f"127.0.0.1:{dns_server.port}")
    checks = {c["id"]: c for c in json.loads(done.out)["checks"]}
    assert checks["tracking.cname"]["status"] == "pass", checks["tracking.cname"]


def test_dns_lookups_follow_the_timeout_with_or_without_nameserver(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """``--timeout`` bounds the tracking check's DNS lookups, whatever the resolver."""
    import socket

    from usecases.doctor import dns_settings

    assert dns_settings("", 8.0).timeout == 8.0 and not dns_settings("", 8.0).nameservers
    chosen = dns_settings("127.0.0.1:5353", 0.5)
    assert (chosen.nameservers, chosen.port, chosen.timeout) == (("127.0.0.1",), 5353, 0.5)
    _import(run_cli, _toml(tmp_path))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        done = run_cli("doctor", "--json", "--timeout", "0.5", "--nameserver", f"127.0.0.1:{port}")
    checks = {c["id"]: c for c in json.loads(done.out)["checks"]}
    assert "no DNS answer within 0.5 s" in checks["tracking.cname"]["detail"], checks


def test_bad_store_or_environment_exits_two(run_cli, tmp_path: Path, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("doctor", "--offline")
    assert done.code == 2
    assert f"no store at {db_path}" in done.err
    assert not db_path.exists(), "a command that only reads never creates a store"
    Store(db_path).close()  # an empty store
    done = run_cli("doctor", "--offline")
    assert done.code == 2
    assert f"the store {db_path} holds no environment" in done.err
    _import(run_cli, _toml(tmp_path))
    done = run_cli("--env", "staging", "doctor", "--offline")
    assert done.code == 2
    assert "staging" in done.err and "Traceback" not in done.err
    db_path.write_bytes(b"this is not sqlite at all" * 100)
    done = run_cli("doctor", "--offline")
    assert done.code == 2


def test_results_are_kept_for_the_home_screen(
    run_cli,
    tmp_path: Path,
    db_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    _import(run_cli, _toml(tmp_path))
    run_cli("doctor", "--offline")
    from storage.checks import last_results
    from storage.db import Store

    with Store(db_path) as store:
        assert [r.id for r in last_results(store, "production")] == list(CHECK_IDS)


def test_no_secret_in_json_or_report(
    run_cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("AUDIENCECTL_TEST_EXPORT_PW", EXPORT_PASSWORD)
    monkeypatch.setenv("AUDIENCECTL_TEST_IV", IV)
    path = _toml(tmp_path, iv="env:AUDIENCECTL_TEST_IV")
    text = (
        path.read_text()
        .replace(
            f'type = "local"\npath = "{tmp_path / "from-aam"}"',
            f'type = "sftp"\nhost = "127.0.0.1"\nport = 1\nuser = "campaign"\n'
            f'password = "{SFTP_PASSWORD}"\nprivate_key_passphrase = "{PASSPHRASE}"',
        )
        .replace(
            f'type = "local"\npath = "{tmp_path / "to-aam"}"',
            'type = "sftp"\nhost = "127.0.0.1"\nport = 1\nuser = "campaign-out"\n'
            'password = "env:AUDIENCECTL_TEST_EXPORT_PW"',
        )
    )
    path.write_text(text, encoding="utf-8")
    _import(run_cli, path)
    report = tmp_path / "report.md"
    # online: the probes really try (port 1 is closed), so error paths are covered too
    done = run_cli(
        "doctor", "--json", "--timeout", "2", "--nameserver", "127.0.0.1:1", "--report", str(report)
    )
    assert done.code == 1
    body = report.read_text(encoding="utf-8")
    for secret in (SFTP_PASSWORD, EXPORT_PASSWORD, PASSPHRASE, KEY, IV, KEY.upper()):
        assert secret not in done.out
        assert secret not in done.err
        assert secret not in body
    assert "env:AUDIENCECTL_TEST_EXPORT_PW" in body  # references are shown
    assert "env:AUDIENCECTL_TEST_IV" in body
    assert "••••••" in body
    for heading in ("## Environment", "## Checks", "## Versions"):
        assert heading in body
    for name in ("audiencectl", "python", "paramiko", "cryptography", "textual"):
        assert f"- {name}: " in body
    assert ORG in body and "Generated " in body
    assert body.count("`account.import.reachable`") == 1
    checks = {c["id"]: c for c in json.loads(done.out)["checks"]}
    assert checks["account.import.reachable"]["status"] == "fail"
