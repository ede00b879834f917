"""The CLI's contract: one-line errors, documented exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ExitCode


def _assert_one_line_error(err: str) -> None:
    assert err.startswith("audiencectl: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content",
    [
        'name = "p"\nbogus = 1\n',
        "name = \n",
        'name = "p"\n[request]\nims_org_id = "nope"\n',
        'name = "p"\n[accounts.import]\npassword = "env:"\n',
    ],
)
def test_bad_toml_exit_2(run_cli, tmp_path: Path, content: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text(content)
    result = run_cli("config", "import", str(path))
    assert result.code == ExitCode.USAGE
    _assert_one_line_error(result.err)


def test_unreadable_and_missing_files(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("config", "import", str(tmp_path / "nope.toml"))
    assert result.code == 2 and "no such file" in result.err
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    result = run_cli("config", "import", str(binary))
    assert result.code == 2
    _assert_one_line_error(result.err)


def test_store_not_sqlite(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "x.db"
    bogus.write_text("hello" * 1000)
    result = run_cli("--db", str(bogus), "request", "status")
    assert result.code == 2
    _assert_one_line_error(result.err)
    assert bogus.read_text() == "hello" * 1000


def test_no_environment_and_several(run_cli, sample_toml: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("request", "status")
    assert result.code == 2 and "audiencectl demo" in result.err
    assert run_cli("config", "import", str(sample_toml)).code == 0
    other = tmp_path / "stage.toml"
    other.write_text('name = "stage"\n')
    assert run_cli("config", "import", str(other)).code == 0
    result = run_cli("request", "status")
    assert result.code == 2 and "--env" in result.err
    assert run_cli("--env", "stage", "request", "status").code == 0
    assert run_cli("--env", "nope", "request", "status").code == 2


def test_missing_secret_reference_names_the_field(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text('name = "p"\n[accounts.import]\npassword = "file:"\n')
    result = run_cli("config", "import", str(path))
    assert result.code == 2 and "accounts.import.password" in result.err


def test_usage_error_is_exit_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("request", "render", "--format", "pdf")
    assert result.code == 2
    _assert_one_line_error(result.err)


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("audiencectl")
    out = subprocess.run(
        [str(exe), "--db", str(tmp_path / "s.db"), "request", "status"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    _assert_one_line_error(out.stderr)


def test_bare_command_opens_the_console_with_its_options(
    run_cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import tui.app

    opened: list[tuple[bool, str]] = []
    monkeypatch.setattr(
        tui.app, "run_console", lambda services, *, mouse, theme: opened.append((mouse, theme))
    )
    assert run_cli("--no-mouse", "--theme", "ansi-dark").code == 0
    assert run_cli("tui", "--theme", "nord").code == 0
    assert run_cli().code == 0
    assert opened == [(False, "ansi-dark"), (True, "nord"), (True, "textual-dark")]


@pytest.mark.parametrize(
    "command", [["doctor", "--offline"], ["dry-run", "{profiles}", "{visitors}", "{outbound}"]]
)
def test_a_closed_stdout_ends_quietly_with_141(db_path: Path, tmp_path: Path, command) -> None:  # type: ignore[no-untyped-def]
    """``audiencectl doctor | head -1``: the reader gone, the command stops quietly with
    141 (docs/reference.md §1), not 1, which would mean findings."""
    from tests.test_import_cli import cli, demo_store

    ws = demo_store(tmp_path / "demo", db_path)
    fill = {
        "{profiles}": f"--profiles={ws.profiles_csv}",
        "{visitors}": f"--visitors={ws.visitors_csv}",
        "{outbound}": str(ws.inbox),
    }
    process = cli(db_path, *[fill.get(arg, arg) for arg in command])
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line
    err = process.stderr.read()
    assert process.wait() == 141, err
    assert err == ""
