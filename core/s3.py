"""Amazon S3 accounts as Campaign's external account form has them: the names and rules.

Campaign's "AWS S3 Account Server" field is written ``<bucket>.s3.amazonaws.com``
optionally followed by ``/<object path>``: no scheme, and no region in the host
(Campaign adds the region itself, from its own "AWS region" field). This module
parses that field and checks the other S3 fields, raising ``ValidationError``
naming the field with a hint that says how to write it (docs/reference.md §2,
docs/adobe.md). It does no I/O except ``check_ca_bundle`` and ``read_ca_bundle``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from core.boundedfile import FileRefused, read_bounded, size_text
from core.errors import ValidationError
from core.secrets import Secret
from core.text import clipped

AWS_SUFFIX = ".s3.amazonaws.com"
SERVER_FORM = "write it as <bucket>.s3.amazonaws.com/<path>, e.g. mybucket.s3.amazonaws.com/aam"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# A region inside the host: bucket.s3.eu-west-1.amazonaws.com, bucket.s3-eu-west-1...,
# s3.dualstack.eu-west-1.amazonaws.com and the like.
_REGIONAL_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?s3[.-](?:dualstack\.)?(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})"
    r"\.amazonaws\.com(?:\.cn)?$"
)
_AWS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
#: What ``_AWS_KEY_ID`` accepts, as the hint says it (docs/adobe.md: long-term keys start
#: with AKIA; temporary ASIA keys are refused before, Campaign has no session-token field).
#: The longest ``server`` accepted: a host (a bucket name is at most 63 characters) and a
#: path (an S3 key is at most 1,024 bytes); docs/reference.md §8.
MAX_SERVER_CHARS = 1_100
#: The longest ``endpoint_url`` accepted (a host name is at most 253 characters).
MAX_ENDPOINT_CHARS = 300
#: The largest ``ca_bundle`` read (a system's whole CA store is about 220 KB).
MAX_CA_BUNDLE_BYTES = 1024 * 1024
AWS_KEY_ID_RULE = (
    "16 to 128 capital letters and digits; an IAM user's long-term key starts with AKIA"
)


@dataclass(frozen=True)
class S3Location:
    """Where an S3 account's files are: a bucket and a key prefix (``""`` or ending in ``/``)."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def masked_key_id(key_id: str) -> str:
    """An access key ID as shown in details: its first and last four characters."""
    return key_id[:4] + "…" + key_id[-4:] if len(key_id) > 8 else key_id


def check_bucket(name: str, field_name: str = "server") -> str:
    """``name`` if it follows AWS's bucket naming rules, else ``ValidationError``."""
    rules = "bucket names are 3 to 63 lower-case letters, digits, '.' and '-'"
    shown = clipped(name)
    if not _BUCKET.fullmatch(name):
        if name != name.lower():
            raise ValidationError(
                field_name,
                f"bucket '{shown}' has capital letters",
                "S3 bucket names are lower case; " + rules,
            )
        if "_" in name:
            raise ValidationError(field_name, f"bucket '{shown}' contains '_'", rules)
        raise ValidationError(
            field_name,
            f"'{shown}' is not a valid bucket name",
            rules + ", starting and ending with a letter or digit",
        )
    if ".." in name or ".-" in name or "-." in name:
        raise ValidationError(field_name, f"bucket '{shown}' has '..', '.-' or '-.'", rules)
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise ValidationError(
            field_name,
            f"bucket '{shown}' looks like an IP address",
            "an S3 bucket name is not an IP address",
        )
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        raise ValidationError(
            field_name, f"bucket '{shown}' uses a prefix or suffix AWS reserves", rules
        )
    return name


def parse_server(server: str, endpoint_url: str = "") -> S3Location:
    """The bucket and prefix of Campaign's server field; ``ValidationError`` on ``server``.

    With ``endpoint_url`` (another S3-compatible service), ``<bucket>/<path>`` is
    accepted too, since such services have no ``s3.amazonaws.com`` host names.
    """
    text = server.strip()
    if not text:
        raise ValidationError("server", "is required", SERVER_FORM)
    if len(text) > MAX_SERVER_CHARS:
        raise ValidationError(
            "server",
            f"is {len(text):,} characters long, more than {MAX_SERVER_CHARS:,}",
            "a bucket host (at most 63 characters of bucket name) and a path under 1,024 "
            "bytes: " + SERVER_FORM,
        )
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:
        raise ValidationError(
            "server",
            f"has a scheme ({clipped(scheme.group(1))}://)",
            "Campaign's field has none: " + SERVER_FORM,
        )
    if any(ord(c) < 33 for c in text):
        raise ValidationError("server", "contains spaces or control characters", SERVER_FORM)
    host, _, path = text.partition("/")
    host = host.lower().rstrip(".")
    regional = _REGIONAL_HOST.match(host)
    if regional:
        bucket = clipped(regional.group("bucket") or "<bucket>")
        raise ValidationError(
            "server",
            f"has the region {regional.group('region')} in its host",
            f"Campaign adds the region itself: write {bucket}{AWS_SUFFIX}/<path> and put "
            f"{regional.group('region')} in region",
        )
    if host == AWS_SUFFIX[1:]:
        bucket, _, path = path.partition("/")
        raise ValidationError(
            "server",
            "names the bucket in the path (path-style)",
            f"write it as {clipped(bucket) or '<bucket>'}{AWS_SUFFIX}/{clipped(path)}",
        )
    if host.endswith(AWS_SUFFIX):
        bucket = host[: -len(AWS_SUFFIX)]
    elif endpoint_url:
        bucket = host
    elif host.endswith(".amazonaws.com"):
        raise ValidationError("server", f"{clipped(host)} is not an S3 bucket host", SERVER_FORM)
    else:
        raise ValidationError(
            "server",
            f"{clipped(host)} is not an Amazon S3 host",
            SERVER_FORM + " (another S3 service: also set endpoint_url)",
        )
    check_bucket(bucket)
    prefix = "/".join(part for part in path.split("/") if part)
    if len(prefix.encode("utf-8", "surrogatepass")) > 1_000:
        raise ValidationError(
            "server",
            "has a path longer than 1,000 bytes",
            "S3 keys are at most 1,024 bytes, and the file names go after the path",
        )
    if any(part in (".", "..") for part in prefix.split("/")):
        raise ValidationError("server", "has '.' or '..' in its path", SERVER_FORM)
    return S3Location(bucket, prefix + "/" if prefix else "")


def check_region(region: str) -> str:
    if not region.strip():
        raise ValidationError(
            "region",
            "is required for an S3 account",
            "the bucket's AWS region, e.g. eu-west-1 (Campaign's \"AWS region\" field)",
        )
    if not _REGION.fullmatch(region):
        raise ValidationError(
            "region",
            f"'{clipped(region)}' is not an AWS region name",
            "e.g. eu-west-1 or us-east-1, lower case",
        )
    return region


def check_access_key_id(key_id: str, endpoint_url: str = "") -> str:
    if not key_id.strip():
        raise ValidationError(
            "access_key_id",
            "is required for an S3 account",
            "the AWS access key ID Adobe or your AWS admin gave, AKIA...",
        )
    if key_id.startswith("ASIA"):
        raise ValidationError(
            "access_key_id",
            "is a temporary key (ASIA...)",
            "Campaign's S3 account has no session-token field: ask for a long-term key "
            "(AKIA...) of an IAM user",
        )
    if any(ord(c) < 33 or ord(c) > 126 for c in key_id):
        raise ValidationError(
            "access_key_id",
            "contains spaces or unusual characters",
            "copy the key ID again, without spaces",
        )
    if not endpoint_url and not _AWS_KEY_ID.fullmatch(key_id):
        raise ValidationError(
            "access_key_id",
            "is not an AWS access key ID",
            AWS_KEY_ID_RULE,
        )
    return key_id


def check_endpoint_url(url: str) -> str:
    if not url:
        return url
    match = None
    if len(url) <= MAX_ENDPOINT_CHARS:
        match = re.fullmatch(r"(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?/?", url)
    if not match:
        raise ValidationError(
            "endpoint_url",
            f"'{clipped(url)}' is not an endpoint URL",
            "write https://host or https://host:port, no path",
        )
    if match.group(3) and not 1 <= int(match.group(3)[1:]) <= 65535:
        raise ValidationError("endpoint_url", "port out of range", "1 to 65535")
    return url.rstrip("/")


def check_ca_bundle(path: str, field: str = "ca_bundle") -> None:
    """``path`` must be a regular PEM file of at most :data:`MAX_CA_BUNDLE_BYTES` holding
    at least one certificate; a FIFO, device or folder is refused without waiting."""
    if not path:
        return
    import warnings

    from cryptography import x509

    data = read_ca_bundle(path, field)
    hint = "give the path of the private CA's certificate in PEM (-----BEGIN CERTIFICATE-----)"
    try:
        # a system bundle holds old certificates the library warns about (e.g. a negative
        # serial number): the warning would print lines of its own, this check needs none
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise ValidationError(field, f"{clipped(path)} is not a PEM certificate file", hint)


def secret_file_problem(secret: Secret | None) -> str:
    """What is wrong with a ``file:`` secret's path, without reading or opening it
    (``stat`` never blocks): "" when it names a regular file or is no ``file:`` secret."""
    if secret is None or secret.kind != "file":
        return ""
    shown = f"file:{clipped(secret.ref)}"
    try:
        info = os.stat(Path(secret.ref).expanduser())
    except FileNotFoundError:
        return f"{shown} does not exist"
    except OSError as exc:
        return f"{shown} cannot be read ({exc.strerror or type(exc).__name__})"
    if not stat.S_ISREG(info.st_mode):
        return f"{shown} is not a regular file"
    return ""


def read_ca_bundle(path: str, field: str = "ca_bundle") -> bytes:
    """The bytes of the CA file ``path`` through the bounded reader; ``ValidationError``
    naming ``field`` (``ca_bundle`` or ``AWS_CA_BUNDLE``) when it cannot be used."""
    hints = {
        "missing": "give the path of the private CA's certificate in PEM "
        "(-----BEGIN CERTIFICATE-----)",
        "unreadable": "check its permissions",
        "not_regular": "give the path of a plain PEM file",
        "too_large": f"a CA bundle is a PEM file of at most {size_text(MAX_CA_BUNDLE_BYTES)}",
    }
    try:
        data, _info = read_bounded(Path(path).expanduser(), MAX_CA_BUNDLE_BYTES)
    except FileRefused as exc:
        reason = "no such file" if exc.kind == "missing" else exc.reason
        sep = ": " if exc.kind in ("missing", "unreadable") else " "
        raise ValidationError(field, f"{clipped(path)}{sep}{reason}", hints[exc.kind]) from None
    return data
