"""A full disk and a read-only store: one clear line, exit 2, the store as it was."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_TOML, snapshot_of_files

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def _mount(*args: str) -> None:
    """Mounts, or skips the test where this machine forbids mounting (no CAP_SYS_ADMIN)."""
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: room for a store, not much more."""
    folder = tmp_path / "disk"
    folder.mkdir()
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@needs_root
def test_disk_full_changes_nothing(run_cli, small_disk: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = small_disk / "s.db"
    config = tmp_path / "p.toml"
    config.write_text(SAMPLE_TOML)
    assert run_cli("--db", str(store), "config", "import", str(config)).code == 0
    before = run_cli("--db", str(store), "config", "export").out
    filler = small_disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    big = SAMPLE_TOML.replace(
        'id_type = "Declared ID"',
        'id_type = "Declared ID"\nadditional_info = "' + "x" * 300_000 + '"',
    )
    config.write_text(big)
    result = run_cli("--db", str(store), "config", "import", str(config))
    assert result.code == 2
    assert "disk full" in result.err and result.err.count("\n") == 1
    filler.unlink()
    assert run_cli("--db", str(store), "config", "export").out == before
    conn = sqlite3.connect(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


@needs_root
def test_read_only_store(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "s.db"
    config = tmp_path / "p.toml"
    config.write_text(SAMPLE_TOML)
    assert run_cli("--db", str(store), "config", "import", str(config)).code == 0
    assert run_cli("--db", str(store), "request", "status").code == 0  # WAL files exist
    before = snapshot_of_files(folder)
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,bind,ro", str(folder))
        result = run_cli("--db", str(store), "request", "status", "sent")
        assert result.code == 2
        assert result.err.count("\n") == 1 and "Traceback" not in result.err
        assert "read-only" in result.err or "cannot" in result.err
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
    assert snapshot_of_files(folder) == before
