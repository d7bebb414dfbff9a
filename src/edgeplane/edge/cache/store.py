"""Where cached responses live: an in-process LRU bounded in bytes, backed by a shared tier (the KV backends:
SQLite for the processes of one machine, Redis for several machines), and the purge list both obey.

An entry is immutable; refreshing one (a 304 from the origin) stores a new entry under the same key.
Purges are rules (``url``, ``prefix``, ``host``, ``tag``, ``all``) stamped with a time: an entry stored before a
matching rule is gone. The memory tier applies a rule as it arrives; the shared tier checks entries against the
rules newer than them when it reads (most entries are newer than every rule, so that check is one comparison).
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from edgeplane.bindings.kv.base import KVBackend

__all__ = ["PURGE_HORIZON", "CacheEntry", "MemoryTier", "Purge", "PurgeList", "SharedTier"]

log = logging.getLogger("edgeplane.cache")
PURGE_HORIZON = 7 * 86400.0
"""How long purges are remembered; no tier keeps an entry longer, so none can outlive a purge it missed."""
KEEP = 600.0
"""Seconds an entry with an ``ETag`` or ``Last-Modified`` is kept past its freshness, for revalidation."""
ENTRY_OVERHEAD = 400
"""Bytes an entry costs beyond its body and headers (the object, its key, the LRU slot); for accounting."""


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class CacheEntry:
    """One stored response and how it ages (times are ``time.time()`` seconds). Weakly referable: the hit path
    remembers which entry answered a request head without keeping it alive."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    """Response headers as the origin sent them, minus hop-by-hop and ``Edgeplane-Cache-Control``."""
    body: bytes
    stored: float
    fresh_until: float
    swr_until: float
    sie_until: float
    url: str
    """``host/path?query`` the entry was stored for (purge by URL, prefix and host)."""
    tags: frozenset[str] = frozenset()
    etag: bytes = b""
    last_modified: bytes = b""
    vary: tuple[bytes, ...] = ()
    """Request header names the origin's ``Vary`` named (the entry is one variant)."""
    age_at_store: float = 0.0
    """The origin's ``Age`` when stored (RFC 9111 §4.2.3)."""
    must_revalidate: bool = False
    size: int = field(default=0)

    def expires(self) -> float:
        """When the entry is of no use any more: past fresh, stale-while-revalidate and stale-if-error, and,
        for an entry with a validator, past ``KEEP`` (it may still be revalidated with a conditional request)."""
        end = max(self.fresh_until, self.swr_until, self.sie_until)
        if self.etag or self.last_modified:
            end = max(end, self.fresh_until + KEEP)
        return end

    def age(self, now: float) -> int:
        return int(self.age_at_store + max(0.0, now - self.stored))

    def to_bytes(self) -> bytes:
        meta = {
            "s": self.status,
            "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            "t": [self.stored, self.fresh_until, self.swr_until, self.sie_until, self.age_at_store],
            "u": self.url,
            "g": sorted(self.tags),
            "e": self.etag.decode("latin-1"),
            "m": self.last_modified.decode("latin-1"),
            "v": [v.decode("latin-1") for v in self.vary],
            "r": self.must_revalidate,
        }
        head = orjson.dumps(meta)
        return len(head).to_bytes(4, "big") + head + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheEntry:
        n = int.from_bytes(data[:4], "big")
        meta: dict[str, Any] = orjson.loads(data[4 : 4 + n])
        body = data[4 + n :]
        headers = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["h"])
        stored, fresh, swr, sie, age = meta["t"]
        return cls.make(
            meta["s"], headers, body, stored, fresh, swr, sie, meta["u"], frozenset(meta["g"]),
            meta["e"].encode("latin-1"), meta["m"].encode("latin-1"),
            tuple(v.encode("latin-1") for v in meta["v"]), age, meta["r"],
        )  # fmt: skip

    @classmethod
    def make(cls, *args: Any) -> CacheEntry:
        entry = cls(*args)
        size = len(entry.body) + sum(len(k) + len(v) for k, v in entry.headers) + ENTRY_OVERHEAD
        object.__setattr__(entry, "size", size)
        return entry


@dataclass(frozen=True, slots=True)
class Purge:
    """One purge: ``kind`` is ``url`` (``host/path?query``), ``prefix`` (``host/path``), ``host``, ``tag`` or
    ``all``; entries stored before ``at`` that it matches are gone."""

    kind: str
    value: str
    at: float

    def matches(self, entry: CacheEntry) -> bool:
        if entry.stored >= self.at:
            return False
        kind = self.kind
        if kind == "all":
            return True
        if kind == "url":
            return entry.url == self.value
        if kind == "prefix":
            return entry.url.startswith(self.value)
        if kind == "host":
            return entry.url.split("/", 1)[0] == self.value
        return self.value in entry.tags


class PurgeList:
    """Purges of the last ``keep`` seconds (entries older than that cannot be in any tier any more)."""

    def __init__(self, keep: float = PURGE_HORIZON) -> None:
        self.keep = keep
        self.items: list[Purge] = []
        self.newest = 0.0

    def add(self, purge: Purge) -> None:
        self.items.append(purge)
        self.newest = max(self.newest, purge.at)
        horizon = time.time() - self.keep
        if self.items[0].at < horizon:
            self.items = [p for p in self.items if p.at >= horizon]

    def purged(self, entry: CacheEntry) -> bool:
        if entry.stored >= self.newest:
            return False
        return any(p.matches(entry) for p in reversed(self.items) if p.at > entry.stored)


class MemoryTier:
    """An LRU of entries bounded by their bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: collections.OrderedDict[str, CacheEntry] = collections.OrderedDict()
        self.bytes = 0
        self.evictions = 0

    def get(self, key: str) -> CacheEntry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        if entry.size > self.capacity:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self.entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.capacity:
            _, evicted = self.entries.popitem(last=False)
            self.bytes -= evicted.size
            self.evictions += 1

    def delete(self, key: str) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size

    def purge(self, purge: Purge) -> int:
        doomed = [k for k, e in self.entries.items() if purge.matches(e)]
        for key in doomed:
            self.delete(key)
        return len(doomed)


class SharedTier:
    """Entries in a KV backend, keyed ``c:<key>``, expiring with the entry."""

    def __init__(self, backend: KVBackend) -> None:
        self.backend = backend
        self.errors = 0
        self.last_error = ""

    async def get(self, key: str, now: float) -> CacheEntry | None:
        try:
            stored = await self.backend.get("c:" + key, now)
            return CacheEntry.from_bytes(stored.value) if stored is not None else None
        except Exception as exc:  # the shared tier is an optimisation: a failure is a miss, counted
            self._failed("read", exc)
            return None

    async def put(self, key: str, entry: CacheEntry) -> None:
        try:
            until = min(entry.expires(), entry.stored + PURGE_HORIZON)
            await self.backend.put("c:" + key, entry.to_bytes(), int(until) + 1, None)
        except Exception as exc:
            self._failed("write", exc)

    async def delete(self, key: str) -> None:
        try:
            await self.backend.delete("c:" + key)
        except Exception as exc:
            self._failed("delete", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("shared cache tier %s failed (%d failures so far): %s", what, self.errors, exc)

    async def close(self) -> None:
        await self.backend.close()
