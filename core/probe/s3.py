"""The Amazon S3 probe: ``dns``, ``tcp``, ``tls``, ``auth``, ``bucket``, ``list``, then ``read``
(import account) or ``write`` (export account); docs/reference.md §5.

Requests go through the AWS SDK (botocore: SigV4, regions, error codes); every
call is bounded by the timeout (connect and read timeouts, one attempt). AWS
error codes are turned into a detail and a hint an admin can act on by
``explain_client_error``, tested against AWS's documented error responses.
``make_client`` is shared with ``core.transport.s3`` so transfers talk to the
service exactly as the probe does.
"""

from __future__ import annotations

import os
import secrets
import socket
import ssl
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from core.errors import ValidationError
from core.model import Account, Role
from core.probe.common import (
    PROBE_PAYLOAD,
    PROBE_PREFIX,
    READ_LIMIT,
    Credentials,
    Outcome,
    StageError,
    StageResult,
    StageRunner,
    StageStatus,
    addr_text,
    connect_tcp,
    resolve,
    secs,
)
from core.s3 import AWS_SUFFIX, S3Location, masked_key_id, read_ca_bundle
from core.text import printable_name

S3_NETWORK_STAGES: tuple[str, ...] = ("dns", "tcp", "tls", "auth", "bucket")
S3_IMPORT_STAGES: tuple[str, ...] = (*S3_NETWORK_STAGES, "list", "read")
S3_EXPORT_STAGES: tuple[str, ...] = (*S3_NETWORK_STAGES, "list", "write")
MAX_KEYS = 100_000

H_S3_DROPPED = (
    "the S3 service stopped answering or dropped the connection: network trouble, a proxy, "
    "or the wrong endpoint"
)
H_KEY_ID = (
    'check access_key_id (Campaign\'s "AWS access key ID"): the key may be mistyped, '
    "deleted or deactivated in IAM"
)
H_SECRET = (
    "the key ID is known but the secret does not match: copy secret_access_key again "
    "(no spaces); if lost, ask for a new key pair"
)
H_CLOCK = "set this machine's clock right (NTP): S3 refuses requests more than 15 minutes off"
H_BUCKET_POLICY = (
    "the keys are valid but may not use this bucket: ask Adobe (or your AWS admin) to grant "
    "the IAM user s3:ListBucket on it"
)


# ------------------------------------------------------------------------ endpoint


def endpoint_of(account: Account, location: S3Location) -> tuple[str, str, int, str]:
    """``(url, host, port, addressing_style)`` the client talks to: ``endpoint_url`` as
    given (path-style), or AWS's regional endpoint with the bucket in the host name
    (path-style when the bucket name has dots, which TLS wildcards do not cover)."""
    if account.endpoint_url:
        parts = urlsplit(account.endpoint_url)
        default = 443 if parts.scheme == "https" else 80
        return account.endpoint_url, parts.hostname or "", parts.port or default, "path"
    base = f"s3.{account.region}.amazonaws.com"
    if "." in location.bucket:
        return f"https://{base}", base, 443, "path"
    return f"https://{base}", f"{location.bucket}.{base}", 443, "virtual"


def ca_source(account: Account) -> tuple[str, str]:
    """``(path, what)``: the CA certificates TLS is checked against (a PEM file, or a
    folder of hashed certificates) and where they come from. ``ca_bundle`` wins; else
    ``AWS_CA_BUNDLE`` when set (as the AWS tools honour it); else the system's CA store
    (OpenSSL's default file or folder, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` included);
    else, on a system without one, the SDK's own bundle. The tls stage and the client
    use the same one (docs/reference.md §2).

    A ``ca_bundle`` or ``AWS_CA_BUNDLE`` file is first read through the bounded,
    non-blocking reader (``core.s3.read_ca_bundle``), so a FIFO, a device or a huge file
    is refused at once with a ``ValidationError`` naming the setting, never waited on by
    the TLS library; an ``AWS_CA_BUNDLE`` folder of hashed certificates is taken as is."""
    if account.ca_bundle:
        read_ca_bundle(account.ca_bundle)
        return account.ca_bundle, "ca_bundle"
    from_env = os.environ.get("AWS_CA_BUNDLE", "").strip()
    if from_env:
        if not os.path.isdir(from_env):
            read_ca_bundle(from_env, "AWS_CA_BUNDLE")
        return from_env, "AWS_CA_BUNDLE"
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate, "the system's CA store"
    for folder in (paths.capath, paths.openssl_capath):
        if folder and os.path.isdir(folder) and any(os.scandir(folder)):
            return folder, "the system's CA store"
    from botocore.httpsession import get_cert_path

    return str(get_cert_path(True)), "the SDK's CA bundle"


def ca_file(account: Account) -> str:
    """The CA certificates' path of ``ca_source``."""
    return ca_source(account)[0]


def _context(path: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the CA file or folder at ``path``."""
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


def make_client(account: Account, creds: Credentials, timeout: float) -> Any:
    """A botocore S3 client for ``account``: SigV4 in ``region``, one attempt per call,
    every connect and read bounded by ``timeout``; no profile, environment endpoint or
    credential file of this machine takes part."""
    import boto3
    from botocore.config import Config

    location = account.s3_location
    url, _host, _port, style = endpoint_of(account, location)
    config = Config(
        region_name=account.region,
        signature_version="s3v4",
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": style},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        ignore_configured_endpoint_urls=True,
        user_agent_appid="audiencectl",
    )
    session = boto3.session.Session(
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        region_name=account.region,
    )
    return session.client("s3", endpoint_url=url, config=config, verify=ca_file(account))


# --------------------------------------------------------------------- error mapping


def _skew(error: dict[str, Any], headers: dict[str, str], now: datetime) -> str:
    """How far this machine's clock is from the service's, from the error's ServerTime
    (or the Date header); '' when neither is there."""
    server: datetime | None = None
    text = str(error.get("ServerTime", ""))
    if text:
        with suppress(ValueError):
            server = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if server is None and headers.get("date"):
        with suppress(TypeError, ValueError):
            server = parsedate_to_datetime(headers["date"])
    if server is None:
        return ""
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    seconds = round((now - server).total_seconds())
    way = "ahead of" if seconds > 0 else "behind"
    minutes, secs = divmod(abs(seconds), 60)
    size = f"{minutes} min {secs} s" if minutes else f"{secs} s"
    return f"this machine's clock is {size} {way} the service's"


def bucket_region(exc: Any) -> str:
    """The region AWS says a bucket is in (``x-amz-bucket-region``, or the error's
    ``Region``), from a ClientError or a successful response; '' when not said."""
    response = getattr(exc, "response", exc)
    if not isinstance(response, dict):
        return ""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    region = headers.get("x-amz-bucket-region") or response.get("Error", {}).get("Region", "")
    return str(region or "")


def explain_client_error(
    exc: Any, account: Account, action: str, object_key: str = ""
) -> StageError:
    """An AWS error response as a StageError whose hint says what to do.

    ``exc`` is a botocore ``ClientError``; ``action`` says what was tried (e.g.
    "listing s3://bucket/prefix/"); ``object_key`` is set when the request was about
    one object (then a bare 404 means that object, not the bucket). Codes per AWS's
    S3 error responses.
    """
    error = exc.response.get("Error", {}) or {}
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = str(error.get("Code", "") or status)
    message = str(error.get("Message", "") or "").strip()
    said = f": {message}" if message else ""
    key = masked_key_id(account.access_key_id)
    location = account.s3_location
    if code == "InvalidAccessKeyId":
        return StageError(f"the service does not know the access key ID {key}", H_KEY_ID)
    if code == "SignatureDoesNotMatch":
        return StageError(
            f"the request signature does not match for key {key}: the secret access key is wrong",
            H_SECRET,
        )
    if code == "RequestTimeTooSkewed":
        skew = _skew(error, headers, datetime.now(UTC))
        return StageError(f"the service refused the request time ({skew or 'clock skew'})", H_CLOCK)
    if code in ("InvalidToken", "ExpiredToken", "TokenRefreshRequired"):
        return StageError(
            f"{code}{said}",
            "Campaign's S3 account takes long-term keys only "
            "(AKIA...): ask for an IAM user's access key",
        )
    region = bucket_region(exc)
    if code in (
        "301",
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "IllegalLocationConstraintException",
    ) or (region and region != account.region):
        where = region or "another region"
        return StageError(
            f"the bucket {location.bucket} is in {where}, not {account.region}",
            f'set region = "{region}" (Campaign\'s "AWS region")'
            if region
            else "check region: the bucket is elsewhere",
        )
    if code == "NoSuchBucket" or (code == "404" and not object_key):
        return StageError(
            f"the bucket {location.bucket} does not exist",
            f"check the bucket name in server (the part before {AWS_SUFFIX}) and region",
        )
    if code in ("NoSuchKey", "404"):
        return StageError(f"{action}: no such object", "the object was moved away; probe again")
    if code in ("AccessDenied", "403", "AllAccessDisabled", "AccountProblem"):
        return StageError(f"access denied {action}{said}", H_BUCKET_POLICY)
    if code in ("SlowDown", "503", "ServiceUnavailable", "InternalError", "500"):
        return StageError(
            f"the service is busy or failing ({code}) {action}",
            "a problem on the service's side: try again in a few minutes",
        )
    return StageError(f"{code} {action}{said}", "see the S3 error code in AWS's documentation")


def explain_sdk_error(exc: Exception, action: str, timeout: float) -> StageError:
    """A botocore transport error (no answer, TLS, connection) as a StageError."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.SSLError):
        return StageError(f"TLS failed {action}: {exc}", tls_failure_hint(exc, _TLS_HINT))
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return StageError(f"no answer {action} within {secs(timeout)}", H_S3_DROPPED)
    if isinstance(exc, bx.EndpointConnectionError):
        return StageError(f"cannot connect {action}: {exc}", H_S3_DROPPED)
    if isinstance(exc, bx.NoCredentialsError):
        return StageError("no secret access key", "configure secret_access_key")
    return StageError(f"{type(exc).__name__} {action}: {exc}", H_S3_DROPPED)


_TLS_HINT = (
    "the certificate is not trusted here: for a private CA set ca_bundle to its PEM file; "
    "towards AWS, a TLS-inspecting proxy is the usual cause (add its CA with ca_bundle)"
)
H_NOT_TLS = "not a TLS (https) service on this port: check endpoint_url"
# What OpenSSL says when the other side answers a TLS hello with something that is not
# TLS (a plain HTTP server answers "HTTP/1.1 400 ...").
_NOT_TLS_MARKS = ("WRONG_VERSION_NUMBER", "wrong version number", "RECORD_LAYER_FAILURE")


def tls_failure_hint(exc: BaseException, default: str) -> str:
    """The hint for a failed TLS handshake, the same for the probe's tls stage and for
    transfers: a peer that does not speak TLS is said so; a certificate that does not
    verify gets the trust hint; anything else ``default``."""
    text = f"{getattr(exc, 'reason', '') or ''} {exc}"
    if any(mark in text for mark in _NOT_TLS_MARKS):
        return H_NOT_TLS
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return _TLS_HINT
    return default


def call(
    action: str, timeout: float, account: Account, fn: Callable[[], Any], object_key: str = ""
) -> Any:
    """Runs one SDK call; its errors become StageError (mapped as above)."""
    from botocore import exceptions as bx

    try:
        return fn()
    except bx.ClientError as exc:
        raise explain_client_error(exc, account, action, object_key) from None
    except bx.BotoCoreError as exc:
        raise explain_sdk_error(exc, action, timeout) from None


# ------------------------------------------------------------------------ stages


def _tls(sock: socket.socket, host: str, account: Account, timeout: float) -> Outcome:
    try:
        path, source = ca_source(account)
    except ValidationError as exc:
        raise StageError(
            f"cannot load the CA certificates of {exc.field}: {exc.reason}",
            f"check {exc.field}: {exc.hint}",
        ) from None
    try:
        context = _context(path)
    except (OSError, ssl.SSLError) as exc:
        fix = "AWS_CA_BUNDLE" if source == "AWS_CA_BUNDLE" else "ca_bundle"
        raise StageError(
            f"cannot load the CA certificates of {source} ({path}): {exc}",
            f"check {fix}: a PEM file of the CA's certificate",
        ) from None
    sock.settimeout(timeout)
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            cert = tls.getpeercert() or {}
            version = tls.version() or "TLS"
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            raise StageError(
                f"the certificate does not name {host}: {reason}",
                "use the host name the certificate is for in endpoint_url",
            ) from None
        raise StageError(f"the server's certificate is not trusted: {reason}", _TLS_HINT) from None
    except TimeoutError:
        raise StageError(
            f"the server accepted TCP but did not complete TLS within {secs(timeout)}",
            "no TLS service on this port: a wrong port in endpoint_url, "
            "a proxy or an overloaded server",
        ) from None
    except ssl.SSLError as exc:
        raise StageError(
            f"TLS failed: {exc.reason or exc}", tls_failure_hint(exc, H_NOT_TLS)
        ) from None
    except OSError as exc:
        raise StageError(f"the connection dropped during TLS: {exc}", H_S3_DROPPED) from None
    subject = _names(cert.get("subject", ()))
    issuer = _names(cert.get("issuer", ()))
    expires = cert.get("notAfter", "?")
    return Outcome(
        f"{version}; certificate for {subject.get('commonName', host)} issued by "
        f"{issuer.get('organizationName') or issuer.get('commonName', '?')}, "
        f"valid until {expires}"
    )


def _names(rdns: Any) -> dict[str, str]:
    """``{"commonName": ..., ...}`` from ``getpeercert()``'s subject or issuer."""
    out: dict[str, str] = {}
    for rdn in rdns:
        for pair in rdn:
            if len(pair) == 2:
                out[str(pair[0])] = str(pair[1])
    return out


def _auth(client: Any, account: Account, timeout: float) -> Outcome:
    from botocore import exceptions as bx

    key = masked_key_id(account.access_key_id)
    try:
        answer = client.list_buckets()
    except bx.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("AccessDenied", "403"):
            return Outcome(
                f"the key pair {key} is valid (the service checked the signature); "
                "it may not list all buckets, which is usual for a bucket-scoped "
                "user"
            )
        raise explain_client_error(exc, account, "signing a request") from None
    except bx.BotoCoreError as exc:
        raise explain_sdk_error(exc, "signing a request", timeout) from None
    count = len(answer.get("Buckets", []) or [])
    return Outcome(f"the key pair {key} is accepted ({count} buckets visible)")


def _bucket(client: Any, account: Account, location: S3Location, timeout: float) -> Outcome:
    answer = call(
        f"reaching the bucket {location.bucket}",
        timeout,
        account,
        lambda: client.head_bucket(Bucket=location.bucket),
    )
    region = bucket_region(answer)
    if region and region != account.region:
        raise StageError(
            f"the bucket {location.bucket} is in {region}, not {account.region}",
            f'set region = "{region}" (Campaign\'s "AWS region")',
        )
    where = f" in {region}" if region else ""
    return Outcome(f"the bucket {location.bucket} exists{where} and these keys may use it")


def _list(
    client: Any, account: Account, location: S3Location, box: dict[str, Any], timeout: float
) -> Outcome:
    files: list[tuple[str, int, float]] = []
    others = 0
    dirs: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "Bucket": location.bucket,
            "Prefix": location.prefix,
            "Delimiter": "/",
        }
        if token:
            kwargs["ContinuationToken"] = token
        page = call(
            f"listing {location.url}", timeout, account, partial(client.list_objects_v2, **kwargs)
        )
        for item in page.get("Contents", []) or []:
            name = str(item["Key"])[len(location.prefix) :]
            if not name:
                continue  # the "folder" marker some consoles create
            files.append((name, int(item.get("Size", 0)), item["LastModified"].timestamp()))
        prefixes = page.get("CommonPrefixes", []) or []
        others += len(prefixes)
        dirs.extend(str(p.get("Prefix", ""))[len(location.prefix) :].rstrip("/") for p in prefixes)
        if len(files) + others > MAX_KEYS:
            raise StageError(
                f"{location.url} lists more than {MAX_KEYS} entries",
                "the wrong prefix? check the path in server",
            )
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
    box["files"] = files
    box["dirs"] = dirs
    return Outcome(f"{location.url}: {len(files)} files, {others} other entries")


def _read(
    client: Any, account: Account, location: S3Location, box: dict[str, Any], timeout: float
) -> Outcome:
    files: list[tuple[str, int, float]] = box.get("files", [])
    if not files:
        return Outcome("the prefix is empty; it could be listed, so it is readable")
    name, size, mtime = max(files, key=lambda f: (f[2], f[0]))
    action = f"reading the object {location.prefix}{name}"

    def fetch() -> bytes:
        answer = client.get_object(
            Bucket=location.bucket, Key=location.prefix + name, Range=f"bytes=0-{READ_LIMIT - 1}"
        )
        with answer["Body"] as body:
            return bytes(body.read(READ_LIMIT))

    try:
        data = call(action, timeout, account, fetch, location.prefix + name)
    except StageError as exc:
        if exc.hint == H_BUCKET_POLICY:
            raise StageError(
                exc.detail, "the keys may list but not read: ask for s3:GetObject on the prefix"
            ) from None
        raise

    when = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = printable_name(name.encode("utf-8", "surrogateescape"))
    return Outcome(
        f"read {len(data)} bytes of the newest file {shown} ({size} bytes, modified {when})"
    )


def _write(client: Any, account: Account, location: S3Location, timeout: float) -> Outcome:
    key = f"{location.prefix}{PROBE_PREFIX}{secrets.token_hex(8)}.tmp"
    extra = {"ServerSideEncryption": "AES256"} if account.server_side_encryption else {}
    created = False
    status: StageStatus = "pass"
    note = ""
    try:
        try:
            answer = call(
                f"writing the object {key}",
                timeout,
                account,
                lambda: client.put_object(
                    Bucket=location.bucket, Key=key, Body=PROBE_PAYLOAD, **extra
                ),
                key,
            )
        except StageError as exc:
            if exc.hint == H_BUCKET_POLICY:
                raise StageError(
                    exc.detail, "the keys may not write here: ask for s3:PutObject on the prefix"
                ) from None
            raise
        created = True
        if extra and answer.get("ServerSideEncryption") != "AES256":
            status = "warn"
            note = "; the service did not confirm server-side encryption"
        head = call(
            f"checking the object {key}",
            timeout,
            account,
            lambda: client.head_object(Bucket=location.bucket, Key=key),
            key,
        )
        if int(head.get("ContentLength", -1)) != len(PROBE_PAYLOAD):
            raise StageError(
                f"the probe object has {head.get('ContentLength')} bytes instead "
                f"of {len(PROBE_PAYLOAD)}",
                "the service truncates uploads",
            )
        try:
            call(
                f"deleting the object {key}",
                timeout,
                account,
                lambda: client.delete_object(Bucket=location.bucket, Key=key),
                key,
            )
        except StageError as exc:
            raise StageError(
                f"{exc.detail}: the probe object was left behind",
                f"ask for s3:DeleteObject on the prefix; delete the object {key} by hand",
            ) from None
        created = False
    finally:
        if created:
            with suppress(Exception):
                client.delete_object(Bucket=location.bucket, Key=key)
    sse = " with server-side encryption" if extra and status == "pass" else ""
    hint = (
        (
            "the object was stored, but the answer did not say it was encrypted (SSE-S3, "
            "AES256): check the bucket's encryption settings, or that this S3-compatible "
            "service supports it"
        )
        if status == "warn"
        else ""
    )
    return Outcome(
        f"wrote, checked and deleted a {len(PROBE_PAYLOAD)}-byte probe object under "
        f"{location.url}{sse}{note}",
        status,
        hint,
    )


def probe_s3(account: Account, creds: Credentials, runner: StageRunner, timeout: float) -> None:
    """Runs the S3 stages of ``account`` through ``runner``; the socket opened for the
    tcp/tls stages is closed, and the write stage leaves no object behind."""
    box: dict[str, Any] = {}
    location = account.s3_location
    url, host, port, _style = endpoint_of(account, location)
    state: dict[str, Any] = {}

    def dns() -> Outcome:
        box["addrs"] = resolve(host, port, timeout)
        return Outcome(f"{host} → {addr_text(box['addrs'])}")

    def tcp() -> Outcome:
        state["sock"] = connect_tcp(box["addrs"], port, timeout, service="S3")
        peer = state["sock"].getpeername()
        return Outcome(f"connected to {peer[0]} port {peer[1]}")

    def tls() -> Outcome:
        return _tls(state.pop("sock"), host, account, timeout)

    def auth() -> Outcome:
        if not creds.secret_access_key:
            raise StageError(
                "no secret access key configured",
                "set secret_access_key (env:NAME, file:PATH or the value)",
            )
        state["client"] = make_client(account, creds, timeout)
        return _auth(state["client"], account, timeout)

    try:
        runner.run("dns", dns)
        runner.run("tcp", tcp)
        if url.startswith("http://"):
            if not runner.failed and not runner.was_cancelled:
                runner.record(StageResult("tls", "skip", 0, "plain http:// endpoint: no TLS"))
                state.pop("sock").close()
            else:
                runner.run("tls", tls)  # records the skip
        else:
            runner.run("tls", tls)
        runner.run("auth", auth)
        client = state.get("client")
        runner.run("bucket", lambda: _bucket(client, account, location, timeout))
        runner.run("list", lambda: _list(client, account, location, box, timeout))
        runner.saw(box)
        if account.role is Role.IMPORT:
            runner.run("read", lambda: _read(client, account, location, box, timeout))
        else:
            runner.run("write", lambda: _write(client, account, location, timeout))
    finally:
        sock = state.pop("sock", None)
        if sock is not None:
            sock.close()
        client = state.pop("client", None)
        if client is not None:
            with suppress(Exception):
                client.close()
