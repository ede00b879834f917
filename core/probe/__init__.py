"""Probing an account stage by stage: where exactly does the connection break?

``probe()`` runs the stages of the account's type (docs/reference.md §5), each
separately timed and bounded by ``timeout``:

- SFTP: ``dns``, ``tcp``, ``banner``, ``hostkey``, ``auth``, ``sftp``, ``list``;
- Amazon S3: ``dns``, ``tcp``, ``tls``, ``auth``, ``bucket``, ``list``;
- a local folder: the SFTP network stages as ``skip``, then ``list``;

then ``read`` (import account) or ``write`` (export account). Every failure
becomes a stage with a detail (what happened) and a hint (what the admin should
do); after the first failure the remaining stages are ``skip``. The probe never
raises for a server-side problem and never prints.

Layout: ``common`` (results, report, runner, DNS/TCP), ``sftp``, ``s3``, ``local``.
"""

from __future__ import annotations

from collections.abc import Callable

from core import clock
from core.hostkeys import HostKeyCheck
from core.model import Account, AccountType, Role
from core.probe.common import (
    H_DROPPED,
    H_FILTERED,
    PROBE_PREFIX,
    READ_LIMIT,
    Credentials,
    ProbeReport,
    StageError,
    StageResult,
    StageRunner,
    StageStatus,
    connect_tcp,
    make_report,
    resolve,
)
from core.probe.local import probe_local
from core.probe.s3 import S3_EXPORT_STAGES, S3_IMPORT_STAGES, S3_NETWORK_STAGES, probe_s3
from core.probe.sftp import (
    EXPORT_STAGES,
    H_BAD_PASSWORD,
    H_EOF,
    H_KEYS_ONLY,
    H_NO_SFTP,
    H_OTHER_SERVICE,
    H_SILENT,
    H_UNKNOWN_KEY,
    IMPORT_STAGES,
    NETWORK_STAGES,
    SshSession,
    authenticate,
    handshake,
    open_sftp,
    probe_sftp,
    quiet_paramiko,
    read_banner,
    server_host_key,
)

__all__ = [
    "EXPORT_STAGES",
    "H_BAD_PASSWORD",
    "H_DROPPED",
    "H_EOF",
    "H_FILTERED",
    "H_KEYS_ONLY",
    "H_NO_SFTP",
    "H_OTHER_SERVICE",
    "H_SILENT",
    "H_UNKNOWN_KEY",
    "IMPORT_STAGES",
    "NETWORK_STAGES",
    "PROBE_PREFIX",
    "READ_LIMIT",
    "S3_EXPORT_STAGES",
    "S3_IMPORT_STAGES",
    "S3_NETWORK_STAGES",
    "Credentials",
    "ProbeReport",
    "SshSession",
    "StageError",
    "StageResult",
    "StageStatus",
    "authenticate",
    "connect_tcp",
    "handshake",
    "open_sftp",
    "probe",
    "quiet_paramiko",
    "read_banner",
    "resolve",
    "server_host_key",
    "stages_for",
]


def stages_for(account: Account) -> tuple[str, ...]:
    """The stage names a probe of ``account`` reports, in order."""
    if account.type is AccountType.S3:
        return S3_IMPORT_STAGES if account.role is Role.IMPORT else S3_EXPORT_STAGES
    return IMPORT_STAGES if account.role is Role.IMPORT else EXPORT_STAGES


def probe(
    account: Account,
    creds: Credentials,
    hostkeys: HostKeyCheck,
    *,
    timeout: float = 10.0,
    on_stage: Callable[[StageResult], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ProbeReport:
    """Probes ``account`` stage by stage and returns the report; never raises for a
    problem on the server's side.

    Each stage is bounded by ``timeout`` seconds, so a silent host ends the
    probe within about ``timeout``. ``on_stage`` is called with each result as
    it is known (skips included); ``cancelled`` is checked between stages and
    turns the remaining stages into ``skip`` "cancelled". The write stage of an
    export account leaves nothing behind, even when it fails half-way.
    Sockets and connections are always closed. ``hostkeys`` matters for SFTP only.
    """
    started_at = clock.now()
    runner = StageRunner(on_stage, cancelled)
    if account.type is AccountType.LOCAL:
        probe_local(account, runner)
        return make_report(account, runner, None, started_at, None)
    if account.type is AccountType.S3:
        probe_s3(account, creds, runner, timeout)
        return make_report(account, runner, None, started_at, None)
    host_key, error = probe_sftp(account, creds, hostkeys, runner, timeout)
    return make_report(account, runner, host_key, started_at, error)
