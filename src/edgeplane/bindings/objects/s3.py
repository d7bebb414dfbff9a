"""Objects on any S3-compatible server (AWS S3, MinIO, Ceph, R2's own S3 API), through boto3 on threads.

Mapping: the object's key is the S3 key; HTTP metadata uses S3's own headers; the R2 version, upload time (ms)
custom metadata and checksums travel in one user-metadata entry (``x-amz-meta-edgeplane``, base64 JSON), so
custom metadata keeps its case. Bodies stream: a put larger than ``SPOOL_IN_MEMORY`` is spooled to a temporary
file and sent from there; gets read the response stream in chunks.

Differences from the files backend, all documented in docs/r2.md: conditional puts check the precondition with
a HEAD just before the PUT (not atomic against another writer); ``list`` reports ``version`` and metadata only
with ``include`` (one HEAD per object).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

from edgeplane.bindings.errors import BackendUnavailable, BindingError
from edgeplane.bindings.objects.base import (
    CHUNK,
    Body,
    ByteRange,
    Fetched,
    Listing,
    ObjectMeta,
    Precondition,
    RangeSpec,
    UploadedPart,
)
from edgeplane.bindings.objects.multipart import check_parts

__all__ = ["TYPE", "Backend", "from_config"]

TYPE = "s3"
SPOOL_IN_MEMORY = 8 * 1024 * 1024
META = "edgeplane"
HTTP_ARGS = {
    "content_type": "ContentType",
    "content_language": "ContentLanguage",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "cache_control": "CacheControl",
    "cache_expiry": "Expires",
}
ERRORS = {
    "NoSuchUpload": "R2_NO_SUCH_UPLOAD",
    "InvalidPart": "R2_INVALID_PART",
    "InvalidPartOrder": "R2_INVALID_PART",
    "EntityTooSmall": "R2_ENTITY_TOO_SMALL",
    "InvalidRange": "R2_INVALID_RANGE",
    "MalformedXML": "R2_INVALID_PART",
}
T = TypeVar("T")


class _Missing(Exception):
    """S3 said 404 / NoSuchKey."""


def _pack(version: str, uploaded: float | None, http: dict[str, str], custom: dict[str, str],
          checksums: dict[str, str]) -> str:  # fmt: skip
    doc = {"v": version, "u": uploaded, "h": sorted(http), "c": custom, "k": checksums}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def _http_args(http: dict[str, str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, value in http.items():
        args[HTTP_ARGS[name]] = parsedate_to_datetime(value) if name == "cache_expiry" else value
    return args


def _meta(key: str, response: dict[str, Any], size: int | None = None) -> ObjectMeta:
    try:
        doc = json.loads(base64.urlsafe_b64decode(response.get("Metadata", {}).get(META, "") or "e30="))
    except ValueError:
        doc = {}
    http: dict[str, str] = {}
    for name, arg in HTTP_ARGS.items():
        value = response.get(arg)
        if value is None or name not in doc.get("h", ()):  # S3 fills in a Content-Type nobody set
            continue
        http[name] = format_datetime(value, usegmt=True) if isinstance(value, datetime) else str(value)
    uploaded = doc.get("u") or response["LastModified"].timestamp()
    return ObjectMeta(
        key=key, version=doc.get("v", ""), size=response.get("ContentLength", size or 0) if size is None else size,
        etag=response["ETag"].strip('"'), uploaded=uploaded, http_metadata=http,
        custom_metadata=doc.get("c", {}), checksums=doc.get("k", {}),
    )  # fmt: skip


class Backend:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self._threads = ThreadPoolExecutor(8, thread_name_prefix=f"s3-{bucket}")

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, lambda: fn(*args, **kwargs))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey"):
                raise _Missing(key_of(kwargs)) from None
            message = exc.response.get("Error", {}).get("Message", "") or str(exc)
            if code in ERRORS:
                raise BindingError(f"{message} ({code})", code=ERRORS[code]) from None
            raise BindingError(f"S3 refused the request: {message} ({code})", code="R2_BACKEND_ERROR") from None
        except BotoCoreError as exc:
            raise BackendUnavailable(f"S3 server unreachable: {exc}") from None

    async def head(self, key: str) -> ObjectMeta | None:
        try:
            response = await self._call(self.client.head_object, Bucket=self.bucket, Key=key)
        except _Missing:
            return None
        return _meta(key, response)

    async def get(self, key: str, range: RangeSpec | None) -> Fetched | None:
        header = range.header() if range is not None else None
        if range is not None and header is None:  # zero length or suffix: not an HTTP range, let R2's rule decide
            meta = await self.head(key)
            if meta is None:
                return None
            range.resolve(meta.size)  # raises, or (lenient) means the whole object
            range = None
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if header is not None and range is not None:
            args["Range"] = header
        try:
            response = await self._call(self.client.get_object, **args)
        except _Missing:
            return None
        except BindingError as exc:
            if exc.code != "R2_INVALID_RANGE" or range is None:
                raise
            meta = await self.head(key)  # S3 says 416: R2's own rule gives the error (or, lenient, the whole)
            if meta is None:
                return None
            range.resolve(meta.size)
            return await self.get(key, None)
        total = response.get("ContentLength", 0)
        resolved = ByteRange(0, total)
        if "ContentRange" in response:  # "bytes a-b/total"
            span, _, size = response["ContentRange"].removeprefix("bytes ").partition("/")
            first, _, last = span.partition("-")
            total = int(size)
            resolved = ByteRange(int(first), int(last) - int(first) + 1)
        if range is not None and total == 0:
            response["Body"].close()
            range.resolve(0)  # any range of an empty object: raises, or (lenient) the empty whole
        stream = response["Body"]
        return Fetched(_meta(key, response, total), self._read(stream), resolved, stream.close)

    async def _read(self, stream: Any) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._call(stream.read, CHUNK):
                yield chunk
        finally:
            stream.close()

    async def _spool(self, body: AsyncIterator[bytes]) -> Any:
        """The body as a file object (memory up to SPOOL_IN_MEMORY, then a temporary file)."""
        spooled = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115 - the caller closes it
        try:
            async for chunk in body:
                if spooled._rolled:  # type: ignore[attr-defined]
                    await asyncio.to_thread(spooled.write, chunk)
                else:
                    spooled.write(chunk)
            spooled.seek(0)
        except BaseException:
            spooled.close()
            raise
        return spooled

    async def put(
        self,
        key: str,
        body: Body,
        http_metadata: dict[str, str],
        custom_metadata: dict[str, str],
        precondition: Precondition | None,
    ) -> ObjectMeta | None:
        with await self._spool(aiter(body)) as data:
            if precondition is not None and not precondition(await self.head(key)):
                return None
            version, uploaded = uuid.uuid4().hex, round(time.time(), 3)
            response = await self._call(
                self.client.put_object, Bucket=self.bucket, Key=key, Body=data, ContentLength=body.size,
                Metadata={META: _pack(version, uploaded, http_metadata, custom_metadata, body.digests)},
                **_http_args(http_metadata),
            )  # fmt: skip
        return ObjectMeta(
            key=key, version=version, size=body.size, etag=response["ETag"].strip('"'), uploaded=uploaded,
            http_metadata=http_metadata, custom_metadata=custom_metadata, checksums=body.digests,
        )  # fmt: skip

    async def delete(self, keys: list[str]) -> None:
        if len(keys) == 1:
            await self._call(self.client.delete_object, Bucket=self.bucket, Key=keys[0])
            return
        objects = [{"Key": k} for k in keys]
        await self._call(self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    async def listing(
        self, prefix: str, delimiter: str | None, after: str | None, limit: int, include_metadata: bool
    ) -> Listing:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if delimiter:
            args["Delimiter"] = delimiter
        if after is not None:
            args["StartAfter"] = after
        response = await self._call(self.client.list_objects_v2, **args)
        listed = response.get("Contents", [])
        if include_metadata:
            heads = await asyncio.gather(*(self.head(item["Key"]) for item in listed))
            objects = [m for m in heads if m is not None]
        else:
            objects = [
                ObjectMeta(key=i["Key"], version="", size=i["Size"], etag=i["ETag"].strip('"'),
                           uploaded=i["LastModified"].timestamp())
                for i in listed
            ]  # fmt: skip
        prefixes = [p["Prefix"] for p in response.get("CommonPrefixes", [])]
        names = sorted([m.key for m in objects] + prefixes)
        return Listing(objects, prefixes, bool(response.get("IsTruncated")), names[-1] if names else None)

    async def create_multipart(self, key: str, http_metadata: dict[str, str], custom_metadata: dict[str, str]) -> str:
        response = await self._call(
            self.client.create_multipart_upload, Bucket=self.bucket, Key=key,
            Metadata={META: _pack(uuid.uuid4().hex, None, http_metadata, custom_metadata, {})},
            **_http_args(http_metadata),
        )  # fmt: skip
        return str(response["UploadId"])

    async def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> str:
        await self._known_upload(key, upload_id)  # before reading the body (moto answers 500 for an unknown id)
        with await self._spool(aiter(body)) as data:
            response = await self._call(
                self.client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number,
                Body=data, ContentLength=body.size,
            )  # fmt: skip
        return str(response["ETag"]).strip('"')

    async def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> ObjectMeta:
        check_parts(parts, await self._stored_parts(key, upload_id))  # R2's rules, which S3 servers do not all keep
        listed = [{"PartNumber": p.part_number, "ETag": f'"{p.etag.strip(chr(34))}"'} for p in parts]
        await self._call(
            self.client.complete_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": sorted(listed, key=lambda p: int(p["PartNumber"]))},
        )  # fmt: skip
        meta = await self.head(key)
        if meta is None:
            raise BindingError(f"{key!r} vanished right after its multipart upload completed", code="R2_CONFLICT")
        return meta

    async def _stored_parts(self, key: str, upload_id: str) -> dict[int, tuple[str, int]]:
        """Part number -> (etag, size) of an upload in progress; NoSuchUpload otherwise."""
        stored: dict[int, tuple[str, int]] = {}
        marker = 0
        while True:
            page = await self._call(
                self.client.list_parts, Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            for part in page.get("Parts", []):
                stored[part["PartNumber"]] = (part["ETag"].strip('"'), part["Size"])
            if not page.get("IsTruncated"):
                return stored
            marker = page["NextPartNumberMarker"]

    async def _known_upload(self, key: str, upload_id: str) -> None:
        """NoSuchUpload unless the upload is in progress (servers differ on completed and aborted ones)."""
        await self._call(self.client.list_parts, Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(BindingError):  # as R2: aborting a finished or unknown upload is not an error
            await self._call(self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id)

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.client.close()


def key_of(kwargs: dict[str, Any]) -> str:
    return str(kwargs.get("Key", ""))


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


def from_config(bucket_name: str, data_dir: Path, url: str | None, options: dict[str, Any]) -> Backend:
    """``url`` is the S3 endpoint (``http://127.0.0.1:9000``; None for AWS itself); ``options`` may carry
    ``region``, ``access_key_id`` and ``secret_access_key`` (resolved from the environment by the platform)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=options.get("region") or "us-east-1",
        aws_access_key_id=options.get("access_key_id"),
        aws_secret_access_key=options.get("secret_access_key"),
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=16,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    return Backend(client, bucket_name)
