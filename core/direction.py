"""Are the two accounts pointed the right way?

``importSharedAudience`` carries AAM's *outbound* files to Campaign;
``exportSharedAudience`` carries Campaign's files to AAM's *inbound* side.
Mixing the two up (or entering the same server twice) is a classic reason why
"audiences are not shared". :func:`direction_findings` spots the tell-tale
signs; the accounts screen shows them as a banner and the checklist reports them
as ``account.direction``.

Evidence outranks names (docs/adobe.md, "Who sends what to whom"). The file
names seen in a folder (a probe's listing, or a local folder's entries) decide:
AAM's outbound names (``ftp_<DID>_<DPID>_full|iter_<timestamp>...sync``, ``.info``
manifests) belong in the import folder, Campaign's exports (``ftp_dpm_...`` files,
``date=...`` folders) in the export folder; the other way round is a fail that
names the files. Folder and host words (``in``, ``out``, ``inbound``...) are only
a note: from Campaign's side ``in`` is where imports come from, so an import
account on ``/in`` is natural. Host words never include the registrable domain
(``.co.in`` is a country, not a direction).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from core.dnscheck import registrable_domain
from core.model import Account, AccountType, Environment, Role

FindingLevel = Literal["note", "warn", "fail"]

#: AAM's outbound names as evidence (any digit count: lenient on purpose, it only
#: tells sides apart; the import reads names by core.formats' rules).
_AAM_OUTBOUND = re.compile(
    r"[a-z][a-z0-9]*_[0-9]+_[0-9]+(?:_[a-z0-9-]+)?_(?:full|iter)_[0-9]{10,}[0-9-]*"
    r"(?:\.sync(?:\.gz)?|(?:\.sync)?\.info)",
    re.IGNORECASE,
)
#: Campaign's exports to AAM: ``ftp_dpm_<DPID>_<seconds>.sync...`` files, ``date=`` folders.
_AAM_INBOUND = re.compile(r"(?:ftp|s3)_dpm_[0-9]+_.*|date=[^/]*/", re.IGNORECASE)
#: How many names a finding quotes.
_QUOTED = 3

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

    ``code`` names the kind of finding (``identical``, ``swapped``, ``wrong_files``,
    ``confirmed``, ``folder_words``, ``deprecated_host``) for programs; the message is
    for people. ``note`` findings (folder words, files that confirm the direction)
    never change a check's status.
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


def _host_words(account: Account) -> str:
    """The host's labels left of its registrable domain (an S3 bucket as a whole)."""
    if account.type is AccountType.S3:
        return _host(account)
    if account.type is not AccountType.SFTP:
        return ""
    host = _host(account)
    domain = registrable_domain(host)
    return host[: -len(domain)] if domain and host.endswith(domain) else ""


def _words(account: Account) -> set[str]:
    """The words of the account's host (not its domain) and folder, lower-cased."""
    text = f"{_host_words(account)} {_folder(account)}"
    return set(_TOKEN.findall(text.lower()))


def outbound_names(names: Sequence[str]) -> list[str]:
    """The names that AAM writes for Campaign (outbound data files and manifests)."""
    return [n for n in names if _AAM_OUTBOUND.fullmatch(n)]


def inbound_names(names: Sequence[str]) -> list[str]:
    """The names Campaign writes for AAM (``ftp_dpm_`` files, ``date=`` folders)."""
    return [n for n in names if _AAM_INBOUND.fullmatch(n)]


def _quote(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_QUOTED])
    more = len(names) - _QUOTED
    return f"{shown} and {more} more" if more > 0 else shown


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


def direction_findings(
    env: Environment, seen: Mapping[Role, Sequence[str]] | None = None
) -> list[Finding]:
    """Everything that says which way the accounts point, worst first.

    ``seen`` holds the names listed in each account's folder (folders end in ``/``),
    when known.

    - ``identical`` (fail): both accounts name the same host, port, user and
      folder (or the same local folder); Campaign would read back its own exports.
    - ``wrong_files`` (fail): Campaign's exports (``ftp_dpm_``, ``date=``) in the import
      folder, or AAM's outbound files in the export folder; the message names them.
    - ``confirmed`` (note): AAM's outbound files in the import folder, or Campaign's
      exports in the export folder; folder words are then not even a note.
    - ``swapped`` (fail): the import host is ``ftp-in.demdex.com`` / the export host
      ``ftp-out.demdex.com``.
    - ``folder_words`` (note): the folder or host names a side (in/inbound/upload,
      out/outbound/download); a name is no evidence, so never more than a note.
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
        evidence = _evidence(imp, exp, imp_set, exp_set, seen or {})
        findings.extend(finding for _, finding in evidence)
        decided = {role for role, _ in evidence}
        findings.extend(
            _swapped(
                imp,
                exp,
                imp_set and Role.IMPORT not in decided,
                exp_set and Role.EXPORT not in decided,
            )
        )
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
    findings.sort(key=lambda f: {"fail": 0, "warn": 1}.get(f.level, 2))
    return findings


def _evidence(
    imp: Account,
    exp: Account,
    imp_set: bool,
    exp_set: bool,
    seen: Mapping[Role, Sequence[str]],
) -> list[tuple[Role, Finding]]:
    """What the listed names say about each folder, with the folder's role."""
    found: list[tuple[Role, Finding]] = []
    for account, is_set in ((imp, imp_set), (exp, exp_set)):
        names = list(seen.get(account.role, ()))
        if not is_set or not names:
            continue
        side = "import" if account.role is Role.IMPORT else "export"
        outbound, inbound = outbound_names(names), inbound_names(names)
        right, wrong = (outbound, inbound) if account.role is Role.IMPORT else (inbound, outbound)
        if wrong:
            what = (
                "Campaign's exports to AAM (ftp_dpm_ files, date= folders)"
                if account.role is Role.IMPORT
                else "AAM's outbound files for Campaign"
            )
            found.append(
                (
                    account.role,
                    Finding(
                        "fail",
                        f"the {side} folder ({_where(account)}) holds {what}: {_quote(wrong)}",
                        f"point {account.role.campaign_name} at the folder Adobe named for "
                        + (
                            "AAM's outbound files (importSharedAudience reads what AAM sends)"
                            if account.role is Role.IMPORT
                            else "AAM's inbound files (exportSharedAudience writes what AAM reads)"
                        ),
                        "wrong_files",
                    ),
                )
            )
        elif right:
            found.append(
                (
                    account.role,
                    Finding(
                        "note",
                        f"the {side} folder ({_where(account)}) holds "
                        + (
                            "AAM's outbound files"
                            if account.role is Role.IMPORT
                            else "Campaign's exports"
                        )
                        + f" ({_quote(right)}): pointed the right way",
                        "",
                        "confirmed",
                    ),
                )
            )
    return found


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
    notes: list[Finding] = []
    if imp_inbound:
        notes.append(
            Finding(
                "note",
                f"the import account ({_where(imp)}) is named for an inbound/upload side; "
                "from Campaign's side that can be right (imports come in), so only the files "
                "in it can tell",
                "compare with the folders Adobe sent: the import account reads AAM's outbound "
                "files (ftp_<DID>_<DPID>_full|iter_....sync)",
                "folder_words",
            )
        )
    if exp_outbound:
        notes.append(
            Finding(
                "note",
                f"the export account ({_where(exp)}) is named for an outbound/download side; "
                "from Campaign's side that can be right (exports go out), so only the files "
                "in it can tell",
                "compare with the folders Adobe sent: the export account writes AAM's inbound "
                "files (ftp_dpm_<DPID>_....sync)",
                "folder_words",
            )
        )
    return notes


__all__ = [
    "DEMDEX_HOSTS",
    "Finding",
    "FindingLevel",
    "direction_findings",
    "inbound_names",
    "outbound_names",
]
