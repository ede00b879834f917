"""Issue 15's checklist rules, each made to pass and made to fail over real stores.

Reserved names (RFC 2606/6761), the service and priority findings, the direction
by evidence and the manual checks. The ``World`` of tests/test_checks.py builds
the environments.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from core.checks import run_checks
from core.direction import direction_findings
from core.dnscheck import reserved_name
from core.errors import InputError
from core.model import Environment, Role
from storage.checks import context_for, last_results
from tests.dns_server import DnsServer, dns_server_fixture  # noqa: F401 (fixture)
from tests.s3server import S3Server
from tests.sshd import Sshd, SshdWorld
from tests.test_checks import World, _sftp_toml, _status
from usecases.checklist import confirm_check, unconfirm_check
from usecases.services import Services


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


# ----------------------------------------------------------------- reserved names


@pytest.mark.parametrize(
    ("host", "reserved"),
    [
        ("t.news.demo-retail.example", ".example"),
        ("www.shop.test.", ".test"),
        ("T.NEWS.BROKEN.INVALID", ".invalid"),
        ("localhost", "localhost"),
        ("app.localhost", "localhost"),
        ("t.news.example.com", ""),  # example.com is a real, resolvable domain
        ("www.shop.co.in", ""),
        ("test.example.org", ""),
        ("", ""),
    ],
)
def test_reserved_name(host: str, reserved: str) -> None:
    assert reserved_name(host) == reserved


def test_reserved_tracking_server_skips_without_asking_dns(
    world: World, dns_server: DnsServer
) -> None:
    env = world.save(world.toml().replace("t.news.example.com", "t.news.demo-retail.example"))
    before = list(dns_server.queries)
    result = world.run(env, "tracking.cname", dns=dns_server.settings)
    assert result.status == "skip", _status(result)
    assert ".example" in result.detail and "cannot be delegated" in result.detail
    assert dns_server.queries == before, "a reserved name must not be looked up"


def test_ordinary_tracking_server_is_still_asked_and_fails(
    world: World, dns_server: DnsServer
) -> None:
    env = world.save(world.toml().replace("t.news.example.com", "t.gone.example.com"))
    result = world.run(env, "tracking.cname", dns=dns_server.settings)
    assert result.status == "fail", _status(result)
    assert any("t.gone.example.com" in q for q in dns_server.queries)


def test_reserved_website_reads_the_saved_page_and_never_fetches(world: World) -> None:
    env = world.save(world.toml().replace("https://www.example.com", "https://www.shop.test"))

    ctx = context_for(world.store, env, box=world.repo.box)

    def no_fetch(url: str, timeout: float) -> str:
        raise AssertionError(f"fetched {url}")

    ctx.fetch = no_fetch
    (result,) = run_checks(ctx, only=["website.visitor_id"])
    assert result.status == "pass", _status(result)
    assert "saved page" in result.detail and "not fetched" in result.detail


def test_reserved_website_without_saved_page_skips_and_ordinary_one_is_fetched(
    world: World,
) -> None:

    text = world.toml().replace("https://www.example.com", "http://localhost:8080/")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("website_file"))
    env = world.save(text)
    fetched: list[str] = []

    def fetch(url: str, timeout: float) -> str:
        fetched.append(url)
        return "<html></html>"

    ctx = context_for(world.store, env, box=world.repo.box)
    ctx.fetch = fetch
    (result,) = run_checks(ctx, only=["website.visitor_id"])
    assert result.status == "skip", _status(result)
    assert "localhost" in result.detail and fetched == []

    env = world.save(text.replace("http://localhost:8080/", "https://www.example.com"))
    ctx = context_for(world.store, env, box=world.repo.box)
    ctx.fetch = fetch
    (result,) = run_checks(ctx, only=["website.visitor_id"])
    assert fetched == ["https://www.example.com"]
    assert result.status == "fail", _status(result)


def test_online_demo_checklist_shows_only_its_planted_findings(
    tmp_path: Path, frozen_clock: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run online, the demo's reserved names are neither looked up nor fetched."""
    from tests.test_demo import FINDINGS, installed

    services, _ = installed(tmp_path / "demo")
    try:

        def no_network(*args: object, **kwargs: object) -> None:
            raise AssertionError("the demo's checklist must not touch the network")

        monkeypatch.setattr(socket, "create_connection", no_network)
        monkeypatch.setattr(socket.socket, "connect", no_network)
        monkeypatch.setattr(socket, "getaddrinfo", no_network)
        results = run_checks(context_for(services.store, services.env(), box=services.box))
    finally:
        services.close()
    found = {r.id: r.status for r in results if r.status in ("warn", "fail")}
    assert found == FINDINGS, [(r.id, r.detail) for r in results if r.id in found]
    by_id = {r.id: r for r in results}
    assert by_id["tracking.cname"].status == "skip"
    assert by_id["website.visitor_id"].status == "pass"


# ------------------------------------------------------------ service and priority

VISITOR_DS = """
[[datasources]]
label = "Recipient - Visitor ID"
alias = "{alias}"
dpid = 14016
destination_id = 46391
priority = {priority}
id_type = "visitor"
"""


def test_aes_with_people_core_service_fails_with_adobes_fix(world: World) -> None:
    env = world.save(
        world.toml().replace('ims_org_id = "', 'service = "Adobe Audience Manager"\nims_org_id = "')
    )
    result = world.run(env, "datasource.encryption")
    assert result.status == "pass", _status(result)
    env = world.save(
        world.toml().replace('ims_org_id = "', 'service = "People core service"\nims_org_id = "')
    )
    result = world.run(env, "datasource.encryption")
    assert result.status == "fail", _status(result)
    assert "People core service" in result.detail and "'Recipient - Email'" in result.detail
    assert "Adobe Audience Manager is required for encrypted declared IDs" in result.fix


def test_hashed_source_with_people_core_service_passes(world: World) -> None:
    text = world.toml().replace('ims_org_id = "', 'service = "People core service"\nims_org_id = "')
    text = text.replace('transform = "aes"', 'transform = "sha256"')
    text = "\n".join(line for line in text.splitlines() if not line.startswith("aes_"))
    env = world.save(text)
    result = world.run(env, "datasource.encryption")
    assert result.status == "skip", _status(result)  # nothing encrypts: nothing to require


def test_id_types_mixed_under_one_alias_fail(world: World) -> None:
    env = world.save(world.toml() + VISITOR_DS.format(alias="Adobe Campaign", priority=5))
    result = world.run(env, "datasource.priority")
    assert result.status == "fail", _status(result)
    assert "mixes ID types" in result.detail
    assert "'Recipient - Visitor ID' (Visitor ID" in result.detail
    assert "'Recipient - Email' (Declared ID email aes" in result.detail
    assert "do not mix ID types" in result.fix


def test_visitor_and_declared_under_their_own_aliases_pass(world: World) -> None:
    env = world.save(world.toml() + VISITOR_DS.format(alias="Adobe Campaign Visitor", priority=10))
    result = world.run(env, "datasource.priority")
    assert result.status == "pass", _status(result)
    assert "one ID type per alias" in result.detail


# ---------------------------------------------------------------- direction by files


def _local_pair(world: World, imp: str, exp: str) -> tuple[Path, Path]:
    a, b = world.tmp / imp, world.tmp / exp
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    return a, b


def test_import_on_in_holding_aam_files_passes(world: World) -> None:
    imp, exp = _local_pair(world, "sftp/in", "sftp/out")
    (imp / "ftp_12345_67890_full_1500727351632-1.sync.gz").write_bytes(b"")
    (imp / "ftp_12345_67890_full_1500727351632.info").write_text("{}")
    env = world.save(imp=str(imp), exp=str(exp))
    result = world.run(env, "account.direction", offline=True)
    assert result.status == "pass", _status(result)
    assert "the files in the folders agree" in result.detail
    assert "ftp_12345_67890_full_1500727351632-1.sync.gz" in result.detail


def test_campaign_exports_in_the_import_folder_fail_naming_them(world: World) -> None:
    imp, exp = _local_pair(world, "aam/one", "aam/two")
    (imp / "ftp_dpm_14016_1700000000.sync").write_bytes(b"")
    (imp / "date=2026-11-02").mkdir()
    env = world.save(imp=str(imp), exp=str(exp))
    result = world.run(env, "account.direction", offline=True)
    assert result.status == "fail", _status(result)
    assert "ftp_dpm_14016_1700000000.sync" in result.detail
    assert "date=2026-11-02/" in result.detail
    assert "importSharedAudience" in result.fix


def test_folder_words_alone_pass_with_a_note(world: World) -> None:
    imp, exp = _local_pair(world, "x/inbound", "x/outbound")
    env = world.save(imp=str(imp), exp=str(exp))
    result = world.run(env, "account.direction", offline=True)
    assert result.status == "pass", _status(result)
    assert "note:" in result.detail


# -------------------------------------------------------------------- manual checks


def _services(world: World, env_name: str) -> Services:
    return Services(db_path=world.store.path, env_name=env_name)


def test_manual_checks_skip_until_confirmed_then_pass_with_who_when_note(
    world: World, frozen_clock: object
) -> None:
    env = world.save()
    result = world.run(env, "aam.merge_rule")
    assert (result.status, result.manual) == ("skip", True)
    assert "not confirmed yet" in result.detail and "Profile Merge Rules" in result.detail
    assert "DPID 14016" in result.detail and "checklist confirm aam.merge_rule" in result.fix
    services = _services(world, env.name)
    try:
        confirmed = confirm_check(services, "aam.merge_rule", "  rule  LAP\n incl 14016 ", "ana")
    finally:
        services.close()
    assert confirmed.status == "pass", confirmed.detail
    assert (
        "confirmed by ana at 2026-" in confirmed.detail
        and ": rule LAP incl 14016" in confirmed.detail
    )
    stored = {r.id: r for r in last_results(world.store, env.name)}
    assert stored["aam.merge_rule"].status == "pass" and stored["aam.merge_rule"].manual
    assert world.run(env, "aam.merge_rule").status == "pass"


def test_a_confirmation_lapses_when_its_configuration_changes(world: World) -> None:
    env = world.save()
    services = _services(world, env.name)
    try:
        confirm_check(services, "aam.merge_rule", "", "ana")
        confirm_check(services, "campaign.workflow_started", "started", "ana")
    finally:
        services.close()
    # the DPID the merge rule concerns changes; the workflow's import account does not
    env = world.save(world.toml().replace("dpid = 14016", "dpid = 14099"))
    lapsed = world.run(env, "aam.merge_rule")
    assert lapsed.status == "skip", _status(lapsed)
    assert "confirmed by ana" in lapsed.detail and "lapsed" in lapsed.detail
    assert world.run(env, "campaign.workflow_started").status == "pass"
    # a label edit is not what the merge rule concerns: it would not lapse
    env = world.save(
        world.toml()
        .replace("dpid = 14016", "dpid = 14099")
        .replace('label = "Recipient - Email"', 'label = "Recipient - E-mail"')
    )
    assert world.run(env, "campaign.workflow_started").status == "pass"


def test_unconfirm_returns_to_skip_and_other_checks_are_not_manual(world: World) -> None:
    env = world.save()
    services = _services(world, env.name)
    try:
        confirm_check(services, "campaign.permissions", "", "ana")
        removed, result = unconfirm_check(services, "campaign.permissions")
        assert removed and result.status == "skip"
        removed, _ = unconfirm_check(services, "campaign.permissions")
        assert not removed
        with pytest.raises(InputError) as info:
            confirm_check(services, "workflow.import")
        assert "not a manual check" in info.value.message
        assert "campaign.workflow_started" in (info.value.hint or "")
        with pytest.raises(InputError):
            confirm_check(services, "aam.merge_rule", "x" * 501)
    finally:
        services.close()
    assert world.run(env, "workflow.import").manual is False
    assert world.run(env, "workflow.import").to_json()["manual"] is False


def test_manual_check_without_declared_sources_skips_as_not_applicable(world: World) -> None:
    text = world.toml().replace('id_type = "declared"', 'id_type = "visitor"')
    text = "\n".join(
        line
        for line in text.splitlines()
        if not line.startswith(("reconciliation_key", "transform", "aes_", "channel"))
    )
    env = world.save(text)
    result = world.run(env, "aam.merge_rule")
    assert result.status == "skip" and "nothing to confirm" in result.detail


def test_checklist_confirm_cli(run_cli, sample_toml: Path, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("config", "import", str(sample_toml)).code == 0
    done = run_cli("checklist", "confirm", "campaign.workflow_started", "--note", "started")
    assert done.code == 0, done.err
    assert done.out.startswith("campaign.workflow_started: pass: confirmed by ")
    doctor = json.loads(run_cli("doctor", "--offline", "--json").out)
    by_id = {c["id"]: c for c in doctor["checks"]}
    assert by_id["campaign.workflow_started"]["status"] == "pass"
    assert by_id["campaign.workflow_started"]["manual"] is True
    assert by_id["aam.merge_rule"] == {**by_id["aam.merge_rule"], "status": "skip", "manual": True}
    assert by_id["workflow.import"]["manual"] is False
    before = sqlite3.connect(db_path).execute("SELECT * FROM manual_confirmations").fetchall()
    bad = run_cli("checklist", "confirm", "tracking.cname")
    assert bad.code == 2 and "not a manual check" in bad.err and len(bad.err.splitlines()) == 1
    after = sqlite3.connect(db_path).execute("SELECT * FROM manual_confirmations").fetchall()
    assert before == after
    gone = run_cli("checklist", "unconfirm", "campaign.workflow_started")
    assert gone.code == 0 and "campaign.workflow_started: skip" in gone.out


@pytest.mark.sshd
def test_direction_over_sftp_reads_the_listed_files(
    world: World, sshd: Sshd, sshd_world: SshdWorld, chroot_dir: Callable[..., str]
) -> None:
    """Online, the import folder's listing (real sshd) is the evidence: Campaign's exports
    and a date= folder in the import folder fail, naming them; AAM's files pass."""
    wrong, right, outbox = chroot_dir(), chroot_dir(), chroot_dir()
    local = sshd_world.disk(wrong)
    (local / "ftp_dpm_14016_1700000000.sync").write_bytes(b"")
    (local / "date=2026-11-02").mkdir()
    (sshd_world.disk(right) / "ftp_46390_14016_iter_1449756724.sync").write_bytes(b"")
    pin = sshd.host_key_fingerprint
    env = world.save(_sftp_toml(world, sshd, sshd_world, wrong, outbox, pin))
    result = world.run(env, "account.direction", probe_timeout=5)
    assert result.status == "fail", _status(result)
    assert "ftp_dpm_14016_1700000000.sync" in result.detail and "date=2026-11-02/" in result.detail
    env = world.save(_sftp_toml(world, sshd, sshd_world, right, outbox, pin))
    result = world.run(env, "account.direction", probe_timeout=5)
    assert result.status == "pass", _status(result)
    assert "ftp_46390_14016_iter_1449756724.sync" in result.detail
    offline = world.run(env, "account.direction", offline=True)
    assert offline.status == "pass" and "files in the folders agree" not in offline.detail


def test_s3_probe_keeps_the_listed_names_as_direction_evidence(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """On S3 the folder is the prefix: its objects and its sub-prefixes (``date=``) are
    what the probe saw; Campaign's exports under the import prefix fail."""
    from tests.test_s3 import folder, run_probe, s3_account

    box = folder(s3_server, s3_bucket)
    (box / "ftp_dpm_14016_1700000000.sync").write_bytes(b"x\n")
    (box / "date=2026-12-06").mkdir()
    account = s3_account(s3_server, s3_bucket)
    report = run_probe(account, s3_server.secret_key)
    assert report.ok, [s.to_json() for s in report.stages]
    assert set(report.seen) >= {"ftp_dpm_14016_1700000000.sync", "date=2026-12-06/"}
    env = Environment("prod", import_account=account)
    findings = direction_findings(env, {Role.IMPORT: report.seen})
    assert [(f.code, f.level) for f in findings] == [("wrong_files", "fail")]
    assert "s3://" in findings[0].message and "date=2026-12-06/" in findings[0].message
