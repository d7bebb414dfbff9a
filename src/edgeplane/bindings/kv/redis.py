"""KV on Redis (redis-py asyncio): for several gateway nodes sharing one namespace.

Each key is a hash ``<prefix>v:<key>`` with fields ``v`` (value), ``m`` (metadata JSON) and ``e`` (expiry),
expired by Redis itself (EXPIREAT); a sorted set ``<prefix>keys`` (all scores 0) orders keys byte-wise for
``list``. Expiry is also checked against the caller's clock, so every backend hides expired keys the same way.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from edgeplane.bindings.errors import BackendUnavailable
from edgeplane.bindings.kv.base import ListedKey, StoredValue

__all__ = ["TYPE", "Backend", "from_config"]

TYPE = "redis"
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class Backend:
    def __init__(self, client: aioredis.Redis, namespace_id: str) -> None:
        self.client = client
        self.prefix = f"edgeplane:kv:{namespace_id}:".encode()
        self.index = self.prefix + b"keys"

    def _key(self, key: str) -> bytes:
        return self.prefix + b"v:" + key.encode()

    def changed_elsewhere(self) -> bool:
        return True  # no cheap change signal: the namespace does not cache Redis reads

    async def get(self, key: str, now: float) -> StoredValue | None:
        try:
            value, meta, exp = await self.client.hmget(self._key(key), ["v", "m", "e"])
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"redis: {exc}") from None
        if value is None:
            return None
        expiration = int(exp) if exp else None
        if expiration is not None and expiration <= now:
            return None
        return StoredValue(_bytes(value), json.loads(meta) if meta else None, expiration)

    async def put(self, key: str, value: bytes, expiration: int | None, metadata: Any) -> None:
        meta = json.dumps(metadata, separators=(",", ":")) if metadata is not None else ""
        name = self._key(key)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(name, mapping={"v": value, "m": meta, "e": str(expiration) if expiration else ""})
                if expiration is not None:
                    pipe.expireat(name, expiration)
                else:
                    pipe.persist(name)
                pipe.zadd(self.index, {key.encode(): 0})
                await pipe.execute()
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"redis: {exc}") from None

    async def delete(self, key: str) -> None:
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(key))
                pipe.zrem(self.index, key.encode())
                await pipe.execute()
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"redis: {exc}") from None

    async def list(self, prefix: str, limit: int, after: str | None, now: float) -> tuple[list[ListedKey], bool]:
        low = b"(" + after.encode() if after is not None and after >= prefix else b"[" + prefix.encode()
        high = b"[" + prefix.encode() + b"\xff" if prefix else b"+"
        out: list[ListedKey] = []
        try:
            while len(out) <= limit:  # one more than asked tells whether the list is complete
                want = limit + 1 - len(out)
                names = [_bytes(n) for n in await self.client.zrangebylex(self.index, low, high, start=0, num=want)]
                out += await self._live(names, now)
                if len(names) < want:
                    return out[:limit], len(out) <= limit
                low = b"(" + names[-1]
        except UNAVAILABLE as exc:
            raise BackendUnavailable(f"redis: {exc}") from None
        return out[:limit], False

    async def _live(self, names: builtins.list[bytes], now: float) -> builtins.list[ListedKey]:
        """The entries of ``names`` that have not expired; index members Redis already expired are dropped."""
        if not names:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(self.prefix + b"v:" + name, ["m", "e"])
            fields = await pipe.execute()
        live: builtins.list[ListedKey] = []
        gone: builtins.list[bytes] = []
        for name, (meta, exp) in zip(names, fields, strict=True):
            expiration = int(exp) if exp else None
            if exp is None and meta is None:
                gone.append(name)
            elif expiration is None or expiration > now:
                live.append(ListedKey(name.decode(), expiration, json.loads(meta) if meta else None))
        if gone:
            await self.client.zrem(self.index, *gone)
        return live

    async def close(self) -> None:
        await self.client.aclose()


def _bytes(value: bytes | str) -> bytes:
    """redis-py types replies as ``bytes | str``; this client never decodes, so they are bytes."""
    return value if isinstance(value, bytes) else value.encode()


def from_config(namespace_id: str, data_dir: Path, url: str | None) -> Backend:
    if not url:
        raise ValueError("a redis KV namespace needs url = 'redis://host:port/db'")
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return Backend(client, namespace_id)
