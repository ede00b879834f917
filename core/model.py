"""The domain, as frozen dataclasses. An instance that exists is valid.

Constructors validate their fields and raise ``ValidationError`` naming the
field; front ends (config loader, TUI forms) prefix the path they know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar, cast

from core import s3
from core.errors import ValidationError
from core.ids import IMS_ORG_HINT, check_number_size, check_numeric_id, is_ims_org_id
from core.secrets import Secret


class Role(StrEnum):
    """Which way an account carries files, seen from Campaign."""

    IMPORT = "import"  # importSharedAudience: AAM -> Campaign (the console reads)
    EXPORT = "export"  # exportSharedAudience: Campaign -> AAM (the console writes)

    @property
    def campaign_name(self) -> str:
        return "importSharedAudience" if self is Role.IMPORT else "exportSharedAudience"

    @property
    def direction(self) -> str:
        return "AAM → Campaign" if self is Role.IMPORT else "Campaign → AAM"


class AccountType(StrEnum):
    SFTP = "sftp"
    S3 = "s3"
    LOCAL = "local"


#: The fields of each account type, in the order of Campaign's external account form
#: (the TOML keys, the console's rows; an export writes those of the account's type).
SFTP_FIELDS = (
    "host",
    "port",
    "user",
    "password",
    "private_key",
    "private_key_passphrase",
    "remote_dir",
    "host_key",
)
S3_FIELDS = (
    "server",
    "access_key_id",
    "secret_access_key",
    "region",
    "server_side_encryption",
    "endpoint_url",
    "ca_bundle",
)
LOCAL_FIELDS = ("path",)
FIELDS_OF_TYPE: dict[AccountType, tuple[str, ...]] = {
    AccountType.SFTP: SFTP_FIELDS,
    AccountType.S3: S3_FIELDS,
    AccountType.LOCAL: LOCAL_FIELDS,
}


class IdType(StrEnum):
    VISITOR = "visitor"
    DECLARED = "declared"


class Transform(StrEnum):
    NONE = "none"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    AES = "aes"

    @property
    def is_hash(self) -> bool:
        return self in (Transform.MD5, Transform.SHA1, Transform.SHA256)


class CipherEncoding(StrEnum):
    HEX = "hex"
    BASE64 = "base64"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    OTHER = "other"


class RequestStatus(StrEnum):
    """The provisioning request's life, in order."""

    DRAFT = "draft"
    SENT = "sent"
    PROVISIONED = "provisioned"
    CONFIGURED = "configured"
    VERIFIED = "verified"

    @property
    def rank(self) -> int:
        return list(RequestStatus).index(self)


ENVIRONMENTS = ("Production", "Stage", "Development")
SERVICES = ("Adobe Audience Manager", "People core service")
REQUEST_ID_TYPES = ("Declared ID", "Visitor ID")
REQUEST_TYPE = "Configure AAM/People core service-Campaign Integration"

_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?"
)
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def _choice(value: object, allowed: tuple[str, ...], field_name: str) -> str:
    if value not in allowed:
        raise ValidationError(
            field_name, f"{value!r} is not allowed", "one of: " + ", ".join(allowed)
        )
    return str(value)


E = TypeVar("E", bound=StrEnum)


def _enum(cls: type[E], value: object, field_name: str) -> E:
    try:
        return cls(cast(str, value))
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ValidationError(
            field_name, f"{value!r} is not allowed", f"one of: {allowed}"
        ) from None


def check_env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValidationError(
            "name",
            f"{name!r} is not a valid environment name",
            "letters, digits, '-', '_' and '.', up to 64 characters, e.g. production",
        )
    return name


def is_host(value: str) -> bool:
    return bool(_HOST.fullmatch(value))


@dataclass(frozen=True)
class ProvisioningRequest:
    """The email Adobe asks for to provision the integration (the fields of Adobe's setup page)."""

    organization: str = ""
    ims_org_id: str = ""
    environment: str = "Production"
    service: str = "Adobe Audience Manager"
    id_type: str = "Declared ID"
    additional_info: str = ""

    def __post_init__(self) -> None:
        _choice(self.environment, ENVIRONMENTS, "environment")
        _choice(self.service, SERVICES, "service")
        _choice(self.id_type, REQUEST_ID_TYPES, "id_type")
        if self.ims_org_id and not is_ims_org_id(self.ims_org_id):
            raise ValidationError(
                "ims_org_id", f"{self.ims_org_id!r} is not an IMS Org ID", IMS_ORG_HINT
            )
        if len(self.organization) > 200:
            raise ValidationError("organization", "is longer than 200 characters")

    def missing(self) -> list[str]:
        """Required fields still empty (a draft may have some)."""
        return [name for name in ("organization", "ims_org_id") if not getattr(self, name).strip()]

    @property
    def complete(self) -> bool:
        return not self.missing()


@dataclass(frozen=True)
class Account:
    """One external account: an SFTP server, an Amazon S3 bucket (Campaign's "AWS S3"
    external account), or a local folder for offline work."""

    role: Role
    type: AccountType = AccountType.SFTP
    host: str = ""
    port: int = 22
    user: str = ""
    password: Secret | None = None
    private_key: Secret | None = None
    private_key_passphrase: Secret | None = None
    remote_dir: str = ""
    host_key: str = ""
    path: str = ""
    server: str = ""
    access_key_id: str = ""
    secret_access_key: Secret | None = None
    region: str = ""
    server_side_encryption: bool = False
    endpoint_url: str = ""
    ca_bundle: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", _enum(Role, self.role, "role"))
        object.__setattr__(self, "type", _enum(AccountType, self.type, "type"))
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValidationError("port", "must be a number", "e.g. 22")
        check_number_size(self.port, "port")
        if not 1 <= self.port <= 65535:
            raise ValidationError("port", f"{self.port} is out of range", "1 to 65535, usually 22")
        if self.host and not is_host(self.host):
            raise ValidationError(
                "host",
                f"{self.host!r} is not a host name",
                "a name like sftp.example.net, no scheme",
            )
        if self.host_key and not _FINGERPRINT.fullmatch(self.host_key):
            raise ValidationError(
                "host_key",
                "is not a SHA256 fingerprint",
                "as ssh-keygen -lf prints it: SHA256: and 43 base64 characters",
            )
        if any(ord(c) < 32 for c in self.user + self.remote_dir + self.path):
            raise ValidationError("user", "contains control characters")
        if not isinstance(self.server_side_encryption, bool):
            raise ValidationError("server_side_encryption", "must be true or false")
        if self.type is AccountType.S3:
            self._check_s3()

    def _check_s3(self) -> None:
        url = s3.check_endpoint_url(self.endpoint_url)
        object.__setattr__(self, "endpoint_url", url)
        s3.parse_server(self.server, url)
        s3.check_access_key_id(self.access_key_id, url)
        s3.check_region(self.region)
        if any(ord(c) < 32 for c in self.ca_bundle):
            raise ValidationError("ca_bundle", "contains control characters")

    @property
    def s3_location(self) -> s3.S3Location:
        """Bucket and prefix of an S3 account (``ValidationError`` for other types)."""
        return s3.parse_server(self.server, self.endpoint_url)

    def missing(self) -> list[str]:
        """What must still be filled for this account to be usable."""
        if self.type is AccountType.LOCAL:
            return [] if self.path else ["path"]
        if self.type is AccountType.S3:
            return [] if self.secret_access_key is not None else ["secret_access_key"]
        gaps = [name for name in ("host", "user") if not getattr(self, name)]
        if self.password is None and self.private_key is None:
            gaps.append("password or private_key")
        return gaps

    @property
    def configured(self) -> bool:
        return not self.missing()

    @property
    def endpoint(self) -> str:
        """Where the account points, for display (no secret in it)."""
        if self.type is AccountType.LOCAL:
            return f"local:{self.path}"
        if self.type is AccountType.S3:
            where = self.s3_location.url
            return f"{where} at {self.endpoint_url}" if self.endpoint_url else where
        folder = self.remote_dir or "."
        return f"sftp://{self.user}@{self.host}:{self.port}/{folder.lstrip('/')}"


@dataclass(frozen=True)
class DataSource:
    """A shared data source: how incoming IDs are reconciled with profiles."""

    label: str
    alias: str = ""
    dpid: int | None = None
    destination_id: int | None = None
    triggers_only: bool = False
    priority: int = 0
    id_type: IdType = IdType.VISITOR
    reconciliation_key: str = ""
    transform: Transform = Transform.NONE
    aes_key: Secret | None = None
    aes_iv: Secret | None = None
    ciphertext_encoding: CipherEncoding = CipherEncoding.HEX
    channel: Channel = Channel.OTHER

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValidationError("label", "is required", 'e.g. "Recipient - Visitor ID"')
        object.__setattr__(self, "dpid", check_numeric_id(self.dpid, "dpid", required=False))
        object.__setattr__(
            self,
            "destination_id",
            check_numeric_id(self.destination_id, "destination_id", required=False),
        )
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise ValidationError("priority", "must be a whole number", "higher wins, e.g. 10")
        check_number_size(self.priority, "priority")
        object.__setattr__(self, "id_type", _enum(IdType, self.id_type, "id_type"))
        object.__setattr__(self, "transform", _enum(Transform, self.transform, "transform"))
        object.__setattr__(
            self,
            "ciphertext_encoding",
            _enum(CipherEncoding, self.ciphertext_encoding, "ciphertext_encoding"),
        )
        object.__setattr__(self, "channel", _enum(Channel, self.channel, "channel"))
        if self.id_type is IdType.DECLARED and not self.reconciliation_key:
            raise ValidationError(
                "reconciliation_key",
                "is required for declared IDs",
                "the profile column whose value the website sends, e.g. email",
            )
        if self.transform is Transform.AES and (self.aes_key is None or self.aes_iv is None):
            field_name = "aes_key" if self.aes_key is None else "aes_iv"
            raise ValidationError(
                field_name,
                "is required when transform is aes",
                "the same key and IV as the website, hex (or base64:...)",
            )
        if self.id_type is IdType.VISITOR and self.transform is not Transform.NONE:
            raise ValidationError(
                "transform",
                "must be none for visitor IDs",
                "visitor IDs (ECIDs) are never hashed or encrypted; choose declared IDs",
            )

    def missing(self) -> list[str]:
        gaps = [name for name in ("alias", "dpid") if not getattr(self, name)]
        if not self.triggers_only and self.destination_id is None:
            gaps.append("destination_id")
        return gaps


@dataclass(frozen=True)
class Tracking:
    server: str = ""
    website: str = ""
    website_file: str = ""  # a saved HTML page, for offline checks


@dataclass(frozen=True)
class WorkflowSettings:
    """The Import shared audience workflow's schedule (Campaign runs it hourly by default)."""

    interval_minutes: int = 60

    def __post_init__(self) -> None:
        if isinstance(self.interval_minutes, bool) or not isinstance(self.interval_minutes, int):
            raise ValidationError("interval_minutes", "must be a whole number of minutes")
        if not 5 <= self.interval_minutes <= 7 * 24 * 60:
            raise ValidationError(
                "interval_minutes",
                f"{self.interval_minutes} is out of range",
                "between 5 minutes and a week; Campaign's default is 60",
            )


@dataclass(frozen=True)
class Environment:
    """One Campaign instance's integration settings: what a TOML file describes."""

    name: str
    request: ProvisioningRequest = field(default_factory=ProvisioningRequest)
    import_account: Account = field(default_factory=lambda: Account(Role.IMPORT))
    export_account: Account = field(default_factory=lambda: Account(Role.EXPORT))
    tracking: Tracking = field(default_factory=Tracking)
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    datasources: tuple[DataSource, ...] = ()

    def __post_init__(self) -> None:
        check_env_name(self.name)
        labels = [ds.label for ds in self.datasources]
        dupes = sorted({label for label in labels if labels.count(label) > 1})
        if dupes:
            raise ValidationError(
                "datasources", f"label {dupes[0]!r} is used twice", "labels must be unique"
            )

    def account(self, role: Role) -> Account:
        return self.import_account if role is Role.IMPORT else self.export_account

    def datasource(self, label: str) -> DataSource:
        for ds in self.datasources:
            if ds.label == label:
                return ds
        from core.errors import InputError

        known = ", ".join(repr(ds.label) for ds in self.datasources) or "none"
        raise InputError(f"no data source labelled {label!r}", f"known: {known}")

    def by_priority(self) -> list[DataSource]:
        """Data sources, highest priority first (ties keep their file order)."""
        return sorted(self.datasources, key=lambda ds: -ds.priority)

    def priority_clashes(self) -> list[tuple[str, int, list[str]]]:
        """``(alias, priority, labels)`` for data sources that share an alias (compared
        trimmed and case-insensitively) and a priority: which matches first is undefined."""
        groups: dict[tuple[str, int], list[DataSource]] = {}
        for ds in self.datasources:
            groups.setdefault((ds.alias.strip().lower(), ds.priority), []).append(ds)
        return [
            (members[0].alias, priority, [ds.label for ds in members])
            for (_, priority), members in groups.items()
            if len(members) > 1
        ]


@dataclass(frozen=True)
class StatusStamp:
    status: RequestStatus
    at: datetime
