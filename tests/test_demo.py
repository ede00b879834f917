"""`audiencectl demo` builds a working, offline workspace with things to discover and fix."""

from __future__ import annotations

import csv
import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from core.checks import CHECK_IDS, run_checks
from core.cipher import parse_key
from core.demo import (
    DEMO_MARKER,
    DEMO_SMS_IV_HEX,
    DEMO_SMS_KEY_HEX,
    PHONE_STYLES,
    SLIP_FIXED_PRIORITY,
    SLIP_LABEL,
    DemoFolderError,
    DemoWorkspace,
    build_demo,
    deliver_next,
    next_batch_name,
)
from core.formats import classify_names
from core.model import Transform
from core.normalize import normalize_phone
from core.workflow import State, resume
from storage.audiences import SqliteWorkflowStore
from storage.checks import context_for, last_results
from storage.settings import first_run_tips_wanted
from tests.external import needs_openssl, openssl
from tui.commands.demo import install_demo
from usecases.importwf import run_import_pass
from usecases.services import Services

FINDINGS = {"datasource.priority": "warn", "workflow.import": "fail"}


def installed(root: Path) -> tuple[Services, DemoWorkspace]:
    """The demo built and installed as `audiencectl demo` does it (store left open)."""
    workspace = build_demo(root)
    services = Services(db_path=workspace.db_path, env_name="demo")
    install_demo(services, workspace)
    return services, workspace


@pytest.fixture
def demo(tmp_path: Path, frozen_clock):  # type: ignore[no-untyped-def]
    services, workspace = installed(tmp_path / "demo")
    yield services, workspace
    services.close()


def findings(services: Services) -> dict[str, str]:
    env = services.env()
    results = run_checks(context_for(services.store, env, box=services.box, offline=True))
    return {r.id: r.status for r in results if r.status in ("warn", "fail")}


def test_demo_builds_without_network(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    folder = tmp_path / "demo"
    result = run_cli("demo", "--dir", str(folder), "--no-tui")
    assert result.code == 0, result.err
    store = folder / "audiencectl.db"
    assert store.exists()
    assert "next steps:" in result.out
    assert f"audiencectl --db {store} doctor --offline" in result.out
    assert f"dry-run --profiles {folder / 'profiles.csv'}" in result.out
    assert "2 finding(s) to fix" in result.out
    status = run_cli("--db", str(store), "request", "status", "--json")
    assert json.loads(status.out)["status"] == "provisioned"
    exported = run_cli("--db", str(store), "config", "export")
    assert "603deb1015" not in exported.out  # the demo's AES keys stay sealed
    assert DEMO_SMS_KEY_HEX not in exported.out
    assert 'aes_key = "<stored>"' in exported.out
    doctor = run_cli("--db", str(store), "doctor", "--offline", "--json")
    assert doctor.code == 1  # the findings to fix are failures
    checks = json.loads(doctor.out)["checks"]
    assert {c["id"]: c["status"] for c in checks if c["status"] in ("warn", "fail")} == FINDINGS


def test_demo_is_deterministic_and_rerunnable(tmp_path: Path) -> None:
    first = build_demo(tmp_path / "a")
    second = build_demo(tmp_path / "b")
    deliver_next(first)
    deliver_next(second)
    names_a = sorted(p.name for p in first.inbox.iterdir())
    names_b = sorted(p.name for p in second.inbox.iterdir())
    assert names_a == names_b and next_batch_name() in names_a
    for name in names_a:
        assert (first.inbox / name).read_bytes() == (second.inbox / name).read_bytes()
    again = build_demo(tmp_path / "a")  # the next batch is gone: the first delivery again
    assert sorted(p.name for p in again.inbox.iterdir()) == sorted(
        n for n in names_a if n != next_batch_name()
    )


def test_demo_files_are_complete_aam_batches(tmp_path: Path) -> None:
    workspace = build_demo(tmp_path)
    batches, ignored = classify_names(p.name for p in workspace.inbox.iterdir())
    assert not [i for i in ignored if not i.name.endswith(".info")]
    assert {b.destination_id for b in batches} == {46390, 46391, 46392, 46393}
    split = next(b for b in batches if b.destination_id == 46391)
    assert len(split.parts) == 2 and split.manifest_name


def test_the_data_sources_cover_every_kind(tmp_path: Path) -> None:
    env = build_demo(tmp_path).env
    kinds = {(ds.id_type.value, ds.transform.value, ds.channel.value) for ds in env.datasources}
    assert kinds == {
        ("declared", "aes", "email"),
        ("visitor", "none", "other"),
        ("declared", "aes", "sms"),
        ("declared", "sha256", "other"),
    }
    sms = next(ds for ds in env.datasources if ds.channel.value == "sms")
    assert sms.aes_key is not None and len(parse_key(sms.aes_key.ref)) == 24  # AES-192


# ------------------------------------------------------------------- the AES SMS file


def _profile_phones(workspace: DemoWorkspace) -> set[str]:
    with workspace.profiles_csv.open(newline="", encoding="utf-8") as fh:
        return {str(normalize_phone(row["mobile_phone"])) for row in csv.DictReader(fh)}


@needs_openssl
def test_the_sms_file_decrypts_with_openssl_to_numbers_that_normalize_to_profiles(
    tmp_path: Path,
) -> None:
    workspace = build_demo(tmp_path)
    sms = next(workspace.inbox.glob("ftp_46392_*.sync"))
    lines = sms.read_text(encoding="utf-8").splitlines()
    args = ["enc", "-d", "-aes-192-cbc", "-K", DEMO_SMS_KEY_HEX, "-iv", DEMO_SMS_IV_HEX]
    clear = [openssl(args, bytes.fromhex(line.split()[0])).decode() for line in lines]
    assert clear[-3:] == ["+33699999999", "call-center", "12"]
    written = clear[:-3]
    assert len(written) == 40
    # written the ways people do, never as the profile stores it
    assert any(v.startswith("0033.") for v in written)
    assert any("(0)" in v for v in written)
    assert any("-" in v for v in written)
    phones = _profile_phones(workspace)
    assert {normalize_phone(v) for v in written} <= phones
    assert normalize_phone("+33699999999") not in phones
    assert normalize_phone("call-center") is None and normalize_phone("12") is None
    assert len(PHONE_STYLES) == 4


def test_the_sms_file_reconciles_through_the_import(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    counts = SqliteWorkflowStore(services.store).segment_counts("demo")
    assert counts["401"] + counts["402"] >= 40  # 40 members, some in both segments
    last = SqliteWorkflowStore(services.store).last_run("demo")
    assert last is not None and last.outcomes["invalid_phone"] == 2


# ------------------------------------------------------------ paused, a batch waiting


def test_install_leaves_the_workflow_paused_with_a_newer_batch_waiting(demo) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    workflow = SqliteWorkflowStore(services.store)
    assert workflow.status("demo").state is State.PAUSED
    processed = workflow.processed_names("demo")
    on_disk = {p.name for p in workspace.inbox.iterdir()}
    assert on_disk - processed == {next_batch_name()}
    assert len(processed) == 6
    first = workflow.last_run("demo")
    assert first is not None and first.status == "ok" and first.match_rate >= 0.9


def test_import_status_and_run_while_paused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "demo"
    assert run_cli("demo", "--dir", str(folder), "--no-tui").code == 0
    db = str(folder / "audiencectl.db")
    status = json.loads(run_cli("--db", db, "import", "status", "--json").out)
    assert status["state"] == "paused" and status["processed_files"] == 6
    assert status["waiting_files"] == 1
    assert any("paused, 1 file(s) waiting" in note for note in status["notes"])
    human = run_cli("--db", db, "import", "status").out
    assert "waiting files: 1" in human
    refused = run_cli("--db", db, "import", "run", "--once")
    assert refused.code == 1 and "paused" in refused.err
    assert run_cli("--db", db, "import", "resume").code == 0
    ran = run_cli("--db", db, "import", "run", "--once", "--json", "--quiet")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert report["files"] == 1 and report["batches"] == 1
    assert report["reconciled"] == 30 and report["outcomes"] == {"not_found": 1}
    after = json.loads(run_cli("--db", db, "import", "status", "--json").out)
    assert after["waiting_files"] == 0 and after["state"] == "running"


# ------------------------------------------------------------ the findings, then fixed


def test_the_checklist_is_stored_for_the_first_open(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    stored = last_results(services.store, "demo")
    assert len(stored) == len(CHECK_IDS)  # 18 automatic checks and 5 manual ones
    assert sum(r.manual for r in stored) == 5
    assert {r.id: r.status for r in stored if r.status in ("warn", "fail")} == FINDINGS
    priority = next(r for r in stored if r.id == "datasource.priority")
    assert SLIP_LABEL in priority.detail and "priority" in priority.fix
    workflow = next(r for r in stored if r.id == "workflow.import")
    assert "paused" in workflow.detail and "resume" in workflow.fix


def test_applying_each_fix_leaves_only_pass_and_skip(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    assert findings(services) == FINDINGS
    # Data sources screen: the slip gets its own priority, saved like the form does
    env = services.env()
    sources = tuple(
        replace(ds, priority=SLIP_FIXED_PRIORITY) if ds.label == SLIP_LABEL else ds
        for ds in env.datasources
    )
    services.repo.save(replace(env, datasources=sources))
    assert findings(services) == {"workflow.import": "fail"}
    # Audiences screen, workflow tab: resume, then run now
    _, message = resume(SqliteWorkflowStore(services.store), "demo")
    assert "running" in message
    report = run_import_pass(services)
    assert report.files == 1 and report.status == "ok"
    assert findings(services) == {}


# --------------------------------------------------------------------- re-running


def test_demo_reopens_and_reset_starts_it_over_without_duplicates(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "demo"
    db = str(folder / "audiencectl.db")

    def snapshot() -> dict[str, object]:
        status = json.loads(run_cli("--db", db, "import", "status", "--json").out)
        doctor = json.loads(run_cli("--db", db, "doctor", "--offline", "--json").out)
        return {
            "state": status["state"],
            "processed": status["processed_files"],
            "segments": status["segments"],
            "summary": doctor["summary"],
        }

    assert run_cli("demo", "--dir", str(folder), "--no-tui").code == 0
    first = snapshot()
    # the newcomer plays: resumes, imports the waiting batch
    run_cli("--db", db, "import", "resume")
    run_cli("--db", db, "import", "run", "--once", "--quiet")
    assert snapshot() != first
    played = snapshot()
    reopened = run_cli("demo", "--dir", str(folder), "--no-tui")
    assert reopened.code == 0, reopened.err
    assert f"reopening the demo workspace at {folder}" in reopened.out
    assert "demo --reset" in reopened.out
    assert snapshot() == played  # the user's edits are kept
    again = run_cli("demo", "--dir", str(folder), "--no-tui", "--reset")
    assert again.code == 0, again.err
    assert snapshot() == first
    services = Services(db_path=Path(db), env_name="demo")
    try:
        runs = services.store.conn.execute("SELECT count(*) FROM import_runs").fetchone()[0]
        assert runs == 1
        assert services.repo.names() == ["demo"]
        assert first_run_tips_wanted(services.store, "demo")
    finally:
        services.close()


def test_next_batch_is_all_known_but_one(tmp_path: Path) -> None:
    workspace = build_demo(tmp_path)
    path = deliver_next(workspace)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 31
    assert sum(1 for line in lines if line.endswith("\t203\t201")) == 6
    assert next(ds for ds in workspace.env.datasources if ds.destination_id == 46391).transform is (
        Transform.AES
    )


# ----------------------------------------------------------- folders it does not own


def test_demo_refuses_a_folder_holding_other_files(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mine"
    (folder / "aam-outbound").mkdir(parents=True)
    (folder / "profiles.csv").write_text("id,email\n1,a@example.com\n", encoding="utf-8")
    (folder / "aam-outbound" / "notes.txt").write_text("keep me", encoding="utf-8")
    (folder / "aam-outbound" / "ftp_1_2_iso8601_full.sync").write_text("x\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for extra in ((), ("--reset",)):
        result = run_cli("demo", "--dir", str(folder), "--no-tui", *extra)
        assert result.code == 2, result.err
        assert "not made by the demo" in result.err
        assert "aam-outbound" in result.err and "profiles.csv" in result.err
        assert len(result.err.strip().splitlines()) == 1
        assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_demo_refuses_a_folder_holding_a_real_store(
    run_cli, tmp_path: Path, sample_toml: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "real"
    folder.mkdir()
    db = folder / "audiencectl.db"
    assert run_cli("--db", str(db), "config", "import", str(sample_toml)).code == 0
    names = run_cli("--db", str(db), "config", "export").out
    result = run_cli("demo", "--dir", str(folder), "--no-tui", "--reset")
    assert result.code == 2 and "audiencectl.db" in result.err
    assert run_cli("--db", str(db), "config", "export").out == names
    assert not (folder / DEMO_MARKER).exists()


def test_demo_builds_in_an_empty_folder_and_marks_it(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "empty"
    folder.mkdir()
    assert run_cli("demo", "--dir", str(folder), "--no-tui").code == 0
    assert (folder / DEMO_MARKER).is_file()
    with pytest.raises(DemoFolderError, match="not made by the demo"):
        build_demo(tmp_path)  # tmp_path holds "empty" and other test files
