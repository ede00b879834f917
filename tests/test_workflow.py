"""The import workflow: states, passes, full vs iter, incomplete batches, failures."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest

from core import clock
from core.errors import ExitCode
from core.model import Account, AccountType, DataSource, Environment, Role
from core.profiles import CsvProfiles
from core.secrets import Secret
from core.workflow import State, WorkflowRefused, check_can_run, pause, resume, stop
from storage.audiences import SqliteWorkflowStore
from storage.db import Store
from storage.profiles import load_profiles
from storage.repo import EnvironmentRepo

DID, DPID = 46390, 14016


# ----------------------------------------------------------------------- helpers


def crm_env(root: Path) -> Environment:
    """A local import account and one declared, clear data source on customer_id."""
    inbox = root / "inbox"
    outbox = root / "outbox"
    inbox.mkdir(parents=True, exist_ok=True)
    outbox.mkdir(parents=True, exist_ok=True)
    return Environment(
        name="wf",
        import_account=Account(Role.IMPORT, AccountType.LOCAL, path=str(inbox)),
        export_account=Account(Role.EXPORT, AccountType.LOCAL, path=str(outbox)),
        datasources=(
            DataSource(
                label="CRM",
                alias="Adobe Campaign",
                dpid=DPID,
                destination_id=DID,
                id_type="declared",
                reconciliation_key="customer_id",
                channel="other",
            ),
        ),
    )


def setup_store(db_path: Path, env: Environment, profiles: int = 20) -> None:
    """Saves ``env`` and loads profiles P1..Pn with customer_id C1..Cn."""
    csv_path = db_path.parent.parent / "profiles.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["id,customer_id"] + [f"P{n},C{n}" for n in range(1, profiles + 1)]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with Store(db_path) as store:
        EnvironmentRepo(store).save(env)
        load_profiles(store, env.name, CsvProfiles(csv_path))


def aam_name(mode: str, ts: int, split: str = "") -> str:
    return f"ftp_{DID}_{DPID}_{mode}_{ts:013d}{split}.sync"


def write_file(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_manifest(folder: Path, key: str, parts: list[Path | str]) -> None:
    files = []
    for part in parts:
        if isinstance(part, Path):
            raw = part.read_bytes()
            lines = raw.count(b"\n")
            files.append(
                f'{{FileName: "{part.name}", FileLineCount: {lines}, '
                f'FileByteSize: {len(raw)}, md5: "{hashlib.md5(raw).hexdigest()}"}}'
            )
        else:  # not arrived yet: plausible numbers
            files.append(f'{{FileName: "{part}", FileLineCount: 1, FileByteSize: 10}}')
    (folder / f"{key}.info").write_text("{Files: [" + ", ".join(files) + "]}\n")


def members(db_path: Path, env: str = "wf") -> dict[str, set[str]]:
    with Store(db_path) as store:
        rows = store.conn.execute(
            "SELECT segment_id, profile_id FROM segment_members WHERE env = ?", (env,)
        ).fetchall()
    out: dict[str, set[str]] = {}
    for seg, pid in rows:
        out.setdefault(seg, set()).add(pid)
    return out


def ledger(db_path: Path, env: str = "wf") -> list[str]:
    with Store(db_path) as store:
        rows = store.conn.execute(
            "SELECT name FROM processed_files WHERE env = ? ORDER BY name", (env,)
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def wf(db_path: Path, tmp_path: Path) -> Environment:
    env = crm_env(tmp_path / "ws")
    setup_store(db_path, env)
    return env


def inbox(env: Environment) -> Path:
    return Path(env.import_account.path)


# ------------------------------------------------------------------ state machine


def test_transitions_and_refusals(db_path: Path, wf: Environment) -> None:
    with Store(db_path) as store:
        flow = SqliteWorkflowStore(store)
        assert flow.status("wf").state is State.IDLE
        with pytest.raises(WorkflowRefused) as refused:
            pause(flow, "wf")
        assert refused.value.exit_code == ExitCode.FINDINGS
        assert "idle" in refused.value.message
        assert resume(flow, "wf")[0].state is State.RUNNING
        assert "already running" in resume(flow, "wf")[1]
        assert pause(flow, "wf")[0].state is State.PAUSED
        assert "already paused" in pause(flow, "wf")[1]
        with pytest.raises(WorkflowRefused, match="paused"):
            check_can_run(flow, "wf")
        assert stop(flow, "wf")[0].state is State.STOPPED
        with pytest.raises(WorkflowRefused, match="stopped"):
            check_can_run(flow, "wf")
        with pytest.raises(WorkflowRefused, match="not running"):
            pause(flow, "wf")
        flow.set_state("wf", State.FAILED, "boom: the folder vanished")
        with pytest.raises(WorkflowRefused, match="boom"):
            check_can_run(flow, "wf")
        status, message = resume(flow, "wf")
        assert status.state is State.RUNNING and status.last_error == ""
        assert "last error cleared" in message
        assert flow.status("wf").last_error == ""
        # idle becomes running when run
        flow.set_state("wf", State.IDLE)
        assert check_can_run(flow, "wf").state is State.RUNNING


def test_cli_refuses_paused_and_stopped(run_cli, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    write_file(inbox(wf), aam_name("full", 1), ["C1 201"])
    assert run_cli("import", "resume").code == 0
    assert run_cli("import", "pause").code == 0
    result = run_cli("import", "run", "--once")
    assert result.code == 1
    assert "paused" in result.err and "import resume" in result.err
    assert run_cli("import", "stop").code == 0
    result = run_cli("import", "run", "--once")
    assert result.code == 1 and "stopped" in result.err
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["state"] == "stopped" and status["processed_files"] == 0
    assert status["segments"] == {}
    assert run_cli("import", "resume").code == 0
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert json.loads(run_cli("import", "status", "--json").out)["segments"] == {
        "201": {"members": 1}
    }


# ------------------------------------------------------------------------ passes


def test_idempotent_second_run(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    write_file(inbox(wf), aam_name("full", 1), ["C1 201", "C2 201,202", "C99 202", "junk"])
    first = run_cli("import", "run", "--once", "--json", "--quiet")
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert report["status"] == "ok" and report["records"] == 4 and report["reconciled"] == 2
    after_first = members(db_path)
    assert after_first == {"201": {"P1", "P2"}, "202": {"P2"}}
    second = run_cli("import", "run", "--once", "--json", "--quiet")
    assert json.loads(second.out)["status"] == "nothing_new"
    assert members(db_path) == after_first
    assert ledger(db_path) == [aam_name("full", 1)]
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["last_run"]["status"] == "nothing_new"
    assert status["processed_files"] == 1
    with Store(db_path) as store:
        runs = store.conn.execute("SELECT status, records, samples FROM import_runs").fetchall()
    assert [r[0] for r in runs] == ["ok", "nothing_new"]
    assert runs[0][1] == 4
    samples = json.loads(runs[0][2])
    assert {s["outcome"] for s in samples} >= {"not_found", "malformed_line"}


def test_iter_adds_and_removes_then_full_replaces(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    write_file(box, aam_name("full", 1), ["C1 201", "C2 201", "C3 201,202"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P1", "P2", "P3"}, "202": {"P3"}}
    # iter: C4 joins 201, C2 leaves 201 (removed field), C3 leaves 202
    write_file(box, aam_name("iter", 2), ["C4 201", "C2 203 201", "C3 201 202"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P1", "P3", "P4"}, "203": {"P2"}}
    # full: 201 is replaced by exactly its members; 203 (absent from the batch) stays
    write_file(box, aam_name("full", 3), ["C5 201", "C6 201,202"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P5", "P6"}, "202": {"P6"}, "203": {"P2"}}


def test_incomplete_batch_waits_then_completes(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    key = f"ftp_{DID}_{DPID}_full_{1:013d}"
    part1 = write_file(box, aam_name("full", 1, "001"), ["C1 201", "C2 201"])
    write_manifest(box, key, [part1, aam_name("full", 1, "002")])
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "nothing_new"
    assert report["waiting"] and report["waiting"][0]["batch"] == key
    assert "waiting for" in report["waiting"][0]["reason"]
    assert members(db_path) == {} and ledger(db_path) == []
    human = run_cli("import", "run", "--once")
    assert "left for the next run" in human.out
    # the last part arrives (and AAM rewrites the manifest with its real numbers)
    part2 = write_file(box, aam_name("full", 1, "002"), ["C3 201", "C4 202"])
    write_manifest(box, key, [part1, part2])
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    report = json.loads(result.out)
    assert report["status"] == "ok" and report["batches"] == 1 and report["files"] == 3
    assert members(db_path) == {"201": {"P1", "P2", "P3"}, "202": {"P4"}}
    assert ledger(db_path) == sorted([part1.name, part2.name, f"{key}.info"])


def test_connection_error_marks_failed(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    inbox(wf).rename(inbox(wf).with_name("gone"))
    result = run_cli("import", "run", "--once", "--quiet")
    assert result.code == ExitCode.CONNECTION
    assert result.err.count("\n") == 1 and "does not exist" in result.err
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["state"] == "failed"
    assert "does not exist" in status["last_error"]
    assert status["last_run"]["status"] == "failed" and status["last_run"]["error"]
    # failed needs action: run refuses until resumed
    assert run_cli("import", "run", "--once").code == 1
    inbox(wf).with_name("gone").rename(inbox(wf))
    assert run_cli("import", "resume").code == 0
    assert run_cli("import", "run", "--once").code == 0
    assert json.loads(run_cli("import", "status", "--json").out)["state"] == "running"


def _assert_waits(run_cli, db_path: Path, key: str, fragment: str, first: bool = True) -> None:  # type: ignore[no-untyped-def]
    """One pass: the good batch (ts 1) imported (on the ``first`` pass), batch ``key``
    left for the next run with a reason holding ``fragment``, not in the ledger; the
    workflow still runs and ``import status`` says why (a note, not an error)."""
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    status_of_pass = "ok" if first else "nothing_new"
    assert report["status"] == status_of_pass and report["batches"] == int(first)
    assert [w["batch"] for w in report["waiting"]] == [key]
    assert fragment in report["waiting"][0]["reason"]
    assert members(db_path) == {"201": {"P1"}}
    assert not any(name.startswith(key) for name in ledger(db_path))
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["state"] == "running" and status["last_error"] == ""
    assert status["last_run"]["status"] == status_of_pass
    assert f"batch {key} left for the next run" in status["last_run"]["error"]
    assert fragment in status["last_run"]["error"]
    human = run_cli("import", "status").out
    assert f"! batch {key} left for the next run: " in human and "error:" not in human
    assert f"batch {key} left for the next run" in " ".join(status["notes"])


def test_a_part_differing_from_its_manifest_waits_and_the_rest_is_imported(
    run_cli, db_path: Path, wf: Environment
) -> None:  # type: ignore[no-untyped-def]
    """Issues 15.3/17: a part still being uploaded (it differs from its manifest) holds
    its batch only; the next run after it is complete imports it."""
    box = inbox(wf)
    write_file(box, aam_name("full", 1), ["C1 201"])
    key = f"ftp_{DID}_{DPID}_iter_{2:013d}"
    part = write_file(box, aam_name("iter", 2, "001"), ["C2 202"])
    write_manifest(box, key, [part])
    part.write_text("C2 202\nC3 202\n")  # changed after the manifest was written
    _assert_waits(run_cli, db_path, key, "the manifest says 1")
    write_file(box, aam_name("iter", 2, "001"), ["C2 202"])  # the upload completes
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    report = json.loads(result.out)
    assert report["status"] == "ok" and report["batches"] == 1 and report["waiting"] == []
    assert members(db_path) == {"201": {"P1"}, "202": {"P2"}}
    assert f"{key}.info" in ledger(db_path)
    assert json.loads(run_cli("import", "status", "--json").out)["last_run"]["error"] == ""


def test_a_damaged_gzip_waits_and_the_rest_is_imported(
    run_cli, db_path: Path, wf: Environment
) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    write_file(box, aam_name("full", 1), ["C1 201"])
    name = aam_name("iter", 2) + ".gz"
    packed = gzip.compress(b"".join(b"C%d 202\n" % n for n in range(2, 20_000)), mtime=0)
    (box / name).write_bytes(packed[: len(packed) // 2])
    key = f"ftp_{DID}_{DPID}_iter_{2:013d}"
    _assert_waits(run_cli, db_path, key, "truncated")
    # it stays broken: the next run tries it again and still says why
    _assert_waits(run_cli, db_path, key, "truncated", first=False)
    (box / name).write_bytes(gzip.compress(b"C2 202\n", mtime=0))  # fetched again
    report = json.loads(run_cli("import", "run", "--once", "--json", "--quiet").out)
    assert report["status"] == "ok" and report["batches"] == 1 and report["waiting"] == []
    assert members(db_path) == {"201": {"P1"}, "202": {"P2"}}
    assert name in ledger(db_path)


def test_secret_never_in_last_error(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = Environment(
        name="wf",
        import_account=Account(
            Role.IMPORT, host="127.0.0.1", port=1, user="u", password=Secret("literal", "s3cr3t-pw")
        ),
        datasources=crm_env(tmp_path / "x").datasources,
    )
    with Store(db_path) as store:
        EnvironmentRepo(store).save(env)
    result = run_cli("import", "run", "--once")
    assert result.code == ExitCode.CONNECTION
    status = run_cli("import", "status", "--json").out
    assert "s3cr3t-pw" not in status and "s3cr3t-pw" not in result.err
    assert json.loads(status)["state"] == "failed"


def test_status_overdue_and_latency(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    start = clock.now()
    clock.freeze(start)
    try:
        assert run_cli("import", "run", "--once").code == 0
        clock.freeze(start + timedelta(minutes=90))
        status = json.loads(run_cli("import", "status", "--json").out)
        assert status["overdue"] is False
        assert status["expected_latency"]["end_to_end_hours"] == [24, 36]
        assert status["expected_latency"]["from_analytics_max_hours"] == 60
        clock.freeze(start + timedelta(minutes=121))
        status = json.loads(run_cli("import", "status", "--json").out)
        assert status["overdue"] is True and "no run within" in status["notes"][0]
        human = run_cli("import", "status").out
        assert "no run within 2 x 60 min" in human and "14:00 UTC" in human
        assert "60 h" in human
        run_cli("import", "pause")
        assert json.loads(run_cli("import", "status", "--json").out)["overdue"] is False
    finally:
        clock.freeze(None)


def test_unrouted_batch_is_left_alone(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    write_file(inbox(wf), f"ftp_99999_{DPID}_full_{1:013d}.sync", ["C1 201"])
    write_file(inbox(wf), "readme.txt", ["hello"])
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    report = json.loads(result.out)
    assert report["status"] == "nothing_new"
    assert any("99999" in note for note in report["notes"])
    assert any(i["name"] == "readme.txt" for i in report["ignored"])
    assert ledger(db_path) == []


# ----------------------------------------------------------- the API the console uses


def _run_pass_api(db_path: Path, progress, cancelled):  # type: ignore[no-untyped-def]
    from usecases.importwf import run_import_pass
    from usecases.services import Services

    services = Services(db_path=db_path)
    try:
        return run_import_pass(services, progress=progress, cancelled=cancelled)
    finally:
        services.close()


def test_pause_during_a_pass_finishes_the_batch_and_starts_no_other(
    db_path: Path, wf: Environment
) -> None:
    write_file(inbox(wf), aam_name("full", 1), ["C1 201"])
    write_file(inbox(wf), aam_name("full", 2), ["C2 202"])
    events = []

    def progress(event):  # type: ignore[no-untyped-def]
        events.append(event)
        if event.stage == "write" and event.done == 1:
            with Store(db_path) as store:
                pause(SqliteWorkflowStore(store), "wf")

    report = _run_pass_api(db_path, progress, None)
    assert report.status == "paused" and report.batches == 1
    assert members(db_path) == {"201": {"P1"}}
    assert {e.stage for e in events} >= {"list", "fetch", "reconcile", "write"}
    with Store(db_path) as store:
        resume(SqliteWorkflowStore(store), "wf")
    report = _run_pass_api(db_path, None, None)
    assert report.status == "ok" and report.batches == 1
    assert members(db_path) == {"201": {"P1"}, "202": {"P2"}}


def test_a_pass_reports_the_index_it_builds_but_the_cli_does_not_print_it(
    run_cli,
    db_path: Path,
    wf: Environment,  # type: ignore[no-untyped-def]
) -> None:
    write_file(inbox(wf), aam_name("full", 1), ["C1 201", "C2 202"])
    events = []
    report = _run_pass_api(db_path, events.append, None)
    assert report.status == "ok"
    texts = [e.message for e in events if e.stage == "progress"]
    assert any(": indexing, " in t for t in texts) and any(": index ready (" in t for t in texts)
    write_file(inbox(wf), aam_name("full", 2), ["C1 203"])
    printed = run_cli("import", "run", "--once")
    assert printed.code == 0, printed.err
    assert "[reconcile]" in printed.err
    assert ": indexing, " not in printed.err and "index ready" not in printed.err


def test_cancel_abandons_the_batch_in_progress(db_path: Path, wf: Environment) -> None:
    write_file(inbox(wf), aam_name("full", 1), ["C1 201"])
    asked = {"cancel": False}

    def progress(event):  # type: ignore[no-untyped-def]
        if event.stage == "fetch":
            asked["cancel"] = True

    report = _run_pass_api(db_path, progress, lambda: asked["cancel"])
    assert report.status == "cancelled"
    assert members(db_path) == {} and ledger(db_path) == []
    report = _run_pass_api(db_path, None, None)
    assert report.status == "ok" and members(db_path) == {"201": {"P1"}}


def test_full_empties_a_segment_whose_lines_all_fail(
    run_cli, db_path: Path, wf: Environment
) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    write_file(box, aam_name("full", 1), ["C1 201", "C2 201", "C3 202"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P1", "P2"}, "202": {"P3"}}
    # The new snapshot still carries 202, but none of its IDs reconcile: 202 is now empty.
    write_file(box, aam_name("full", 2), ["C1 201", "C99 202", "bad-line"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P1"}}


def test_a_late_older_batch_does_not_undo_a_newer_full(
    run_cli, db_path: Path, wf: Environment
) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    write_file(box, aam_name("full", 2000), ["C1 201"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    write_file(box, aam_name("full", 1000), ["C2 201", "C3 201"])  # delivered late
    write_file(box, aam_name("iter", 1500), ["C4 201"])
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert sum("older than the full batch" in note for note in report["notes"]) == 2
    assert members(db_path) == {"201": {"P1"}}
    assert set(ledger(db_path)) == {
        aam_name(m, t) for m, t in (("full", 2000), ("full", 1000), ("iter", 1500))
    }
    again = run_cli("import", "run", "--once", "--json", "--quiet")
    assert json.loads(again.out)["status"] == "nothing_new"


def test_removal_only_line_removes_and_adds_nothing(
    run_cli, db_path: Path, wf: Environment
) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    write_file(box, aam_name("full", 1), ["C1 201", "C2 201,202"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    # ID<TAB><TAB>REMOVED: C2 leaves 201 and joins nothing (never read as "joins 201")
    write_file(box, aam_name("iter", 2), ["C2\t\t201", "C3\t202"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P1"}, "202": {"P2", "P3"}}


# ----------------------------------------------------------------- a long listing


def test_a_long_listing_is_selected_without_comparing_batches(
    db_path: Path, wf: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass once looked each ready batch up in the list of routed ones (quadratic:
    10k files took 18 s before the first fetch). Now no batch is ever compared with
    another, routing runs once per destination ID, and the order is kept."""
    from core import selection
    from core.formats import Batch
    from core.transport import LocalTransport
    from core.workflow import run_pass
    from storage.profiles import StoreProfiles

    count = 3000
    first = 1_700_000_000_000
    for n in range(count):
        (inbox(wf) / aam_name("iter", first + n)).write_text("C1 101\n")
    (inbox(wf) / f"ftp_777_{DPID}_iter_{first:013d}.sync").write_text("C2 101\n")
    compared: list[int] = []
    real_eq = Batch.__eq__

    def counting_eq(self: Batch, other: object) -> bool:
        compared.append(1)
        return real_eq(self, other)

    routed: list[int | None] = []
    real_route = selection.route

    def counting_route(env: Environment, destination_id: int | None) -> list[DataSource]:
        routed.append(destination_id)
        return real_route(env, destination_id)

    monkeypatch.setattr(Batch, "__eq__", counting_eq)
    monkeypatch.setattr(selection, "route", counting_route)
    events = []
    with Store(db_path) as store:
        flow = SqliteWorkflowStore(store)
        flow.set_state("wf", State.PAUSED)  # the pass lists and selects, then stops
        report = run_pass(
            wf,
            flow,
            StoreProfiles(store, "wf"),
            lambda account: LocalTransport(Path(account.path or "")),
            lambda ds, field: "",
            progress=events.append,
        )
    assert report.status == "paused" and report.batches == 0
    assert compared == []
    assert sorted(routed) == [777, DID]
    counted = [e for e in events if e.stage == "list" and e.total]
    assert [(e.message, e.total) for e in counted] == [
        (f"{count + 1} file(s), {count + 1} batch(es) to process, 0 waiting", count + 1)
    ]
    unrouted = [n for n in report.notes if "no data source has destination ID 777" in n]
    assert len(unrouted) == 1 and f"ftp_777_{DPID}_iter_{first:013d}" in unrouted[0]
    paused = [n for n in report.notes if n.startswith("paused before batch")]
    assert paused == [
        f"paused before batch ftp_{DID}_{DPID}_iter_{first:013d}: {count} batch(es) wait for resume"
    ]


def test_selection_sorts_batches_by_what_the_pass_does(wf: Environment) -> None:
    """New and complete: routed (or unrouted); incomplete: waiting; older than a full
    batch already applied: superseded; nothing new: left out."""
    from core.formats import classify_names
    from core.selection import select_batches

    applied_full = aam_name("full", 50)
    names = [
        aam_name("iter", 10),  # older than the full batch applied: superseded
        aam_name("iter", 60),  # routed
        aam_name("iter", 70, "001"),  # parts 001 and 003: waiting for 002
        aam_name("iter", 70, "003"),
        f"ftp_777_{DPID}_iter_{80:013d}.sync",  # no data source: unrouted
        aam_name("iter", 90),  # already processed: left out
        applied_full,
    ]
    batches, _ = classify_names(names)
    chosen = select_batches(wf, batches, {applied_full, aam_name("iter", 90)})
    key = lambda name: name.removesuffix(".sync")  # noqa: E731
    assert [(b.key, [ds.label for ds in s]) for b, s in chosen.routed] == [
        (key(aam_name("iter", 60)), ["CRM"])
    ]
    assert [b.key for b in chosen.superseded] == [key(aam_name("iter", 10))]
    assert [b.key for b in chosen.waiting] == [key(aam_name("iter", 70))]
    assert [b.key for b in chosen.unrouted] == [f"ftp_777_{DPID}_iter_{80:013d}"]


def test_a_split_full_batch_imports_every_part(run_cli, db_path: Path, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    """Seconds and a 3-digit split (``..._full_1449756724001.sync``, ``...002``, ``...003``,
    AAM's macros page) are ONE full batch: every part's members are kept, not only the
    last part's (the bug Adobe fixed in Campaign in 2018)."""
    box = inbox(wf)
    write_file(box, f"ftp_{DID}_{DPID}_full_1449000000.sync", ["C9 201"])
    assert run_cli("import", "run", "--once", "--quiet").code == 0
    assert members(db_path) == {"201": {"P9"}}
    for split, lines in (("001", ["C1 201"]), ("002", ["C2 201", "C3 202"]), ("003", ["C4 201"])):
        write_file(box, f"ftp_{DID}_{DPID}_full_1449756724{split}.sync", lines)
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "ok" and report["batches"] == 1 and report["files"] == 3
    assert members(db_path) == {"201": {"P1", "P2", "P4"}, "202": {"P3"}}


def test_a_manifest_that_disagrees_holds_the_batch_back(
    run_cli, db_path: Path, wf: Environment
) -> None:  # type: ignore[no-untyped-def]
    """Issue 17.12: the manifest lists part 001 only, Totals claim 7 files and 5 lines,
    parts 001 and 002 are here: nothing is imported and the reason is shown."""
    box = inbox(wf)
    key = f"ftp_{DID}_{DPID}_full_1449756724000"
    part1 = write_file(box, f"{key}001.sync", ["C1 201"])
    write_file(box, f"{key}002.sync", ["C2 201"])
    raw = part1.read_bytes()
    (box / f"{key}.info").write_text(
        f'{{Files: [{{FileName: "{part1.name}", FileLineCount: 1, FileByteSize: {len(raw)}}}],'
        f" Totals: {{TotalNumberFiles: 7, TotalNumberLines: 5, TotalByteSize: {len(raw)}}}}}"
    )
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "nothing_new" and members(db_path) == {}
    [waiting] = report["waiting"]
    assert waiting["batch"] == key and "held back" in waiting["reason"]
    assert "total file count says 7" in waiting["reason"]
    assert f"{key}002.sync" in waiting["reason"]
    human = run_cli("import", "run", "--once")
    assert "held back" in human.out and "total line count says 5" in human.out


def test_symlinks_and_rejected_names_are_reported_by_run_and_status(
    run_cli, db_path: Path, wf: Environment, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Issue 17.13: one rule for the dry run, the import run and import status: a symlink
    and a name an account may not hold are never read, and each is named with its
    reason (never "waiting files: 1" forever)."""
    box = inbox(wf)
    real = write_file(box, aam_name("full", 1), ["C1 201"])
    outside = write_file(tmp_path, aam_name("iter", 2), ["C2 201"])
    (box / outside.name).symlink_to(outside)
    write_file(box, f"ftp_{DID}_{DPID}_iter_1..2.sync", ["C3 201"])
    write_file(box, "bad\x1bname.sync", ["C4 201"])
    expected = {
        outside.name: "a symbolic link: never read",
        f"ftp_{DID}_{DPID}_iter_1..2.sync": "contains '..'",
        "bad\\x1bname.sync": "contains control characters",
    }
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["batches"] == 1 and members(db_path) == {"201": {"P1"}}
    reasons = {item["name"]: item["reason"] for item in report["ignored"]}
    assert set(reasons) == set(expected)
    assert all(words in reasons[name] for name, words in expected.items())
    human = run_cli("import", "run", "--once").out
    assert f"skipped: {outside.name} (a symbolic link" in human
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["waiting_files"] == 0 and ledger(db_path) == [real.name]
    skipped = {item["file"]: item["reason"] for item in status["skipped"]}
    assert skipped == reasons
    text = run_cli("import", "status").out
    assert f"skipped {outside.name}: a symbolic link" in text
    assert "waiting files" not in text
    # the dry run over the same folder skips the symlink for the same reason
    dry = run_cli(
        "dry-run", "--json", "--profiles", str(db_path.parent.parent / "profiles.csv"), str(box)
    )
    assert dry.code == 0, dry.err
    dry_skipped = {s["file"]: s["reason"] for s in json.loads(dry.out)["skipped"]}
    assert dry_skipped[outside.name] == reasons[outside.name]


def test_status_shows_a_held_batch_with_its_reason(run_cli, wf: Environment) -> None:  # type: ignore[no-untyped-def]
    box = inbox(wf)
    key = f"ftp_{DID}_{DPID}_full_1449756724000"
    write_file(box, f"{key}001.sync", ["C1 201"])
    (box / f"{key}.info").write_text("{Files: [")
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["waiting_files"] == 2
    [held] = status["waiting"]
    assert held["batch"] == key and "cannot be used: manifest: not valid JSON" in held["reason"]
    assert any("held back" in note for note in status["notes"])
