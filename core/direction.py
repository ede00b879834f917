"""Are the two accounts pointed the right way?

``importSharedAudience`` carries AAM's *outbound* files to Campaign;
``exportSharedAudience`` carries Campaign's files to AAM's *inbound* side.
Mixing the two up (or entering the same server twice) is a classic reason why
"audiences are not shared". :func:`direction_findings` spots the tell-tale
signs from the configuration alone, without any network access; the accounts
screen shows them as a banner and the checklist reports them as
``account.direction``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.model import Account, AccountType, Environment

FindingLevel = Literal["warn", "fail"]

#: The historical Adobe hosts: AAM wrote to Campaign from ftp-out, read from ftp-in.
DEMDEX_IMPORT_HOST = "ftp-out.demdex.com"
DEMDEX_EXPORT_HOST = "ftp-in.demdex.com"
DEMDEX_HOSTS = (DEMDEX_IMPORT_HOST, DEMDEX_EXPORT_HOST)

#: Words that name AAM's inbound side (where Campaign's exports go).
INBOUND_WORDS = frozenset({"in", "inbound", "upload", "uploads"})
#: Words that name AAM's outbound side (where Campaign's imports come from).
OUTBOUND_WORDS = frozenset({"out", "outbound", "download", "downloads"})

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Finding:
    """One direction problem: ``level`` is ``warn`` or ``fail``; ``fix`` says what to do.

    ``code`` names the kind of finding (``identical``, ``swapped``,
    ``deprecated_host``) for programs; the message is for people.
    """

    level: FindingLevel
    message: str
    fix: str
    code: str = ""


def _host(account: Account) -> str:
    """The server's name: an SFTP host, or an S3 account's bucket."""
    if account.type is AccountType.S3:
        return account.s3_location.bucket
    return account.host.strip().lower().rstrip(".")


def _folder(account: Account) -> str:
    if account.type is AccountType.S3:
        return account.s3_location.prefix.rstrip("/")
    raw = account.path if account.type is AccountType.LOCAL else account.remote_dir
    folder = raw.strip().rstrip("/")
    if account.type is AccountType.SFTP and folder in ("", "."):
        return "."
    return folder


def _is_set(account: Account) -> bool:
    if account.type is AccountType.LOCAL:
        return bool(account.path.strip())
    if account.type is AccountType.S3:
        return bool(account.server.strip())
    return bool(account.host.strip())


def _words(account: Account) -> set[str]:
    """The words of the account's host and folder, lower-cased."""
    named = account.type in (AccountType.SFTP, AccountType.S3)
    text = f"{_host(account) if named else ''} {_folder(account)}"
    return set(_TOKEN.findall(text.lower()))


def _identical(a: Account, b: Account) -> bool:
    if a.type is not b.type:
        return False
    if a.type is AccountType.LOCAL:
        return _folder(a) == _folder(b)
    if a.type is AccountType.S3:
        return (a.endpoint_url, _host(a), _folder(a)) == (b.endpoint_url, _host(b), _folder(b))
    return (
        _host(a) == _host(b)
        and a.port == b.port
        and a.user.strip() == b.user.strip()
        and _folder(a) == _folder(b)
    )


def _where(account: Account) -> str:
    if account.type is AccountType.LOCAL:
        return f"folder {account.path}"
    if account.type is AccountType.S3:
        return account.s3_location.url
    folder = account.remote_dir or "."
    return f"{account.host} folder {folder}"


def direction_findings(env: Environment) -> list[Finding]:
    """Everything that suggests the accounts point the wrong way, worst first.

    - ``identical`` (fail): both accounts name the same host, port, user and
      folder (or the same local folder); Campaign would read back its own exports.
    - ``swapped`` (fail): the import account's host or folder says in/inbound/upload
      and the export's says out/outbound/download, or the import host is
      ``ftp-in.demdex.com`` / the export host ``ftp-out.demdex.com``.
      A hint on one side only is a ``warn``.
    - ``deprecated_host`` (fail): a demdex FTP host (``ftp-out``/``ftp-in.demdex.com``),
      no longer available since Campaign 21.1.3: the fix is an Amazon S3 account.

    Accounts that are not configured yet are ignored.
    """
    imp, exp = env.import_account, env.export_account
    findings: list[Finding] = []
    imp_set, exp_set = _is_set(imp), _is_set(exp)

    if imp_set and exp_set and _identical(imp, exp):
        findings.append(
            Finding(
                "fail",
                f"both accounts point to the same place ({_where(imp)}): Campaign would read "
                "back its own exports",
                "importSharedAudience reads AAM's outbound folder and exportSharedAudience "
                "writes AAM's inbound folder: enter the folders Adobe sent for each direction",
                "identical",
            )
        )
    else:
        findings.extend(_swapped(imp, exp, imp_set, exp_set))

    for account, is_set in ((imp, imp_set), (exp, exp_set)):
        host = _host(account)
        if is_set and account.type is AccountType.SFTP and host in DEMDEX_HOSTS:
            findings.append(
                Finding(
                    "fail",
                    f"{account.role.campaign_name} uses {host}: the demdex FTP hosts were "
                    "deprecated in Campaign 20.3 and are no longer available since 21.1.3",
                    f"move {account.role.campaign_name} to an Amazon S3 account: ask Adobe for "
                    "the bucket server (<bucket>.s3.amazonaws.com/<path>), the AWS access key "
                    "ID, the secret access key and the AWS region, and whether to use "
                    "server-side encryption",
                    "deprecated_host",
                )
            )
    findings.sort(key=lambda f: 0 if f.level == "fail" else 1)
    return findings


def _swapped(imp: Account, exp: Account, imp_set: bool, exp_set: bool) -> list[Finding]:
    imp_host = _host(imp) if imp.type is AccountType.SFTP else ""
    exp_host = _host(exp) if exp.type is AccountType.SFTP else ""
    demdex_swapped = (imp_set and imp_host == DEMDEX_EXPORT_HOST) or (
        exp_set and exp_host == DEMDEX_IMPORT_HOST
    )
    imp_inbound = imp_set and bool(_words(imp) & INBOUND_WORDS)
    exp_outbound = exp_set and bool(_words(exp) & OUTBOUND_WORDS)
    fix = (
        "swap them: importSharedAudience (AAM → Campaign) reads AAM's outbound side, "
        "exportSharedAudience (Campaign → AAM) writes AAM's inbound side"
    )
    if demdex_swapped:
        return [
            Finding(
                "fail",
                "the accounts look swapped: the import account must use "
                f"{DEMDEX_IMPORT_HOST} and the export account {DEMDEX_EXPORT_HOST} "
                f"(import: {imp_host or '-'}, export: {exp_host or '-'})",
                fix,
                "swapped",
            )
        ]
    if imp_inbound and exp_outbound:
        return [
            Finding(
                "fail",
                f"the accounts look swapped: the import account ({_where(imp)}) names AAM's "
                f"inbound side and the export account ({_where(exp)}) its outbound side",
                fix,
                "swapped",
            )
        ]
    if imp_inbound:
        return [
            Finding(
                "warn",
                f"the import account ({_where(imp)}) names an inbound/upload side: that is "
                "where Campaign's exports go, not where AAM's files come from",
                "check with the folders Adobe sent: the import account reads AAM's outbound folder",
                "swapped",
            )
        ]
    if exp_outbound:
        return [
            Finding(
                "warn",
                f"the export account ({_where(exp)}) names an outbound/download side: that is "
                "where AAM's files for Campaign come from, not where Campaign's exports go",
                "check with the folders Adobe sent: the export account writes AAM's inbound folder",
                "swapped",
            )
        ]
    return []


__all__ = ["DEMDEX_HOSTS", "Finding", "FindingLevel", "direction_findings"]
