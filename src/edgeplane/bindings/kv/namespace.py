"""``KVNamespace``: the Workers KV API a worker calls (``await env.KV.get("k")``), with Cloudflare's limits.

Validation happens here, before any backend call, so a refused call writes nothing. Reads go through a small
in-process cache that is dropped whenever the backend reports a write from elsewhere (SQLite's
``data_version``), so a cache hit is never staler than the database.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from edgeplane.bindings.cursors import decode_cursor, encode_cursor
from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.kv.base import KVBackend, ListPage, StoredValue

__all__ = ["KEY_MAX_BYTES", "LIST_MAX", "METADATA_MAX_BYTES", "MIN_TTL", "VALUE_MAX_BYTES", "KVNamespace", "KVResult"]

KEY_MAX_BYTES = 512
VALUE_MAX_BYTES = 25 * 1024 * 1024
METADATA_MAX_BYTES = 1024
MIN_TTL = 60
LIST_MAX = 1000
CACHE_ENTRIES = 4096
CACHE_VALUE_MAX = 64 * 1024

ValueType = Literal["text", "json", "bytes"]


@dataclass(frozen=True, slots=True)
class KVResult:
    """``get_with_metadata``'s answer (value is None when the key does not exist)."""

    value: Any
    metadata: Any


def _fail(code: str, message: str) -> BindingError:
    return BindingError(message, code=code)


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise _fail("KV_KEY_INVALID", f"key must be a string, got {type(key).__name__}")
    if key in ("", ".", ".."):
        raise _fail("KV_KEY_INVALID", f"key {key!r} is not allowed (empty, '.' and '..' are reserved)")
    if len(key.encode()) > KEY_MAX_BYTES:
        raise _fail("KV_KEY_TOO_LONG", f"key is {len(key.encode())} bytes; the limit is {KEY_MAX_BYTES}")
    return key


def _decode(stored: StoredValue | None, type: ValueType) -> Any:
    if stored is None:
        return None
    if type == "bytes":
        return stored.value
    if type == "text":
        return stored.value.decode("utf-8", "replace")
    try:
        return json.loads(stored.value)
    except ValueError as exc:
        raise _fail("KV_INVALID_JSON", f"value is not valid JSON: {exc}") from None


class KVNamespace:
    """One KV namespace bound into a worker's ``env``."""

    def __init__(self, backend: KVBackend, *, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self._cache: OrderedDict[str, StoredValue | None] = OrderedDict()

    async def _stored(self, key: str) -> StoredValue | None:
        _check_key(key)
        now = self.clock()
        cache = self._cache
        if self.backend.changed_elsewhere():
            cache.clear()
        elif key in cache:
            stored = cache[key]
            if stored is None or stored.expiration is None or stored.expiration > now:
                cache.move_to_end(key)
                return stored
            del cache[key]
        stored = await self.backend.get(key, now)
        if stored is None or len(stored.value) <= CACHE_VALUE_MAX:
            cache[key] = stored
            if len(cache) > CACHE_ENTRIES:
                cache.popitem(last=False)
        return stored

    async def get(self, key: str, type: ValueType = "text") -> Any:
        """The value (``str``, parsed JSON or ``bytes``), or None if absent or expired."""
        _check_type(type)
        return _decode(await self._stored(key), type)

    async def get_with_metadata(self, key: str, type: ValueType = "text") -> KVResult:
        _check_type(type)
        stored = await self._stored(key)
        return KVResult(_decode(stored, type), stored.metadata if stored else None)

    async def put(
        self,
        key: str,
        value: str | bytes | bytearray | memoryview,
        *,
        expiration: float | None = None,
        expiration_ttl: float | None = None,
        metadata: Any = None,
    ) -> None:
        """Store ``value``; ``expiration`` (epoch seconds) or ``expiration_ttl`` (seconds, ≥ 60) make it expire."""
        _check_key(key)
        if isinstance(value, str):
            data = value.encode()
        elif isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
        else:
            raise _fail("KV_INVALID_VALUE", f"value must be str or bytes, got {type(value).__name__} (json.dumps it)")
        if len(data) > VALUE_MAX_BYTES:
            raise _fail("KV_VALUE_TOO_LARGE", f"value is {len(data)} bytes; the limit is {VALUE_MAX_BYTES} (25 MiB)")
        if metadata is not None:
            try:
                size = len(json.dumps(metadata, separators=(",", ":")).encode())
            except (TypeError, ValueError) as exc:
                raise _fail("KV_INVALID_METADATA", f"metadata must be JSON-serializable: {exc}") from None
            if size > METADATA_MAX_BYTES:
                raise _fail("KV_METADATA_TOO_LARGE", f"metadata is {size} bytes serialized; the limit is 1024")
        expires = self._expiry(expiration, expiration_ttl)
        await self.backend.put(key, data, expires, metadata)
        self._cache.pop(key, None)

    def _expiry(self, expiration: float | None, expiration_ttl: float | None) -> int | None:
        """Absolute expiry in epoch seconds. As in Miniflare: numbers are truncated to whole seconds, and when
        both are given ``expiration_ttl`` wins."""
        now = self.clock()
        if expiration_ttl is not None:
            if not _is_number(expiration_ttl) or int(expiration_ttl) < MIN_TTL:
                raise _fail("KV_INVALID_EXPIRATION", f"expiration_ttl must be a number ≥ {MIN_TTL} seconds")
            return int(now) + int(expiration_ttl)
        if expiration is not None:
            if not _is_number(expiration) or int(expiration) < now + MIN_TTL:
                raise _fail(
                    "KV_INVALID_EXPIRATION", f"expiration must be an epoch second at least {MIN_TTL} s in the future"
                )
            return int(expiration)
        return None

    async def delete(self, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        _check_key(key)
        await self.backend.delete(key)
        self._cache.pop(key, None)

    async def list(self, *, prefix: str | None = None, limit: int = LIST_MAX, cursor: str | None = None) -> ListPage:
        """Live keys in UTF-8 byte order, ``limit`` (1 to 1000) per page; pass ``cursor`` to get the next page."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= LIST_MAX:
            raise _fail("KV_INVALID_LIST_LIMIT", f"limit must be an integer from 1 to {LIST_MAX}")
        after = decode_cursor(cursor, "KV_INVALID_CURSOR") if cursor else None
        keys, complete = await self.backend.list(prefix or "", limit, after, self.clock())
        next_cursor = None if complete or not keys else encode_cursor(keys[-1].name)
        return ListPage(keys=keys, list_complete=complete or not keys, cursor=next_cursor)

    async def close(self) -> None:
        await self.backend.close()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_type(type: str) -> None:
    if type not in ("text", "json", "bytes"):
        raise _fail("KV_INVALID_TYPE", f"type must be 'text', 'json' or 'bytes', got {type!r}")
