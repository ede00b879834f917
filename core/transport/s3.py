"""A FileTransport over an Amazon S3 account: the objects under its prefix are the folder.

Made by ``core.transport.open_transport`` for ``type = "s3"`` accounts, with the
probe's client (``core.probe.s3.make_client``: SigV4, region, one attempt, every
call bounded by the timeout). Listing reads the prefix's direct objects;
``fetch`` streams the object's body; ``upload_atomic`` relies on S3's own
atomicity: an object appears under its key only when a PutObject or a
multipart upload completes, and an interrupted multipart upload is aborted so
no part lingers. Server-side encryption (SSE-S3, AES256) is asked for when the
account says so. A transport is not thread-safe: open one per thread.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import AudienceError, ConnectionFailure
from core.model import Account
from core.probe import Credentials, StageError
from core.probe.s3 import call, explain_client_error, explain_sdk_error, make_client
from core.text import printable_name
from core.transport.base import (
    CHUNK,
    MAX_LISTING,
    BoundedDownload,
    FileTransport,
    Progress,
    RemoteFile,
    RemoteFileExists,
    _open_source,
    check_download_size,
    check_remote_name,
    listed,
)

PART_SIZE = 16 * 1024 * 1024  # one PutObject up to this size; above it, parts of this size
MAX_PARTS = 10_000


def open_s3(account: Account, creds: Credentials, timeout: float) -> S3Transport:
    """Connects to ``account``'s bucket: one small listing of the prefix checks the keys,
    the bucket and its region (a listing, not HeadBucket, because an error answer to
    HEAD has no body, so no error code to explain). ``ConnectionFailure`` with the
    probe's hint when that fails."""
    client = make_client(account, creds, timeout)
    location = account.s3_location
    try:
        call(
            f"listing {location.url}",
            timeout,
            account,
            lambda: client.list_objects_v2(
                Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1
            ),
        )
    except StageError as exc:
        with suppress(Exception):
            client.close()
        raise ConnectionFailure(f"{account.endpoint}: {exc.detail}", exc.hint) from None
    return S3Transport(account, client, timeout)


class _Body(BoundedDownload):
    """An object's streaming body whose errors become ConnectionFailure; it ends at
    ``limit`` (the object's ContentLength) and refuses more."""

    def __init__(self, body: Any, label: str, limit: int, timeout: float) -> None:
        super().__init__(label, limit)
        self._body = body
        self._timeout = timeout

    def _read_raw(self, size: int) -> bytes:
        from botocore import exceptions as bx

        try:
            return bytes(self._body.read(size))
        except (bx.BotoCoreError, OSError) as exc:
            error = explain_sdk_error(exc, f"reading {self._label}", self._timeout)
            raise ConnectionFailure(error.detail, error.hint) from None

    def _close_raw(self) -> None:
        self._body.close()


class _Counted(io.RawIOBase):
    """The local file as a PutObject body, reporting bytes read to ``progress`` (never
    backwards: the SDK may read the body twice, to sign it and to send it)."""

    def __init__(self, source: BinaryIO, total: int, progress: Progress | None) -> None:
        super().__init__()
        self._source = source
        self._total = total
        self._progress = progress
        self._reported = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._source.seek(offset, whence)

    def tell(self) -> int:
        return self._source.tell()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._source.read(min(len(buffer), CHUNK))
        size = len(data)
        memoryview(buffer).cast("B")[:size] = data
        done = self._source.tell()
        if self._progress is not None and done > self._reported:
            self._reported = done
            self._progress(done, self._total)
        return size


class S3Transport(FileTransport):
    """The objects directly under an S3 account's prefix, as a FileTransport."""

    def __init__(self, account: Account, client: Any, timeout: float) -> None:
        super().__init__()
        self.account = account
        self.client = client
        self.timeout = timeout
        location = account.s3_location
        self.bucket = location.bucket
        self.prefix = location.prefix
        self.location = account.endpoint

    @contextmanager
    def _errors(self, action: str, what: str, key: str = "") -> Iterator[None]:
        from botocore import exceptions as bx

        try:
            yield
        except AudienceError:
            raise
        except bx.ClientError as exc:
            error = explain_client_error(exc, self.account, f"to {action} {what}", key)
            raise ConnectionFailure(f"cannot {action} {what}: {error.detail}", error.hint) from None
        except bx.BotoCoreError as exc:
            error = explain_sdk_error(exc, f"to {action} {what}", self.timeout)
            raise ConnectionFailure(error.detail, error.hint) from None

    def _key(self, name: str) -> str:
        return self.prefix + check_remote_name(name)

    def list(self) -> list[RemoteFile]:
        skipped: list[tuple[str, str]] = []
        files: list[RemoteFile] = []
        seen = 0
        token: str | None = None
        with self._errors("list", f"s3://{self.bucket}/{self.prefix}"):
            while True:
                kwargs: dict[str, Any] = {
                    "Bucket": self.bucket,
                    "Prefix": self.prefix,
                    "Delimiter": "/",
                }
                if token:
                    kwargs["ContinuationToken"] = token
                page = self.client.list_objects_v2(**kwargs)
                items = page.get("Contents", []) or []
                seen += len(items) + len(page.get("CommonPrefixes", []) or [])
                if seen > MAX_LISTING:
                    raise ConnectionFailure(
                        f"endless listing: s3://{self.bucket}/{self.prefix} has more than "
                        f"{MAX_LISTING} entries",
                        "the wrong prefix? check the path in server",
                    )
                for item in items:
                    name = str(item["Key"])[len(self.prefix) :]
                    if not name:
                        continue  # a console's "folder" marker
                    shown = printable_name(name.encode("utf-8", "surrogateescape"))
                    if not listed(name, shown, skipped):
                        continue
                    files.append(
                        RemoteFile(name, int(item.get("Size", 0)), item["LastModified"].timestamp())
                    )
                token = page.get("NextContinuationToken")
                if not page.get("IsTruncated") or not token:
                    break
        self.list_skipped = skipped
        return sorted(files, key=lambda f: f.name)

    def fetch(self, name: str) -> AbstractContextManager[BinaryIO]:
        return self._fetch(name)

    @contextmanager
    def _fetch(self, name: str) -> Iterator[BinaryIO]:
        key = self._key(name)
        with self._errors("read", name, key):
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        size = int(answer.get("ContentLength") or 0)
        try:
            check_download_size(name, size)
        except ConnectionFailure:
            with suppress(Exception):
                answer["Body"].close()
            raise
        body = _Body(answer["Body"], name, size, self.timeout)
        stream = io.BufferedReader(body, buffer_size=CHUNK)
        try:
            yield stream
        finally:
            with suppress(Exception):
                stream.close()

    def _exists(self, key: str) -> bool:
        from botocore import exceptions as bx

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except bx.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def upload_atomic(
        self, local_path: Path | str, name: str, progress: Progress | None = None
    ) -> None:
        key = self._key(name)
        source = _open_source(local_path)
        extra = {"ServerSideEncryption": "AES256"} if self.account.server_side_encryption else {}
        with source, self._errors("upload", name, key):
            total = os.fstat(source.fileno()).st_size
            if self._exists(key):
                raise RemoteFileExists(name)
            if total <= PART_SIZE:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    ContentLength=total,
                    Body=_Counted(source, total, progress),
                    **extra,
                )
            else:
                self._multipart(source, key, total, progress, extra)

    def _multipart(
        self,
        source: BinaryIO,
        key: str,
        total: int,
        progress: Progress | None,
        extra: dict[str, str],
    ) -> None:
        """Parts of at least PART_SIZE bytes; on any error (cancel included) the upload
        is aborted, so S3 keeps no part and no object appears under ``key``."""
        part_size = max(PART_SIZE, -(-total // MAX_PARTS))
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        upload_id = upload["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            done = 0
            while chunk := source.read(part_size):
                number = len(parts) + 1
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def remove(self, name: str) -> bool:
        key = self._key(name)
        with self._errors("delete", name, key):
            if not self._exists(key):
                return False
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def close(self) -> None:
        with suppress(Exception):
            self.client.close()
