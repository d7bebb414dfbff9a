"""``R2Bucket``: the R2 API a worker calls (``await env.ASSETS.put("k", data)``), with R2's limits.

Validation happens here, before any backend call, so a refused call writes nothing. Bodies stream: ``put``
takes ``bytes``/``str``, an async iterable of chunks or a file object; ``get`` returns an ``R2ObjectBody``
whose ``body`` yields chunks (``await obj.bytes()`` reads it all when that is what you want).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgeplane.bindings.cursors import decode_cursor, encode_cursor
from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.objects.base import CHUNK, Body, ByteRange, Fetched, ObjectBackend, ObjectMeta, UploadedPart
from edgeplane.bindings.objects.conditions import parse_conditions, parse_range
from edgeplane.bindings.objects.multipart import MAX_PART_NUMBER

__all__ = [
    "CUSTOM_METADATA_MAX_BYTES",
    "KEY_MAX_BYTES",
    "LIST_MAX",
    "MAX_PUT_BYTES",
    "R2Bucket",
    "R2MultipartUpload",
    "R2Object",
    "R2ObjectBody",
    "R2Objects",
]

KEY_MAX_BYTES = 1024
CUSTOM_METADATA_MAX_BYTES = 2048
LIST_MAX = 1000
DELETE_MAX = 1000
MAX_PUT_BYTES = 5 * 1024**3 - 5 * 1024**2
"""R2's single-upload limit (5 GiB - 5 MiB); larger objects need a multipart upload."""
HTTP_FIELDS = {
    "content_type": "content-type",
    "content_language": "content-language",
    "content_disposition": "content-disposition",
    "content_encoding": "content-encoding",
    "cache_control": "cache-control",
    "cache_expiry": "expires",
}
CHECKSUMS = ("md5", "sha1", "sha256", "sha384", "sha512")
INCLUDE = ("http_metadata", "custom_metadata")

Value = str | bytes | bytearray | memoryview | AsyncIterable[bytes] | Any | None


def _fail(code: str, message: str) -> BindingError:
    return BindingError(message, code=code)


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise _fail("R2_INVALID_KEY", f"key must be a string, got {type(key).__name__}")
    if not key:
        raise _fail("R2_INVALID_KEY", "key must not be empty")
    size = len(key.encode())
    if size > KEY_MAX_BYTES:
        raise _fail("R2_KEY_TOO_LONG", f"key is {size} bytes; the limit is {KEY_MAX_BYTES}")
    return key


class R2Object:
    """An object's metadata (what ``head``, ``put`` and a failed conditional ``get`` return)."""

    __slots__ = ("checksums", "custom_metadata", "etag", "http_metadata", "key", "range", "size", "uploaded",
                 "version")  # fmt: skip

    def __init__(self, meta: ObjectMeta, range: ByteRange | None = None) -> None:
        self.key = meta.key
        self.version = meta.version
        self.size = meta.size
        self.etag = meta.etag
        self.uploaded = datetime.fromtimestamp(meta.uploaded, UTC)
        self.http_metadata = dict(meta.http_metadata)
        self.custom_metadata = dict(meta.custom_metadata)
        self.checksums = dict(meta.checksums)
        self.range = {"offset": range.offset, "length": range.length} if range is not None else None

    @property
    def http_etag(self) -> str:
        return f'"{self.etag}"'

    @property
    def storage_class(self) -> str:
        return "Standard"

    def write_http_metadata(self, headers: MutableMapping[str, str]) -> None:
        """Set Content-Type, Cache-Control, … on ``headers`` from the object's HTTP metadata."""
        for name, header in HTTP_FIELDS.items():
            if name in self.http_metadata:
                headers[header] = self.http_metadata[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "version": self.version, "size": self.size, "etag": self.etag,
            "http_etag": self.http_etag, "uploaded": self.uploaded.isoformat().replace("+00:00", "Z"),
            "http_metadata": self.http_metadata, "custom_metadata": self.custom_metadata,
            "checksums": self.checksums, "storage_class": self.storage_class, "range": self.range,
        }  # fmt: skip

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} size={self.size} etag={self.etag}>"


class R2ObjectBody(R2Object):
    """An object with its body: iterate ``body`` for chunks, or ``await bytes()/text()/json()``."""

    __slots__ = ("__weakref__", "_close", "_iterator", "body_used")

    def __init__(self, fetched: Fetched) -> None:
        super().__init__(fetched.meta, fetched.range)
        self._iterator = fetched.body
        self._close = weakref.finalize(self, fetched.close)  # a body dropped unread still releases its file
        self.body_used = False

    @property
    def body(self) -> AsyncIterator[bytes]:
        """The chunks; can be iterated once (looking at the attribute does not consume it)."""
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self.body_used:
            raise _fail("R2_BODY_USED", "the body was already read")
        self.body_used = True
        async for chunk in self._iterator:
            yield chunk

    async def bytes(self) -> bytes:
        return b"".join([chunk async for chunk in self.body])

    async def text(self) -> str:
        return (await self.bytes()).decode()

    async def json(self) -> Any:
        return json.loads(await self.bytes())

    def close(self) -> None:
        """Release the body without reading it."""
        self.body_used = True
        self._close()


@dataclass(frozen=True, slots=True)
class R2Objects:
    """A page of ``list``: objects, the prefixes rolled up by ``delimiter``, and how to get the next page."""

    objects: list[R2Object]
    delimited_prefixes: list[str]
    truncated: bool
    cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"objects": [o.to_dict() for o in self.objects], "delimited_prefixes": self.delimited_prefixes,
                "truncated": self.truncated, "cursor": self.cursor}  # fmt: skip


async def _chunks(value: Value) -> AsyncIterator[bytes]:
    if value is None:
        return
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        data = memoryview(value)
        for start in range(0, len(data), CHUNK):
            yield bytes(data[start : start + CHUNK])
        return
    if isinstance(value, R2ObjectBody):
        value = value.body
    if isinstance(value, AsyncIterable):
        async for chunk in value:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise _fail("R2_INVALID_VALUE", f"body chunks must be bytes, got {type(chunk).__name__}")
            yield bytes(chunk)
        return
    read = getattr(value, "read", None)
    if callable(read):
        while chunk := await asyncio.to_thread(read, CHUNK):
            yield chunk.encode() if isinstance(chunk, str) else chunk
        return
    raise _fail("R2_INVALID_VALUE", f"value must be bytes, str, a file or an async iterable of bytes, not "
                                    f"{type(value).__name__}")  # fmt: skip


def _http_metadata(value: Mapping[str, Any] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("R2_INVALID_METADATA", "http_metadata must be a dict such as {'content_type': 'text/plain'}")
    out: dict[str, str] = {}
    for name, item in value.items():
        if name not in HTTP_FIELDS:
            raise _fail("R2_INVALID_METADATA", f"unknown http_metadata field {name!r}; use {sorted(HTTP_FIELDS)}")
        if name == "cache_expiry" and isinstance(item, datetime):
            from email.utils import format_datetime

            out[name] = format_datetime(item if item.tzinfo else item.replace(tzinfo=UTC), usegmt=True)
        elif isinstance(item, str):
            out[name] = item
        else:
            raise _fail("R2_INVALID_METADATA", f"http_metadata {name} must be a string")
    return out


def http_metadata_from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """HTTP metadata from an upload's ``Content-*`` and ``Cache-Control`` headers (lower-case names)."""
    return {
        name: headers[header] for name, header in HTTP_FIELDS.items() if name != "cache_expiry" and header in headers
    }


def _custom_metadata(value: Mapping[str, Any] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _fail("R2_INVALID_METADATA", "custom_metadata must map strings to strings")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
    if size > CUSTOM_METADATA_MAX_BYTES:
        raise _fail(
            "R2_METADATA_TOO_LARGE", f"custom_metadata is {size} bytes; the limit is {CUSTOM_METADATA_MAX_BYTES}"
        )
    return dict(value)


def _checksums(given: dict[str, Any]) -> dict[str, str]:
    expected: dict[str, str] = {}
    for algorithm, value in given.items():
        digest = bytes(value).hex() if isinstance(value, bytes | bytearray | memoryview) else value
        if digest is None:
            continue
        if not isinstance(digest, str) or not all(c in "0123456789abcdefABCDEF" for c in digest):
            raise _fail("R2_INVALID_CHECKSUM", f"{algorithm} must be a hex string or the digest's bytes")
        expected[algorithm] = digest.lower()
    if len(expected) > 1:
        raise _fail("R2_INVALID_CHECKSUM", "give at most one checksum (md5, sha1, sha256, sha384 or sha512)")
    return expected


class R2MultipartUpload:
    """An upload in progress: ``upload_part`` (any order, 1 to 10000), then ``complete`` or ``abort``."""

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str) -> None:
        self._backend = bucket.backend
        self.key = key
        self.upload_id = upload_id

    async def upload_part(self, part_number: int, value: Value) -> UploadedPart:
        if (
            not isinstance(part_number, int)
            or isinstance(part_number, bool)
            or not (1 <= part_number <= MAX_PART_NUMBER)
        ):
            raise _fail("R2_INVALID_PART", f"part_number must be from 1 to {MAX_PART_NUMBER}")
        body = Body(_chunks(value), {}, MAX_PUT_BYTES)
        etag = await self._backend.upload_part(self.key, self.upload_id, part_number, body)
        return UploadedPart(part_number, etag)

    async def complete(self, parts: Iterable[UploadedPart | Mapping[str, Any]]) -> R2Object:
        listed = [UploadedPart(int(p["part_number"]), str(p["etag"])) if isinstance(p, Mapping) else p for p in parts]
        return R2Object(await self._backend.complete_multipart(self.key, self.upload_id, listed))

    async def abort(self) -> None:
        await self._backend.abort_multipart(self.key, self.upload_id)


class R2Bucket:
    """One bucket bound into a worker's ``env``."""

    def __init__(self, backend: ObjectBackend, presign: Callable[[str, str, int], str] | None = None) -> None:
        self.backend = backend
        self._presign = presign

    async def head(self, key: str) -> R2Object | None:
        meta = await self.backend.head(_check_key(key))
        return R2Object(meta, ByteRange(0, meta.size)) if meta is not None else None

    async def get(
        self, key: str, *, range: Mapping[str, Any] | str | None = None, only_if: Mapping[str, Any] | None = None
    ) -> R2ObjectBody | R2Object | None:
        """The object with its body; ``None`` if absent; only its metadata (``R2Object``) if ``only_if``
        is not met."""
        _check_key(key)
        spec = parse_range(range)
        conditions = parse_conditions(only_if)
        fetched = await self.backend.get(key, spec)
        if fetched is None:
            return None
        if conditions is not None and not conditions.met_by(fetched.meta):
            fetched.close()
            return R2Object(fetched.meta, ByteRange(0, fetched.meta.size))
        return R2ObjectBody(fetched)

    async def put(
        self,
        key: str,
        value: Value,
        *,
        http_metadata: Mapping[str, Any] | None = None,
        custom_metadata: Mapping[str, str] | None = None,
        only_if: Mapping[str, Any] | None = None,
        md5: str | bytes | None = None,
        sha1: str | bytes | None = None,
        sha256: str | bytes | None = None,
        sha384: str | bytes | None = None,
        sha512: str | bytes | None = None,
    ) -> R2Object | None:
        """Store ``value``; ``None`` (nothing written) if ``only_if`` is not met."""
        _check_key(key)
        http = _http_metadata(http_metadata)
        custom = _custom_metadata(custom_metadata)
        expected = _checksums({"md5": md5, "sha1": sha1, "sha256": sha256, "sha384": sha384, "sha512": sha512})
        conditions = parse_conditions(only_if)
        body = Body(_chunks(value), expected, MAX_PUT_BYTES)
        meta = await self.backend.put(key, body, http, custom, conditions.met_by if conditions else None)
        return R2Object(meta) if meta is not None else None

    async def delete(self, keys: str | Iterable[str]) -> None:
        """Delete one key or up to 1000; missing keys are not an error."""
        names = [keys] if isinstance(keys, str) else list(keys)
        if len(names) > DELETE_MAX:
            raise _fail("R2_TOO_MANY_KEYS", f"delete takes at most {DELETE_MAX} keys, got {len(names)}")
        for name in names:
            _check_key(name)
        if names:
            await self.backend.delete(names)

    async def list(
        self,
        *,
        prefix: str | None = None,
        delimiter: str | None = None,
        cursor: str | None = None,
        start_after: str | None = None,
        limit: int = LIST_MAX,
        include: Iterable[str] = (),
    ) -> R2Objects:
        """Objects in UTF-8 byte order of key; ``limit`` (1 to 1000) entries per page, objects and delimited
        prefixes together; ``include`` adds ``http_metadata``/``custom_metadata``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= LIST_MAX:
            raise _fail("R2_INVALID_LIST_LIMIT", f"limit must be an integer from 1 to {LIST_MAX}")
        wanted = set(include)
        if wanted - set(INCLUDE):
            raise _fail("R2_INVALID_INCLUDE", f"include takes {list(INCLUDE)}, got {sorted(wanted)}")
        after = decode_cursor(cursor, "R2_INVALID_CURSOR") if cursor else start_after
        if start_after is not None and after is not None and start_after > after:
            after = start_after
        listing = await self.backend.listing(prefix or "", delimiter or None, after, limit, bool(wanted))
        objects = []
        for meta in listing.objects:
            obj = R2Object(meta)
            if "http_metadata" not in wanted:
                obj.http_metadata = {}
            if "custom_metadata" not in wanted:
                obj.custom_metadata = {}
            objects.append(obj)
        next_cursor = None
        if listing.truncated and listing.last is not None:
            # after a rolled-up prefix, the next page starts past every key under it
            last = listing.last + "\U0010ffff" if listing.last in listing.delimited_prefixes else listing.last
            next_cursor = encode_cursor(last)
        return R2Objects(objects, listing.delimited_prefixes, listing.truncated, next_cursor)

    async def create_multipart_upload(
        self,
        key: str,
        *,
        http_metadata: Mapping[str, Any] | None = None,
        custom_metadata: Mapping[str, str] | None = None,
    ) -> R2MultipartUpload:
        _check_key(key)
        upload_id = await self.backend.create_multipart(
            key, _http_metadata(http_metadata), _custom_metadata(custom_metadata)
        )
        return R2MultipartUpload(self, key, upload_id)

    def resume_multipart_upload(self, key: str, upload_id: str) -> R2MultipartUpload:
        """The handle of an upload created earlier (checked when it is next used, as in R2)."""
        return R2MultipartUpload(self, _check_key(key), upload_id)

    def presign(self, key: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A URL the gateway serves without a worker: ``GET`` downloads, ``PUT`` uploads the request body.
        Signed with HMAC-SHA256; valid for ``expires_in`` seconds (at most 7 days)."""
        _check_key(key)
        if method not in ("GET", "PUT"):
            raise _fail("R2_INVALID_PRESIGN", "method must be 'GET' or 'PUT'")
        if not isinstance(expires_in, int) or not 1 <= expires_in <= 7 * 86400:
            raise _fail("R2_INVALID_PRESIGN", "expires_in must be from 1 to 604800 seconds")
        if self._presign is None:
            raise _fail("R2_PRESIGN_UNAVAILABLE", "this bucket is not bound through a running platform")
        return self._presign(method, key, expires_in)

    async def close(self) -> None:
        await self.backend.close()
