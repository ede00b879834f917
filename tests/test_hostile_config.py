"""Hostile configuration values: huge numbers and control characters in labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE_TOML

HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("dpid = 14016", f'dpid = "{HUGE}"', "dpid"),
        ("dpid = 14016", f"dpid = {HUGE}", "dpid"),
        ("destination_id = 46390", f'destination_id = "{HUGE}"', "destination_id"),
        ("priority = 10", f"priority = {HUGE}", "priority"),
        ("port = 22", f"port = {HUGE}", "port"),
        ("port = 22", f'port = "{HUGE}"', "port"),
    ],
    ids=["dpid-text", "dpid", "destination_id-text", "priority", "port", "port-text"],
)
def test_a_5000_digit_number_is_a_one_line_error_naming_the_field(
    run_cli, tmp_path: Path, db_path: Path, old: str, new: str, field: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "huge.toml"
    path.write_text(SAMPLE_TOML.replace(old, new, 1), encoding="utf-8")
    result = run_cli("config", "import", str(path))
    assert result.code == 2, result.err
    assert field in result.err
    assert "Traceback" not in result.err and "4300" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert len(result.err) < 400
