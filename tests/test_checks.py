"""Each doctor check, made to pass and made to fail, over real stores (and real sshd)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from core import clock
from core.checks import CHECK_IDS, CheckResult, run_checks, scrub, spec_for
from core.config import parse_environment
from core.diagnose import Diagnosis
from core.model import Environment, RequestStatus
from core.profiles import CsvProfiles
from core.workflow import State
from storage.audiences import SqliteWorkflowStore
from storage.checks import context_for, last_results, save_results
from storage.db import Store
from storage.profiles import load_profiles
from storage.repo import EnvironmentRepo
from storage.samples import save_sample
from tests.dns_server import DnsServer, dns_server_fixture  # noqa: F401 (fixture)
from tests.sshd import HOST, Sshd, SshdWorld

ORG = "5DC5123F5245B1D20A490D46@AdobeOrg"
KEY = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV = "000102030405060708090a0b0c0d0e0f"

BASE = """\
name = "production"

[request]
organization = "Example Corp"
ims_org_id = "{org}"

[accounts.import]
type = "local"
path = "{imp}"

[accounts.export]
type = "local"
path = "{exp}"

[tracking]
server = "t.news.example.com"
website = "https://www.example.com"
website_file = "{page}"

[[datasources]]
label = "Recipient - Email"
alias = "Adobe Campaign"
dpid = 14016
destination_id = 46390
priority = 10
id_type = "declared"
reconciliation_key = "email"
transform = "aes"
aes_key = "{key}"
aes_iv = "{iv}"
channel = "email"
"""

PAGE = f"""<html><script>
var visitor = Visitor.getInstance("{ORG}", {{trackingServer: "t.news.example.com"}});
visitor.setCustomerIDs({{"AdobeCampaignID": {{id: "x", authState: 1}}}});
</script></html>"""

EMAILS_CSV = "id,email,mobile_phone\n" + "".join(
    f"p{i},user{i}@example.com,+3361234567{i}\n" for i in range(10)
)


class World:
    """A store with one environment built from ``BASE`` plus edits."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.imp = tmp_path / "from-aam"
        self.exp = tmp_path / "to-aam"
        self.imp.mkdir()
        self.exp.mkdir()
        self.page = tmp_path / "page.html"
        self.page.write_text(PAGE, encoding="utf-8")
        self.store = Store(tmp_path / "store" / "a.db")
        self.repo = EnvironmentRepo(self.store)

    def toml(self, **values: str) -> str:
        fields = {
            "org": ORG,
            "imp": str(self.imp),
            "exp": str(self.exp),
            "page": str(self.page),
            "key": KEY,
            "iv": IV,
        }
        fields.update(values)
        return BASE.format(**fields)

    def save(self, text: str | None = None, **values: str) -> Environment:
        env = parse_environment(text if text is not None else self.toml(**values))
        self.repo.save(env)
        return self.repo.require(env.name)

    def run(self, env: Environment, check_id: str, **options: object) -> CheckResult:
        ctx = context_for(self.store, env, box=self.repo.box, **options)  # type: ignore[arg-type]
        (result,) = run_checks(ctx, only=[check_id])
        return result

    def load_profiles(self, env: Environment, csv: str, visitors: str | None = None) -> None:
        path = self.tmp / "profiles.csv"
        path.write_text(csv, encoding="utf-8")
        vpath = None
        if visitors is not None:
            vpath = self.tmp / "visitors.csv"
            vpath.write_text(visitors, encoding="utf-8")
        load_profiles(self.store, env.name, CsvProfiles(path, vpath))


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _status(result: CheckResult) -> str:
    return f"{result.status}: {result.detail} / {result.fix}"


# ------------------------------------------------------------------------- request


def test_request_provisioned_passes(world: World) -> None:
    env = world.save()
    world.repo.set_request_status(env, RequestStatus.PROVISIONED)
    result = world.run(env, "request.complete")
    assert result.status == "pass", _status(result)
    assert ORG in result.detail and "provisioned" in result.detail
    assert result.screen == "request"


def test_request_draft_warns_and_missing_org_fails(world: World) -> None:
    env = world.save()
    assert world.run(env, "request.complete").status == "warn"
    env = world.save(world.toml(org="").replace('organization = "Example Corp"', ""))
    result = world.run(env, "request.complete")
    assert result.status == "fail"
    assert "organization" in result.detail and "ims_org_id" in result.detail


# --------------------------------------------------------------- accounts, offline/local


def test_local_accounts_pass_every_account_check(world: World) -> None:
    env = world.save()
    ids = [i for i in CHECK_IDS if i.startswith("account.")]
    ctx = context_for(world.store, env, box=world.repo.box, offline=True)
    results = run_checks(ctx, only=ids)
    assert [r.id for r in results] == ids
    assert all(r.status == "pass" for r in results), [_status(r) for r in results]
    assert "created, renamed and deleted" in results[ids.index("account.export.writable")].detail


def test_missing_local_folder_fails_readable(world: World) -> None:
    env = world.save(imp=str(world.tmp / "nowhere"))
    result = world.run(env, "account.import.readable")
    assert result.status == "fail", _status(result)
    assert "nowhere" in result.detail


def test_unconfigured_account_fails_configured_and_skips_probe(world: World) -> None:
    text = world.toml().replace(f'type = "local"\npath = "{world.exp}"', 'type = "sftp"')
    env = world.save(text)
    result = world.run(env, "account.export.configured")
    assert result.status == "fail"
    assert "host" in result.detail and "user" in result.detail
    assert world.run(env, "account.export.reachable").status == "skip"


def test_unresolvable_password_reference_fails_configured(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIENCECTL_TEST_NO_SUCH_PW", raising=False)
    text = world.toml().replace(
        f'type = "local"\npath = "{world.imp}"',
        'type = "sftp"\nhost = "127.0.0.1"\nuser = "u"\n'
        'password = "env:AUDIENCECTL_TEST_NO_SUCH_PW"',
    )
    env = world.save(text)
    result = world.run(env, "account.import.configured")
    assert result.status == "fail"
    assert "AUDIENCECTL_TEST_NO_SUCH_PW is not set" in result.detail


def test_offline_skips_sftp_probes(world: World) -> None:
    text = world.toml().replace(
        f'type = "local"\npath = "{world.imp}"',
        'type = "sftp"\nhost = "127.0.0.1"\nport = 1\nuser = "u"\npassword = "pw-secret-1"',
    )
    env = world.save(text)
    for check_id in ("account.import.reachable", "account.import.readable"):
        result = world.run(env, check_id, offline=True)
        assert result.status == "skip"
        assert "offline" in result.detail


# ------------------------------------------------------------------ accounts over sshd


def _sftp_toml(
    world: World, sshd: Sshd, sw: SshdWorld, imp_dir: str, exp_dir: str, pin: str
) -> str:
    def block(folder: str) -> str:
        return (
            f'type = "sftp"\nhost = "{HOST}"\nport = {sshd.port}\nuser = "{sw.password_user}"\n'
            f'password = "{sw.password}"\nremote_dir = "{folder}"\nhost_key = "{pin}"'
        )

    text = world.toml()
    text = text.replace(f'type = "local"\npath = "{world.imp}"', block(imp_dir))
    return text.replace(f'type = "local"\npath = "{world.exp}"', block(exp_dir))


@pytest.mark.sshd
def test_sftp_accounts_pass_with_one_probe_each(
    world: World, sshd: Sshd, sshd_world: SshdWorld, chroot_dir: Callable[..., str]
) -> None:
    outbox = chroot_dir()
    env = world.save(
        _sftp_toml(world, sshd, sshd_world, "/inbox", outbox, sshd.host_key_fingerprint)
    )
    ctx = context_for(world.store, env, box=world.repo.box, probe_timeout=5)
    ids = [i for i in CHECK_IDS if i.startswith("account.") and i != "account.direction"]
    results = {r.id: r for r in run_checks(ctx, only=ids)}
    for check_id in ids:
        assert results[check_id].status == "pass", _status(results[check_id])
    assert sshd.host_key_fingerprint in results["account.import.reachable"].detail
    # one probe per account, kept in the store for the accounts screen
    rows = world.store.conn.execute(
        "SELECT role, count(*) FROM probe_runs WHERE env = ? GROUP BY role", (env.name,)
    ).fetchall()
    assert dict(rows) == {"import": 1, "export": 1}
    assert sshd_world.password not in json.dumps([r.to_json() for r in results.values()])


@pytest.mark.sshd
def test_unknown_host_key_fails_reachable_with_trust_fix(
    world: World, sshd: Sshd, sshd_world: SshdWorld
) -> None:
    env = world.save(_sftp_toml(world, sshd, sshd_world, "/inbox", "/outbox", ""))
    result = world.run(env, "account.import.reachable", probe_timeout=5)
    assert result.status == "fail", _status(result)
    assert "unknown host key" in result.detail
    assert "audiencectl probe --trust-new-host-key" in result.fix
    readable = world.run(env, "account.import.readable", probe_timeout=5)
    assert readable.status == "skip"
    assert "hostkey failed" in readable.detail


@pytest.mark.sshd
def test_unreadable_and_read_only_folders_fail(
    world: World, sshd: Sshd, sshd_world: SshdWorld
) -> None:
    env = world.save(
        _sftp_toml(world, sshd, sshd_world, "/locked", "/readonly", sshd.host_key_fingerprint)
    )
    ctx = context_for(world.store, env, box=world.repo.box, probe_timeout=5)
    results = {
        r.id: r
        for r in run_checks(
            ctx,
            only=[
                "account.import.reachable",
                "account.import.readable",
                "account.export.reachable",
                "account.export.writable",
            ],
        )
    }
    assert results["account.import.reachable"].status == "pass"
    assert results["account.import.readable"].status == "fail"
    assert results["account.export.reachable"].status == "pass"
    assert results["account.export.writable"].status == "fail"
    assert results["account.export.writable"].fix


# ------------------------------------------------------------------------ direction


def test_direction_passes_and_identical_accounts_fail(world: World) -> None:
    env = world.save()
    assert world.run(env, "account.direction").status == "pass"
    env = world.save(exp=str(world.imp))
    result = world.run(env, "account.direction")
    assert result.status == "fail"
    assert "same place" in result.detail


# ---------------------------------------------------------------------- data sources


def test_datasource_configured_pass_and_missing_destination_fails(world: World) -> None:
    env = world.save()
    result = world.run(env, "datasource.configured")
    assert result.status == "pass"
    assert "DPID 14016" in result.detail and "destination 46390" in result.detail
    env = world.save(world.toml().replace("destination_id = 46390\n", ""))
    result = world.run(env, "datasource.configured")
    assert result.status == "fail"
    assert "destination_id" in result.detail
    env = world.save(world.toml().replace("destination_id = 46390\n", "triggers_only = true\n"))
    assert world.run(env, "datasource.configured").status == "pass"


SECOND_DS = """
[[datasources]]
label = "Recipient - Visitor ID"
alias = "Adobe Campaign"
dpid = 14016
destination_id = 46391
priority = {priority}
id_type = "visitor"
"""


SECOND_DECLARED = """
[[datasources]]
label = "Recipient - CRM ID"
alias = "Adobe Campaign"
dpid = 14016
destination_id = 46391
priority = {priority}
id_type = "declared"
reconciliation_key = "id"
transform = "sha256"
channel = "other"
"""


def test_priority_distinct_passes_and_duplicate_warns(world: World) -> None:
    env = world.save(world.toml() + SECOND_DECLARED.format(priority=5))
    result = world.run(env, "datasource.priority")
    assert result.status == "pass", _status(result)
    assert "Recipient - Email (10), Recipient - CRM ID (5)" in result.detail
    env = world.save(world.toml() + SECOND_DECLARED.format(priority=10))
    result = world.run(env, "datasource.priority")
    assert result.status == "warn", _status(result)
    assert "priority 10" in result.detail
    assert "'Recipient - Email'" in result.detail and "'Recipient - CRM ID'" in result.detail


def test_reconciliation_key_filled_passes(world: World) -> None:
    env = world.save()
    world.load_profiles(env, EMAILS_CSV)
    result = world.run(env, "datasource.reconciliation_key")
    assert result.status == "pass", _status(result)
    assert "empty for 0 of 10" in result.detail


def test_reconciliation_key_missing_column_or_mostly_empty_fails(world: World) -> None:
    env = world.save(
        world.toml().replace('reconciliation_key = "email"', 'reconciliation_key = "e_mail"')
    )
    world.load_profiles(env, EMAILS_CSV)
    result = world.run(env, "datasource.reconciliation_key")
    assert result.status == "fail"
    assert "'e_mail' is not in the profiles" in result.detail
    env = world.save()
    world.load_profiles(
        env,
        "id,email\n"
        + "".join(f"p{i},\n" for i in range(8))
        + "p8,a@example.com\np9,b@example.com\n",
    )
    result = world.run(env, "datasource.reconciliation_key")
    assert result.status == "fail"
    assert "empty for 8 of 10" in result.detail


def test_visitor_data_source_needs_the_visitor_map(world: World) -> None:
    env = world.save(world.toml() + SECOND_DS.format(priority=5))
    world.load_profiles(env, EMAILS_CSV)
    result = world.run(env, "datasource.reconciliation_key")
    assert result.status == "fail"
    assert "visitor map is not loaded" in result.detail
    ecid = "08382830887934830189014177072406221371"
    world.load_profiles(env, EMAILS_CSV, f"profile_id,visitor_id\np1,{ecid}\n")
    result = world.run(env, "datasource.reconciliation_key")
    assert result.status == "pass", _status(result)
    assert "1 links" in result.detail


def test_encryption_valid_passes_without_showing_key(world: World) -> None:
    env = world.save()
    result = world.run(env, "datasource.encryption")
    assert result.status == "pass", _status(result)
    assert "AES-256-CBC" in result.detail
    assert KEY not in result.detail and IV not in result.detail


def test_encryption_bad_key_size_or_missing_reference_fails(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIENCECTL_TEST_AES_KEY", KEY[:30])  # 15 bytes
    env = world.save(key="env:AUDIENCECTL_TEST_AES_KEY")
    result = world.run(env, "datasource.encryption")
    assert result.status == "fail"
    assert "aes_key" in result.detail
    assert KEY[:30] not in result.detail + result.fix
    monkeypatch.delenv("AUDIENCECTL_TEST_AES_KEY")
    result = world.run(env, "datasource.encryption")
    assert result.status == "fail"
    assert "AUDIENCECTL_TEST_AES_KEY is not set" in result.detail


def test_channel_fits_passes_and_phone_column_fails(world: World) -> None:
    env = world.save()
    world.load_profiles(env, EMAILS_CSV)
    result = world.run(env, "datasource.channel")
    assert result.status == "pass", _status(result)
    assert "10 of 10" in result.detail
    env = world.save(
        world.toml().replace('reconciliation_key = "email"', 'reconciliation_key = "mobile_phone"')
    )
    result = world.run(env, "datasource.channel")
    assert result.status == "fail"
    assert "0 of 10" in result.detail


def test_website_sample_none_skips_ok_passes_differs_fails(world: World) -> None:
    env = world.save()
    result = world.run(env, "datasource.website_sample")
    assert result.status == "skip"
    assert "crypto diagnose" in result.fix
    save_sample(
        world.store,
        env,
        "Recipient - Email",
        "alice@example.com",
        "acbb",
        Diagnosis(True, "ok", "the sample decrypts to the clear value"),
    )
    assert world.run(env, "datasource.website_sample").status == "pass"
    save_sample(
        world.store,
        env,
        "Recipient - Email",
        "alice@example.com",
        "acbb",
        Diagnosis(False, "wrong_iv", "only the first block differs: the IV"),
    )
    result = world.run(env, "datasource.website_sample")
    assert result.status == "fail"
    assert "wrong_iv" in result.detail and "IV" in result.fix


# --------------------------------------------------------------------- workflow, data


def _insert_run(
    world: World,
    env: Environment,
    records: int,
    reconciled: int,
    outcomes: dict[str, int],
    ago: timedelta = timedelta(minutes=10),
) -> None:
    started = clock.iso(clock.now() - ago)
    with world.store.transaction() as conn:
        conn.execute(
            "INSERT INTO import_runs (env, started_at, finished_at, status, records, reconciled,"
            " duplicates, outcomes) VALUES (?, ?, ?, 'ok', ?, ?, 0, ?)",
            (env.name, started, started, records, reconciled, json.dumps(outcomes)),
        )


def test_workflow_running_with_recent_run_passes(world: World) -> None:
    env = world.save()
    SqliteWorkflowStore(world.store).set_state(env.name, State.RUNNING)
    _insert_run(world, env, 10, 10, {})
    result = world.run(env, "workflow.import")
    assert result.status == "pass", _status(result)
    assert "14:00 UTC" in result.detail and "60 h" in result.detail


def test_workflow_paused_fails_idle_and_overdue_warn(world: World) -> None:
    env = world.save()
    assert world.run(env, "workflow.import").status == "warn"  # idle
    workflow = SqliteWorkflowStore(world.store)
    workflow.set_state(env.name, State.FAILED, "import account: auth failed")
    result = world.run(env, "workflow.import")
    assert result.status == "fail"
    assert "auth failed" in result.detail and "import resume" in result.fix
    workflow.set_state(env.name, State.PAUSED)
    assert world.run(env, "workflow.import").status == "fail"
    clock.freeze(clock.now() - timedelta(hours=5))
    try:
        workflow.set_state(env.name, State.RUNNING)
    finally:
        clock.freeze(None)
    result = world.run(env, "workflow.import")
    assert result.status == "warn"
    assert "no run within twice" in result.detail


def test_unreconciled_high_rate_passes_low_rate_fails(world: World) -> None:
    env = world.save()
    assert world.run(env, "data.unreconciled").status == "skip"
    _insert_run(world, env, 100, 95, {"not_found": 5})
    result = world.run(env, "data.unreconciled")
    assert result.status == "pass", _status(result)
    assert "95.0%" in result.detail
    _insert_run(
        world,
        env,
        100,
        20,
        {"bad_padding": 60, "not_found": 15, "not_utf8": 3, "malformed_line": 2},
    )
    result = world.run(env, "data.unreconciled")
    assert result.status == "fail"
    assert "20.0%" in result.detail
    assert "bad_padding 60" in result.detail and "not_found 15" in result.detail
    assert "malformed_line" not in result.detail  # only the top 3
    assert "crypto diagnose" in result.fix


def test_unreconciled_middle_rate_warns(world: World) -> None:
    env = world.save()
    _insert_run(world, env, 100, 70, {"not_found": 30})
    assert world.run(env, "data.unreconciled").status == "warn"


# ---------------------------------------------------------------- tracking (real DNS)


def test_tracking_cname_passes_against_local_dns(world: World, dns_server: DnsServer) -> None:
    env = world.save()
    result = world.run(env, "tracking.cname", dns=dns_server.settings)
    assert result.status == "pass", _status(result)
    assert "CNAME" in result.detail


def test_tracking_nxdomain_fails_and_offline_skips(world: World, dns_server: DnsServer) -> None:
    env = world.save(world.toml().replace("t.news.example.com", "t.gone.example.com"))
    result = world.run(env, "tracking.cname", dns=dns_server.settings)
    assert result.status == "fail"
    assert "NXDOMAIN" in result.detail
    assert world.run(env, "tracking.cname", offline=True).status == "skip"


# ----------------------------------------------------------------------- robustness


class _Exploding:
    def __getattr__(self, name: str) -> object:
        raise RuntimeError(f"store went away while reading {name}\nsecond line")


def test_a_check_that_raises_becomes_a_fail(world: World) -> None:
    env = world.save()
    ctx = context_for(world.store, env, box=world.repo.box, offline=True)
    ctx.facts = _Exploding()  # type: ignore[assignment]
    result = run_checks(ctx, only=["request.complete"])[0]
    assert result.status == "fail"
    assert result.detail == (
        "the check itself failed: RuntimeError: store went away while reading request_status"
    )


def test_every_check_runs_in_order_offline(world: World) -> None:
    env = world.save()
    ctx = context_for(world.store, env, box=world.repo.box, offline=True)
    seen: list[str] = []
    results = run_checks(ctx, on_result=lambda r: seen.append(r.id))
    assert [r.id for r in results] == list(CHECK_IDS) == seen
    assert {r.status for r in results} <= {"pass", "warn", "fail", "skip"}
    assert all(r.at is not None for r in results)


def test_cancel_stops_the_run(world: World) -> None:
    env = world.save()
    ctx = context_for(world.store, env, box=world.repo.box, offline=True)
    results = run_checks(ctx, cancelled=lambda: True)
    assert results == []


def test_scrub_masks_secret_values() -> None:
    result = CheckResult("x", "fail", "t", "the key abcd1234 leaked", "abcd1234!")
    cleaned = scrub(result, ["abcd1234"])
    assert "abcd1234" not in cleaned.detail + cleaned.fix


def test_results_round_trip_through_the_store(world: World, frozen_clock: object) -> None:
    env = world.save()
    ctx = context_for(world.store, env, box=world.repo.box, offline=True)
    results = run_checks(ctx)
    save_results(world.store, env.name, results)
    again = last_results(world.store, env.name)
    assert again == results
    one = replace(results[0], status="pass", detail="re-run")
    save_results(world.store, env.name, [one], replace_all=False)
    stored = last_results(world.store, env.name)
    assert len(stored) == len(CHECK_IDS)
    assert stored[0].detail == "re-run"
    assert spec_for("tracking.cname").screen == "checklist"
