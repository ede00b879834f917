"""One file interface for both kinds of account: an SFTP server or a local folder.

``open_transport()`` connects (SFTP: the same steps and host key policy as the
probe, so a changed host key is refused for transfers too) and returns a
``FileTransport`` to use as a context manager::

    with open_transport(account, creds, hostkeys, timeout=30) as files:
        for remote in files.list():
            with files.fetch(remote.name) as stream:
                ...
        files.upload_atomic(Path("out.sync"), "ftp_dpm_14016_1700000000.sync")

Every server-side problem is raised as ``ConnectionFailure`` (message + hint);
a bad remote name as ``InputError``; host key problems as ``HostKeyChanged`` /
``HostKeyUnknown``. A stalled server ends any operation within the timeout.
A transport is not thread-safe: open one per thread.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ConnectionFailure
from core.hostkeys import HostKeyCheck
from core.model import Account, AccountType
from core.probe import Credentials, SshSession, StageError
from core.text import printable_name
from core.transport.base import (
    CHUNK,
    MAX_DOWNLOAD_BYTES,
    MAX_LISTING,
    MAX_NAME_BYTES,
    SYMLINK_REASON,
    FileTransport,
    Progress,
    RemoteFile,
    RemoteFileExists,
    check_remote_name,
)
from core.transport.local import LocalTransport
from core.transport.sftp import SftpTransport


def open_transport(
    account: Account, creds: Credentials, hostkeys: HostKeyCheck, timeout: float = 30.0
) -> FileTransport:
    """Connects to ``account`` and returns its FileTransport.

    SFTP accounts go through the probe's steps (DNS, TCP, banner, host key via
    ``hostkeys``, authentication, SFTP); the first failure raises
    ``ConnectionFailure`` with the probe's hint, or ``HostKeyChanged`` /
    ``HostKeyUnknown``. Local accounts need an existing folder. S3 accounts
    (``core.transport.s3``) check keys, bucket and region with one request.
    """
    if account.type is AccountType.LOCAL:
        return LocalTransport(Path(account.path))
    if account.type is AccountType.S3:
        from core.transport.s3 import open_s3  # boto3 loads only for S3 accounts

        return open_s3(account, creds, timeout)
    session = SshSession(account, timeout)
    try:
        session.connect(creds, hostkeys)
    except StageError as exc:
        session.close()
        raise ConnectionFailure(f"{account.endpoint}: {exc.detail}", exc.hint) from None
    except BaseException:
        session.close()
        raise
    return SftpTransport(session, account.remote_dir or ".")


__all__ = [
    "CHUNK",
    "MAX_DOWNLOAD_BYTES",
    "MAX_LISTING",
    "MAX_NAME_BYTES",
    "SYMLINK_REASON",
    "FileTransport",
    "LocalTransport",
    "Progress",
    "RemoteFile",
    "RemoteFileExists",
    "SftpTransport",
    "check_remote_name",
    "open_transport",
    "printable_name",
]
