"""The KV backend protocol: what every backend (sqlite, redis, …) implements.

Backends are deliberately dumb: they store bytes, metadata and an absolute expiry, and never return an entry
whose expiry is at or before the ``now`` they are given. Limits, types and caching live in ``KVNamespace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["KVBackend", "ListPage", "ListedKey", "StoredValue"]


@dataclass(frozen=True, slots=True)
class StoredValue:
    value: bytes
    metadata: Any = None
    expiration: int | None = None


@dataclass(frozen=True, slots=True)
class ListedKey:
    name: str
    expiration: int | None = None
    metadata: Any = None


@dataclass(frozen=True, slots=True)
class ListPage:
    keys: list[ListedKey]
    list_complete: bool
    cursor: str | None


class KVBackend(Protocol):
    async def get(self, key: str, now: float) -> StoredValue | None: ...

    async def put(self, key: str, value: bytes, expiration: int | None, metadata: Any) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str, limit: int, after: str | None, now: float) -> tuple[list[ListedKey], bool]:
        """Up to ``limit`` live keys starting with ``prefix``, greater than ``after``, in UTF-8 byte order;
        and whether there are no more."""
        ...

    def changed_elsewhere(self) -> bool:
        """Whether another process may have written since the last call (drives the read cache)."""
        ...

    async def close(self) -> None: ...
