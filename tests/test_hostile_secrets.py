"""`file:` secret references: regular files only, bounded, no hang; loose modes warned."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from core.errors import SecretError
from core.secrets import MAX_SECRET_FILE_BYTES, Secret, SecretBox


def resolve_in_thread(box: SecretBox, secret: Secret) -> object:
    """Resolves in a thread; a hang shows as the thread still alive after the join."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(box.resolve(secret, "c", "password"))
        except SecretError as exc:
            out.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "reading the secret hung"
    return out[0]


def test_dev_zero_is_refused_as_not_a_regular_file(tmp_path: Path) -> None:
    result = resolve_in_thread(SecretBox(tmp_path / "k"), Secret("file", "/dev/zero"))
    assert isinstance(result, SecretError)
    assert "password" in str(result) and "not a regular file" in str(result)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = resolve_in_thread(SecretBox(tmp_path / "k"), Secret("file", str(fifo)))
    assert isinstance(result, SecretError) and "not a regular file" in str(result)


def test_a_secret_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (MAX_SECRET_FILE_BYTES + 1))
    big.chmod(0o600)
    with pytest.raises(SecretError, match="larger than 64 KiB"):
        SecretBox(tmp_path / "k").resolve(Secret("file", str(big)), "c", "password")
    big.write_bytes(b"x" * MAX_SECRET_FILE_BYTES)
    assert len(SecretBox(tmp_path / "k").resolve(Secret("file", str(big)), "c")) == (
        MAX_SECRET_FILE_BYTES
    )


def test_a_group_or_world_readable_secret_file_is_read_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pw"
    path.write_text("s3cret-value\n", encoding="utf-8")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="audiencectl"):
        assert SecretBox(tmp_path / "k").resolve(Secret("file", str(path)), "c") == "s3cret-value"
    assert f"secret file {path} is readable by group or others (mode 644)" in caplog.text
    assert f"chmod 600 {path}" in caplog.text
    assert "s3cret-value" not in caplog.text
    caplog.clear()
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="audiencectl"):
        SecretBox(tmp_path / "k").resolve(Secret("file", str(path)), "c")
    assert caplog.text == ""
