"""What a killed run leaves behind is cleaned by the next run (its own leftovers only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.leftovers import (
    STALE_PART_SECONDS,
    clean_local_leftovers,
    clean_remote_leftovers,
    temp_prefix,
)
from core.transport import LocalTransport

ROOT = Path(__file__).resolve().parent.parent


def killed_run(folder: Path, kind: str) -> Path:
    """A process that makes its temporary folder as a run does, then is killed with -9."""
    code = (
        "import sys, tempfile, time\n"
        "from core.leftovers import temp_prefix\n"
        f"tmp = tempfile.TemporaryDirectory(prefix=temp_prefix({kind!r}), dir={str(folder)!r})\n"
        "open(tmp.name + '/batch.sync', 'wb').write(b'x' * 1000)\n"
        "print(tmp.name, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    made = Path(proc.stdout.readline().strip())
    assert made.is_dir()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return made


def test_the_temporary_folder_of_a_killed_run_is_removed(tmp_path: Path) -> None:
    left_import = killed_run(tmp_path, "import")
    left_export = killed_run(tmp_path, "export")
    mine = tmp_path / f"{temp_prefix('import')}running"  # this process is alive
    mine.mkdir()
    other = tmp_path / "audiencectl-notes"  # not a temporary folder of ours
    other.mkdir()
    foreign = tmp_path / "something-import-1-x"
    foreign.mkdir()
    removed = clean_local_leftovers(tmp_path)
    assert sorted(removed) == sorted([left_import, left_export])
    assert not left_import.exists() and not left_export.exists()
    assert mine.is_dir() and other.is_dir() and foreign.is_dir()
    assert clean_local_leftovers(tmp_path) == []


def test_a_stale_remote_part_upload_is_removed_and_never_listed(tmp_path: Path) -> None:
    stale = tmp_path / ".ftp_dpm_14016_1700000000.sync.part-0123456789ab"
    fresh = tmp_path / ".ftp_dpm_14016_1700000001.sync.part-ba9876543210"
    aam = tmp_path / "ftp_dpm_14016_1700000002.sync"
    for path in (stale, fresh, aam):
        path.write_bytes(b"x\n")
    old = time.time() - STALE_PART_SECONDS - 60
    os.utime(stale, (old, old))
    files = LocalTransport(tmp_path)
    assert [f.name for f in files.list()] == [aam.name]
    assert clean_remote_leftovers(files) == [stale.name]
    assert not stale.exists() and fresh.exists() and aam.exists()


def test_the_next_import_run_cleans_a_killed_runs_folder(
    run_cli,
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    left = killed_run(temp, "import")
    root = tmp_path / "demo"
    assert run_cli("demo", "--dir", str(root), "--no-tui").code == 0
    db = str(root / "audiencectl.db")
    assert run_cli("--db", db, "import", "resume").code == 0
    result = run_cli("--db", db, "import", "run", "--once", "--quiet")
    assert result.code == 0, result.err
    assert not left.exists()
    assert [p.name for p in temp.iterdir()] == []  # and the run left nothing itself
