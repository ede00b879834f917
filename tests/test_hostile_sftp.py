"""SFTP downloads stop at the listed size, and a documented maximum, on a real OpenSSH server."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.transport.base
from core.errors import ConnectionFailure
from core.transport import FileTransport

NAME = "ftp_46390_14016_iso8601_full.sync"
BODY = b"59767559181262060060278870901087098252 246\n"  # 43 bytes


@pytest.mark.sshd
def test_a_file_that_keeps_growing_while_read_is_stopped(
    sftp_files: tuple[FileTransport, Path],
) -> None:
    files, disk = sftp_files
    (disk / NAME).write_bytes(BODY)
    assert [f.size for f in files.list()] == [43]
    with pytest.raises(ConnectionFailure) as caught, files.fetch(NAME) as stream:
        with (disk / NAME).open("ab") as grow:  # the server keeps sending
            grow.write(b"7" * (4 << 20))
        read = 0
        while block := stream.read(1 << 16):
            read += len(block)
            assert read <= 43
    assert f"{NAME}: the server sent more than the 43 bytes it listed" in str(caught.value)


@pytest.mark.sshd
def test_a_file_of_the_listed_size_reads_whole(sftp_files: tuple[FileTransport, Path]) -> None:
    files, disk = sftp_files
    (disk / NAME).write_bytes(BODY * 10_000)
    with files.fetch(NAME) as stream:
        assert stream.read() == BODY * 10_000


@pytest.mark.sshd
def test_a_file_over_the_maximum_is_refused_before_download(
    sftp_files: tuple[FileTransport, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    files, disk = sftp_files
    (disk / NAME).write_bytes(BODY)
    monkeypatch.setattr(core.transport.base, "MAX_DOWNLOAD_BYTES", 40)
    with pytest.raises(ConnectionFailure, match="larger than the 40 bytes"), files.fetch(NAME):
        pass


@pytest.mark.sshd
def test_a_stale_part_upload_is_removed_over_sftp(sftp_files: tuple[FileTransport, Path]) -> None:
    import os
    import time

    from core.leftovers import STALE_PART_SECONDS, clean_remote_leftovers

    files, disk = sftp_files
    stale = disk / ".ftp_dpm_14016_1700000000.sync.part-0123456789ab"
    fresh = disk / ".ftp_dpm_14016_1700000001.sync.part-ba9876543210"
    for path in (stale, fresh, disk / NAME):
        path.write_bytes(BODY)
    old = time.time() - STALE_PART_SECONDS - 60
    os.utime(stale, (old, old))
    assert [f.name for f in files.list()] == [NAME]
    assert clean_remote_leftovers(files) == [stale.name]
    assert sorted(p.name for p in disk.iterdir()) == sorted([fresh.name, NAME])
