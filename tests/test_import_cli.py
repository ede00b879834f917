"""`import run|status` end to end: the demo workspace, the lock, the loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.demo import DemoWorkspace, build_demo
from core.profiles import CsvProfiles
from storage.db import Store
from storage.lock import ImportLock, ImportLocked
from storage.profiles import load_profiles
from storage.repo import EnvironmentRepo
from tests.test_workflow import aam_name, crm_env, setup_store, write_file

ROOT = Path(__file__).resolve().parent.parent


#: How long a child may take to end after it was told to: a safety net for a loaded
#: machine, not the behaviour under test (the exit code is).
SAFETY_NET = 60


def demo_store(root: Path, db_path: Path) -> DemoWorkspace:
    """The demo workspace with its environment and profiles saved in ``db_path``."""
    ws = build_demo(root)
    with Store(db_path) as store:
        EnvironmentRepo(store).save(ws.env)
        load_profiles(store, ws.env.name, CsvProfiles(ws.profiles_csv, ws.visitors_csv))
    return ws


def cli(db_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`audiencectl ARGS` in a real process on ``db_path``."""
    environ = {**os.environ, "AUDIENCECTL_DB": str(db_path), **(env or {})}
    environ.pop("AUDIENCECTL_ENV", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from tui.cli import entry; entry()", *args],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_demo_import_fills_segments(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo_store(tmp_path / "demo", db_path)
    result = run_cli("import", "run", "--once", "--json", "--quiet")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "ok" and report["batches"] == 4 and report["files"] == 6
    assert report["records"] == (
        report["reconciled"] + report["duplicates"] + sum(report["outcomes"].values())
    )
    status = json.loads(run_cli("import", "status", "--json").out)
    assert status["state"] == "running"
    assert status["processed_files"] == 6
    for seg in ("201", "202", "203"):
        assert status["segments"][seg]["members"] > 0
    last = status["last_run"]
    for key in (
        "started_at",
        "finished_at",
        "status",
        "files",
        "records",
        "reconciled",
        "duplicates",
        "match_rate",
        "outcomes",
        "error",
    ):
        assert key in last
    assert last["status"] == "ok" and 0 < last["match_rate"] < 1
    assert status["interval_minutes"] == 60 and status["last_error"] == ""
    assert "14:00 UTC" in status["expected_latency"]["aam_schedule"]
    human = run_cli("import", "status")
    assert "running" in human.out and "processed files: 6" in human.out
    assert "201:" in human.out


def test_lock_refuses_while_held_by_another_process(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    setup_store(db_path, crm_env(tmp_path / "ws"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from storage.lock import ImportLock\n"
            "with ImportLock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)",
            str(db_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_cli("import", "run", "--once")
        assert result.code == 2
        assert result.err.count("\n") == 1
        assert f"PID {holder.pid}" in result.err and "in progress" in result.err
        with pytest.raises(ImportLocked):
            ImportLock(db_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    # the holder died (kill -9): the lock died with it
    with ImportLock(db_path) as lock:
        assert lock.held
    assert run_cli("import", "run", "--once").code == 0


def test_loop_ends_when_stopped_elsewhere(db_path: Path, tmp_path: Path) -> None:
    env = crm_env(tmp_path / "ws")
    setup_store(db_path, env)
    write_file(Path(env.import_account.path), aam_name("full", 1), ["C1 201"])
    loop = cli(db_path, "import", "run")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with Store(db_path) as store:
                done = store.conn.execute(
                    "SELECT count(*) FROM import_runs WHERE status = 'ok'"
                ).fetchone()[0]
            if done:
                break
            time.sleep(0.1)
        assert done, "the first pass did not finish"
        assert loop.poll() is None, "the loop must keep running between passes"
        stopper = cli(db_path, "import", "stop")
        assert stopper.wait(SAFETY_NET) == 0
        _, err = loop.communicate(timeout=SAFETY_NET)  # drains both pipes (see below)
        assert loop.returncode == 0
        assert "now stopped" in err
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()


def test_loop_ctrl_c_exits_130(db_path: Path, tmp_path: Path) -> None:
    setup_store(db_path, crm_env(tmp_path / "ws"))
    loop = cli(db_path, "import", "run")
    try:
        assert loop.stderr is not None
        line = loop.stderr.readline()
        while "next pass" not in line and line:
            line = loop.stderr.readline()
        assert "next pass" in line
        loop.send_signal(2)  # SIGINT, as Ctrl+C
        # communicate, not wait: it drains both pipes, so a child flushing its output at
        # exit can never block on a full pipe (subprocess's documented deadlock)
        loop.communicate(timeout=SAFETY_NET)
        assert loop.returncode == 130
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
