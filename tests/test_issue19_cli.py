"""Small CLI messages a first-time user tripped on (issue 19)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE_TOML


def test_a_short_aes_key_is_said_once_without_nested_brackets(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "short-key.toml"
    good = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
    toml.write_text(SAMPLE_TOML.replace(good, "00112233445566778899aabbccddeeff0011"))
    result = run_cli("config", "import", str(toml))
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "aes_key" in line and "18 bytes" in line
    assert line.count("16, 24 or 32") == 1
    hint = line.partition("(hint: ")[2]
    assert hint and "(" not in hint  # no brackets inside the hint's brackets
