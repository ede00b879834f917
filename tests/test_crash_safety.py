"""kill -9 at the worst moments: the store stays whole and a rerun finishes the job.

Real processes run `audiencectl`; ``AUDIENCECTL_TEST_HOOKS`` makes them announce
and pause at named points (the hooks of usecases.services.pause_hooks) so the kill lands there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from storage.db import Store
from tests.test_import_cli import cli, demo_store

HOOK_SLEEP = 3


def snapshot(db_path: Path) -> tuple[set[tuple[str, str]], list[str], str]:
    """(segment memberships, ledger names in order, integrity check)."""
    with Store(db_path) as store:
        conn = store.conn
        memberships = {
            (seg, pid)
            for seg, pid in conn.execute("SELECT segment_id, profile_id FROM segment_members")
        }
        names = [r[0] for r in conn.execute("SELECT name FROM processed_files ORDER BY name")]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return memberships, names, integrity


def wait_for_hook(proc: subprocess.Popen[str], point: str, occurrence: int) -> None:
    """Reads the process's stderr until the ``occurrence``-th announcement of ``point``."""
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:
        if line.strip() == f"audiencectl-hook: {point}":
            seen += 1
            if seen == occurrence:
                return
    raise AssertionError(f"the process ended before hook {point} #{occurrence}: rc={proc.wait()}")


def kill9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[tuple[str, str]], list[str]]:
    """The store after one uninterrupted run over the demo workspace."""
    root = tmp_path_factory.mktemp("reference")
    db_path = root / "store" / "ref.db"
    demo_store(root / "demo", db_path)
    proc = cli(db_path, "import", "run", "--once", "--quiet")
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    memberships, names, integrity = snapshot(db_path)
    assert integrity == "ok" and memberships and len(names) == 6
    return memberships, names


@pytest.mark.parametrize(
    ("point", "occurrence"),
    [("fetch", 1), ("fetch", 3), ("reconcile", 2), ("write", 1), ("write", 3)],
)
def test_import_killed_then_rerun_matches_uninterrupted(
    reference: tuple[set[tuple[str, str]], list[str]],
    tmp_path: Path,
    point: str,
    occurrence: int,
) -> None:
    db_path = tmp_path / "store" / "a.db"
    demo_store(tmp_path / "demo", db_path)
    proc = cli(
        db_path,
        "import",
        "run",
        "--once",
        "--quiet",
        env={"AUDIENCECTL_TEST_HOOKS": f"{point}={HOOK_SLEEP}"},
    )
    try:
        wait_for_hook(proc, point, occurrence)
        kill9(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, partial_names, integrity = snapshot(db_path)
    assert integrity == "ok"
    assert len(partial_names) < len(reference[1])  # it really was interrupted
    if point == "write":  # killed inside batch N's transaction: batches before N only
        assert len(partial_names) == {1: 0, 3: 4}[occurrence]  # batch 1 = 2 parts + .info
    rerun = cli(db_path, "import", "run", "--once", "--quiet")
    assert rerun.wait(60) == 0, rerun.stderr.read() if rerun.stderr else ""
    memberships, names, integrity = snapshot(db_path)
    assert integrity == "ok"
    assert memberships == reference[0]
    assert names == reference[1] and len(set(names)) == len(names)
    with Store(db_path) as store:
        statuses = [r[0] for r in store.conn.execute("SELECT status FROM import_runs ORDER BY id")]
        state = store.conn.execute("SELECT state FROM workflow").fetchone()[0]
    assert statuses == ["failed", "ok"]  # the killed run is closed as interrupted
    assert state == "running"


def test_export_killed_mid_upload_leaves_no_final_file(tmp_path: Path) -> None:
    db_path = tmp_path / "store" / "e.db"
    ws = demo_store(tmp_path / "demo", db_path)
    members = tmp_path / "members.csv"
    members.write_text("id\n" + "".join(f"P{n:05d}\n" for n in range(1, 101)))
    args = (
        "export",
        "--members",
        str(members),
        "--segment-id",
        "12",
        "--datasource",
        "Recipient - Email (AES)",
        "--upload",
        "--json",
    )
    proc = cli(db_path, *args, env={"AUDIENCECTL_TEST_HOOKS": f"upload={HOOK_SLEEP}"})
    try:
        wait_for_hook(proc, "upload", 1)
        kill9(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    leftovers = [p.name for p in ws.outbox.iterdir()]
    assert not [n for n in leftovers if n.startswith("ftp_dpm_")], leftovers
    assert leftovers and all(n.startswith(".ftp_dpm_") and ".part-" in n for n in leftovers)
    rerun = cli(db_path, *args)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    report = json.loads(out)
    final = ws.outbox / report["file"]
    assert final.is_file()
    assert final.read_text().count("\n") == report["lines"] > 0


def test_two_concurrent_runs_second_refuses(tmp_path: Path) -> None:
    db_path = tmp_path / "store" / "c.db"
    demo_store(tmp_path / "demo", db_path)
    first = cli(
        db_path,
        "import",
        "run",
        "--once",
        "--quiet",
        env={"AUDIENCECTL_TEST_HOOKS": f"fetch={HOOK_SLEEP}"},
    )
    try:
        wait_for_hook(first, "fetch", 1)
        second = cli(db_path, "import", "run", "--once")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert err.count("\n") == 1
        assert f"PID {first.pid}" in err and "import run` is in progress" in err
        assert first.poll() is None
        assert first.wait(60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    _, names, integrity = snapshot(db_path)
    assert integrity == "ok" and len(names) == 6
