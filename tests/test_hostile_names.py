"""Hostile names: file names that are not UTF-8 or hold control characters, labels with
ESC and newlines. They are shown escaped on every output and never crash a save."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.demo import DemoWorkspace, workspace_at
from core.text import printable_name
from tests.conftest import SAMPLE_TOML

LATIN1 = b"caf\xe9_46390.sync"
EVIL = "evil\x1b]0;pwn\x07\x1b[2Jx\nnext.sync"


@pytest.fixture
def hostile(tmp_path: Path, run_cli) -> DemoWorkspace:  # type: ignore[no-untyped-def]
    root = tmp_path / "demo"
    assert run_cli("demo", "--dir", str(root), "--no-tui").code == 0
    workspace = workspace_at(root)
    latin1 = os.fsencode(workspace.inbox) + b"/" + LATIN1
    with open(latin1, "wb") as fh:
        fh.write(b"59767559181262060060278870901087098252 46390\n")
    (workspace.inbox / EVIL).write_bytes(b"x\n")
    os.utime(latin1, (2e9, 2e9))  # the newest file: the probe reads it
    return workspace


def assert_clean(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text
    assert not any(0xDC80 <= ord(c) <= 0xDCFF for c in text)


def test_the_shared_escape() -> None:
    assert printable_name(os.fsdecode(LATIN1)) == "caf\\xe9_46390.sync"
    assert printable_name(LATIN1) == "caf\\xe9_46390.sync"
    assert printable_name(EVIL) == "evil\\x1b]0;pwn\\x07\\x1b[2Jx\\x0anext.sync"
    assert printable_name("Fichier é ✓") == "Fichier é ✓"
    assert printable_name("a\u202eb") == "a\\u202eb"


def test_probe_import_saves_and_shows_a_latin1_name(run_cli, hostile: DemoWorkspace) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--db", str(hostile.db_path), "probe", "import")
    assert result.code == 0, result.err
    assert "caf\\xe9_46390.sync" in result.out
    assert_clean(result.out + result.err)
    again = run_cli("--db", str(hostile.db_path), "probe", "import", "--json")
    assert again.code == 0, again.err
    assert_clean(again.out)


def test_doctor_offline_saves_and_shows_hostile_names(run_cli, hostile: DemoWorkspace) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--db", str(hostile.db_path), "doctor", "--offline")
    assert result.code == 1, result.err  # the demo's two findings
    assert_clean(result.out + result.err)
    assert "summary:" in result.out


def test_dry_run_report_escapes_hostile_names(
    run_cli,
    hostile: DemoWorkspace,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    report = tmp_path / "report.md"
    result = run_cli(
        "--db",
        str(hostile.db_path),
        "dry-run",
        "--profiles",
        str(hostile.profiles_csv),
        "--report",
        str(report),
        str(hostile.inbox),
    )
    assert result.code == 0, result.err
    assert_clean(result.out + result.err)
    text = report.read_text(encoding="utf-8")
    assert_clean(text)
    assert "caf\\xe9_46390.sync" in result.out + text
    assert "evil\\x1b]0;pwn\\x07\\x1b[2Jx\\x0anext.sync" in result.out
    assert "evil\\x1b]0;pwn\\x07\\x1b[2Jx\\x0anext.sync" in text.replace("\\\\", "\\")
    assert not [line for line in text.splitlines() if line.startswith("next.sync")]


def test_labels_with_escapes_are_escaped_by_config_import_and_doctor(
    run_cli, tmp_path: Path, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "evil.toml"
    label = "Email \\u001b]0;pwn\\u0007\\u001b[2J\\nsecond line"
    path.write_text(SAMPLE_TOML.replace('"Recipient - Email"', f'"{label}"'), "utf-8")
    result = run_cli("config", "import", str(path))
    assert result.code == 0, result.err
    assert_clean(result.out + result.err)
    assert "Email \\x1b]0;pwn" in result.out
    assert not [line for line in result.out.splitlines() if line.startswith("second line")]
    report = tmp_path / "doctor.md"
    doctor = run_cli("doctor", "--offline", "--report", str(report))
    assert_clean(doctor.out + doctor.err)
    assert not [line for line in doctor.out.splitlines() if line.startswith("second line")]
    text = report.read_text(encoding="utf-8")
    assert_clean(text)
    assert not [line for line in text.splitlines() if line.startswith("second line")]
