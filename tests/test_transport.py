"""FileTransport on a real OpenSSH server and on a local folder."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest

from core.errors import ConnectionFailure, InputError
from core.hostkeys import HostKey, HostKeyChanged, HostKeyCheck, HostKeyUnknown, MemoryHostKeyStore
from core.model import Account, AccountType, Role
from core.probe import Credentials
from core.transport import FileTransport, RemoteFileExists, check_remote_name, open_transport
from tests.sshd import HOST, SAMPLE_BYTES, SAMPLE_NAME, Sshd, SshdWorld

sshd_test = pytest.mark.sshd

BAD_NAMES = [
    "",
    "a/b",
    "/etc/passwd",
    "..",
    ".",
    "../up",
    "x..y",
    "back\\slash",
    "nul\x00",
    "line\nfeed",
    "del\x7f",
    "c1\x85",
    "é" * 128,  # 256 bytes
    "bad\udcffbyte",  # what os.fsdecode makes of a non-UTF-8 byte
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_check_remote_name_rejects(name: str) -> None:
    with pytest.raises(InputError):
        check_remote_name(name)


@pytest.mark.parametrize(
    "name", [SAMPLE_NAME, "ftp_dpm_14016_1700000000.sync.1.gz", ".hidden", "é" * 127, "a b"]
)
def test_check_remote_name_accepts(name: str) -> None:
    assert check_remote_name(name) == name


def make_bad_files(folder: Path) -> None:
    """Files a hostile or sloppy server could list: control characters, not UTF-8."""
    for raw in (b"bad\x01name.sync", b"caf\xe9.sync"):
        fd = os.open(os.path.join(os.fsencode(folder), raw), os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)


def upload_source(tmp_path: Path, size: int, name: str = "source.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


# --------------------------------------------------------------------------- SFTP


@sshd_test
def test_sftp_list_and_fetch(sshd: Sshd, sshd_world: SshdWorld) -> None:
    account = Account(
        role=Role.IMPORT,
        host=HOST,
        port=sshd.port,
        user=sshd_world.password_user,
        remote_dir="/inbox",
    )
    check = HostKeyCheck(MemoryHostKeyStore(), trust_new=True)
    with open_transport(account, Credentials(password=sshd_world.password), check, 5) as files:
        listed = files.list()
        assert [f.name for f in listed] == [SAMPLE_NAME]
        disk = sshd_world.disk("/inbox") / SAMPLE_NAME
        assert listed[0].size == len(SAMPLE_BYTES)
        assert int(listed[0].mtime) == int(disk.stat().st_mtime)
        with files.fetch(SAMPLE_NAME) as stream:
            first = stream.readline()
            assert first == SAMPLE_BYTES.split(b"\n")[0] + b"\n"
            assert first + stream.read() == SAMPLE_BYTES
        with files.fetch(SAMPLE_NAME) as stream:
            assert stream.read() == SAMPLE_BYTES
        with pytest.raises(InputError):
            files.fetch("../etc/passwd").__enter__()
        with pytest.raises(ConnectionFailure, match="does not exist"), files.fetch("nope.sync"):
            pass


@sshd_test
def test_sftp_key_user(sshd: Sshd, sshd_world: SshdWorld) -> None:
    account = Account(
        role=Role.EXPORT, host=HOST, port=sshd.port, user=sshd_world.key_user, remote_dir="/keyhome"
    )
    creds = Credentials(private_key=sshd_world.keys["rsa_pem"].text)
    with open_transport(account, creds, HostKeyCheck(MemoryHostKeyStore(), True), 5) as files:
        assert files.list() == []


@sshd_test
def test_sftp_upload_atomic(sftp_files: tuple[FileTransport, Path], tmp_path: Path) -> None:
    files, disk = sftp_files
    source = upload_source(tmp_path, 300_000)
    seen: list[tuple[int, int]] = []
    files.upload_atomic(
        source,
        "ftp_dpm_14016_1700000000.sync",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert sorted(os.listdir(disk)) == ["ftp_dpm_14016_1700000000.sync"]
    assert (disk / "ftp_dpm_14016_1700000000.sync").read_bytes() == source.read_bytes()
    assert seen[-1] == (300_000, 300_000)
    # an existing file is never replaced (AAM may not have read it yet)
    second = upload_source(tmp_path, 1000, "second.bin")
    with pytest.raises(RemoteFileExists):
        files.upload_atomic(second, "ftp_dpm_14016_1700000000.sync")
    assert (disk / "ftp_dpm_14016_1700000000.sync").read_bytes() == source.read_bytes()
    assert [f.name for f in files.list()] == ["ftp_dpm_14016_1700000000.sync"]
    assert sorted(os.listdir(disk)) == ["ftp_dpm_14016_1700000000.sync"]  # no temp left
    assert files.remove("ftp_dpm_14016_1700000000.sync") is True
    assert files.remove("ftp_dpm_14016_1700000000.sync") is False
    assert os.listdir(disk) == []


@sshd_test
def test_sftp_failure_mid_upload_leaves_no_final_file(
    sftp_files: tuple[FileTransport, Path], tmp_path: Path
) -> None:
    files, disk = sftp_files
    previous = upload_source(tmp_path, 100, "previous.bin")
    files.upload_atomic(previous, "out.sync")
    calls = {"n": 0}

    def break_half_way(done: int, total: int) -> None:
        calls["n"] += 1
        if done >= total // 2:
            raise RuntimeError("network cable pulled")

    with pytest.raises(RuntimeError, match="cable"):
        files.upload_atomic(upload_source(tmp_path, 2_000_000), "out.sync", progress=break_half_way)
    assert calls["n"] >= 1
    assert os.listdir(disk) == ["out.sync"]  # no temporary file left
    assert (disk / "out.sync").read_bytes() == previous.read_bytes()  # untouched

    with pytest.raises(RuntimeError):
        files.upload_atomic(upload_source(tmp_path, 2_000_000), "new.sync", progress=break_half_way)
    assert os.listdir(disk) == ["out.sync"]


@sshd_test
def test_sftp_rename_failure_leaves_nothing(
    sftp_files: tuple[FileTransport, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, disk = sftp_files

    def broken(self: paramiko.SFTPClient, old: str, new: str) -> None:
        raise OSError("Failure")

    monkeypatch.setattr(paramiko.SFTPClient, "rename", broken)
    with pytest.raises(ConnectionFailure, match="upload"):
        files.upload_atomic(upload_source(tmp_path, 5000), "out.sync")
    assert os.listdir(disk) == []


@sshd_test
def test_sftp_upload_to_read_only_folder(sshd: Sshd, sshd_world: SshdWorld, tmp_path: Path) -> None:
    before = sorted(os.listdir(sshd_world.disk("/readonly")))
    account = Account(
        role=Role.EXPORT,
        host=HOST,
        port=sshd.port,
        user=sshd_world.password_user,
        remote_dir="/readonly",
    )
    check = HostKeyCheck(MemoryHostKeyStore(), trust_new=True)
    with open_transport(account, Credentials(password=sshd_world.password), check, 5) as files:
        with pytest.raises(ConnectionFailure, match="permission denied"):
            files.upload_atomic(upload_source(tmp_path, 100), "out.sync")
        with pytest.raises(ConnectionFailure, match="permission denied"):
            files.remove("readme.sync")
    assert sorted(os.listdir(sshd_world.disk("/readonly"))) == before


@sshd_test
def test_sftp_listing_skips_bad_names(sftp_files: tuple[FileTransport, Path]) -> None:
    files, disk = sftp_files
    make_bad_files(disk)
    (disk / "good.sync").write_bytes(b"1 2\n")
    (disk / ".good.sync.part-0123456789ab").write_bytes(b"partial")
    (disk / "sub").mkdir()
    assert [f.name for f in files.list()] == ["good.sync"]
    assert sorted(files.list_rejected) == ["bad\\x01name.sync", "caf\\xe9.sync"]


@sshd_test
def test_transfers_refuse_a_changed_host_key(sshd: Sshd, sshd_world: SshdWorld) -> None:
    store = MemoryHostKeyStore()
    store.pin(HOST, sshd.port, HostKey("ssh-ed25519", "SHA256:" + "A" * 43))
    account = Account(
        role=Role.IMPORT,
        host=HOST,
        port=sshd.port,
        user=sshd_world.password_user,
        remote_dir="/inbox",
    )
    creds = Credentials(password=sshd_world.password)
    with pytest.raises(HostKeyChanged) as caught:
        open_transport(account, creds, HostKeyCheck(store, trust_new=True), 5)
    assert sshd.host_key_fingerprint in caught.value.message
    with pytest.raises(HostKeyUnknown):
        open_transport(account, creds, HostKeyCheck(MemoryHostKeyStore(), trust_new=False), 5)


@sshd_test
def test_connection_failures_carry_the_probe_hints(
    sshd: Sshd, sshd_world: SshdWorld, closed_port: int
) -> None:
    check = HostKeyCheck(MemoryHostKeyStore(), trust_new=True)
    account = Account(role=Role.IMPORT, host=HOST, port=closed_port, user="u")
    with pytest.raises(ConnectionFailure) as caught:
        open_transport(account, Credentials(password="x"), check, 5)
    assert "closed port" in caught.value.hint
    account = Account(role=Role.IMPORT, host=HOST, port=sshd.port, user=sshd_world.password_user)
    with pytest.raises(ConnectionFailure) as caught:
        open_transport(account, Credentials(password="wrong"), check, 5)
    assert "wrong user name or password" in caught.value.hint


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@sshd_test
def test_stalled_download_ends_within_the_timeout(
    sshd_rekeyable: Sshd, sshd_world: SshdWorld, chroot_dir: Callable[..., str]
) -> None:
    folder = chroot_dir()
    big = sshd_world.disk(folder) / "big.sync"
    big.write_bytes(os.urandom(24 * 1024 * 1024))
    account = Account(
        role=Role.IMPORT,
        host=HOST,
        port=sshd_rekeyable.port,
        user=sshd_world.password_user,
        remote_dir=folder,
    )
    check = HostKeyCheck(MemoryHostKeyStore(), trust_new=True)
    assert sshd_rekeyable.proc is not None
    stopped: list[int] = []
    try:
        with (
            open_transport(account, Credentials(password=sshd_world.password), check, 1.5) as files,
            files.fetch("big.sync") as stream,
        ):
            assert len(stream.read(1024)) == 1024
            stopped = _descendants(sshd_rekeyable.proc.pid)
            assert stopped
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(ConnectionFailure, match=r"stalled|no answer|failed"):
                while stream.read(1024 * 1024):
                    pass
            # the 1.5 s stall timeout ends the read (margin for a loaded machine)
            assert time.monotonic() - started < 1.5 + 6
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


# -------------------------------------------------------------------------- local


def _local_account(path: Path) -> Account:
    return Account(role=Role.EXPORT, type=AccountType.LOCAL, path=str(path))


def _open_local(path: Path) -> FileTransport:
    return open_transport(
        _local_account(path), Credentials(), HostKeyCheck(MemoryHostKeyStore(), False)
    )


def test_local_transport(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.sync").write_bytes(b"a 1\n")
    (folder / "sub").mkdir()
    make_bad_files(folder)
    with _open_local(folder) as files:
        listed = files.list()
        assert [(f.name, f.size) for f in listed] == [("a.sync", 4)]
        assert len(files.list_rejected) == 2
        with files.fetch("a.sync") as stream:
            assert stream.read() == b"a 1\n"
        source = upload_source(tmp_path, 700_000)
        seen: list[tuple[int, int]] = []
        files.upload_atomic(source, "b.sync", progress=lambda d, t: seen.append((d, t)))
        assert (folder / "b.sync").read_bytes() == source.read_bytes()
        assert seen[-1] == (700_000, 700_000)
        assert [f.name for f in files.list()] == ["a.sync", "b.sync"]
        with pytest.raises(RemoteFileExists):
            files.upload_atomic(upload_source(tmp_path, 10, "other.bin"), "b.sync")
        assert (folder / "b.sync").read_bytes() == source.read_bytes()
        assert not [p for p in folder.iterdir() if ".part-" in p.name]
        assert files.remove("b.sync") is True
        assert files.remove("b.sync") is False
        with pytest.raises(InputError):
            files.upload_atomic(source, "../escape.sync")
        with pytest.raises(InputError):
            files.upload_atomic(tmp_path / "missing.bin", "c.sync")


def test_local_failure_mid_upload_leaves_no_final_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "out.sync").write_bytes(b"previous")

    def boom(done: int, total: int) -> None:
        raise RuntimeError("disk pulled")

    with _open_local(folder) as files:
        for name in ("out.sync", "new.sync"):
            with pytest.raises(RuntimeError):
                files.upload_atomic(upload_source(tmp_path, 1_000_000), name, progress=boom)
    assert sorted(p.name for p in folder.iterdir()) == ["out.sync"]
    assert (folder / "out.sync").read_bytes() == b"previous"


def test_local_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailure, match="does not exist"):
        _open_local(tmp_path / "nope")


def test_local_endless_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.transport.local.MAX_LISTING", 3)
    for number in range(5):
        (tmp_path / f"{number}.sync").write_bytes(b"")
    with _open_local(tmp_path) as files, pytest.raises(ConnectionFailure, match="endless"):
        files.list()


@sshd_test
def test_sftp_endless_listing(
    sftp_files: tuple[FileTransport, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    files, disk = sftp_files
    monkeypatch.setattr("core.transport.sftp.MAX_LISTING", 3)
    for number in range(5):
        (disk / f"{number}.sync").write_bytes(b"")
    with pytest.raises(ConnectionFailure, match="endless"):
        files.list()
    monkeypatch.setattr("core.transport.sftp.MAX_LISTING", 100)
    assert len(files.list()) == 5  # the session is still usable
