"""Cache purges: recorded in the control store (so every node sees them) and applied to this node's cache at
once; every node reads purges made elsewhere every ``[server.edge] purge_poll`` seconds (0.5 s by default, so
a purge is in effect everywhere within a second)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import delete, insert, select

from edgeplane.control.schema import cache_purges
from edgeplane.control.store import Store
from edgeplane.edge.cache.keys import DEFAULT_KEY, normalise_query
from edgeplane.edge.cache.store import PURGE_HORIZON, Purge
from edgeplane.errors import BadRequest
from edgeplane.gateway.stages.cache import HttpCache

__all__ = ["CachePurges", "purge_url_key"]

log = logging.getLogger("edgeplane.cache")
KEEP = PURGE_HORIZON
OVERLAP = 30.0
"""Seconds of purges read again each poll, for transactions that commit out of order."""
MAX_ITEMS = 500


def purge_url_key(url: str, kind: str) -> str:
    """``https://Example.com/caf%C3%A9?b=2&a=1`` -> ``example.com/caf%C3%A9?a=1&b=2``: the form cache entries
    record (the raw path, the query normalised as the cache key does it); a scheme is optional."""
    value = url.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if not parts.hostname:
        raise BadRequest(f"{url!r} has no host: give example.com/path", code="invalid_purge")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = normalise_query(parts.query.encode("latin-1"), DEFAULT_KEY) if kind == "url" else ""
    return (parts.hostname.lower() + path + (f"?{query}" if query else "")).replace("|", "%7C")


class CachePurges:
    def __init__(self, store: Store, cache: HttpCache, poll: float) -> None:
        self.store = store
        self.cache = cache
        self.poll = poll
        self.seen: set[Purge] = set()
        """Purges applied here that a poll may read again (the overlap, and this node's own)."""
        self.last_at = 0.0

    async def start(self) -> None:
        """Apply the purges of the last week (entries in the shared tier may be older than this process)."""
        await self.sync()

    async def purge(
        self, *, files: list[str], prefixes: list[str], hosts: list[str], tags: list[str], everything: bool,
        actor: str,
    ) -> dict[str, Any]:  # fmt: skip
        items = [("url", purge_url_key(u, "url")) for u in files]
        items += [("prefix", purge_url_key(p, "prefix")) for p in prefixes]
        items += [("host", h.strip().lower()) for h in hosts]
        items += [("tag", t.strip()) for t in tags]
        if everything:
            items.append(("all", ""))
        if not items:
            raise BadRequest("say what to purge: files, prefixes, hosts, tags or purge_everything", code="empty_purge")
        if len(items) > MAX_ITEMS:
            raise BadRequest(f"at most {MAX_ITEMS} items per purge", code="purge_too_large")
        if any(kind != "all" and not value for kind, value in items):
            raise BadRequest("empty purge value", code="invalid_purge")
        at = time.time()
        async with self.store._tx() as conn:
            await conn.execute(
                insert(cache_purges), [{"kind": k, "value": v, "at": at, "actor": actor} for k, v in items]
            )
            await conn.execute(delete(cache_purges).where(cache_purges.c.at < at - KEEP))
            await self.store._audit(conn, actor, "cache.purge", ",".join(f"{k}:{v}" for k, v in items)[:200],
                                    {"items": len(items)})  # fmt: skip
        purges = [Purge(kind, value, at) for kind, value in items]
        self.seen.update(purges)  # applied now: the next poll must not apply them again
        self.last_at = max(self.last_at, at)
        removed = sum(self.cache.purge(purge) for purge in purges)
        return {"purged": [{"kind": k, "value": v} for k, v in items], "at": at, "removed_here": removed}

    async def sync(self) -> int:
        """Apply purges recorded since the last call (by this node or others); how many were new. Reads by time
        with an overlap, not by id: on PostgreSQL a purge with a lower id may commit after a higher one."""
        since = max(self.last_at - OVERLAP, time.time() - KEEP)
        async with self.store.engine.connect() as conn:
            query = select(cache_purges).where(cache_purges.c.at >= since).order_by(cache_purges.c.at)
            rows = (await conn.execute(query)).all()
        read = [Purge(row.kind, row.value, row.at) for row in rows]
        new = [purge for purge in read if purge not in self.seen]
        for purge in new:
            self.cache.purge(purge)
            self.last_at = max(self.last_at, purge.at)
        self.seen = {purge for purge in self.seen | set(read) if purge.at >= self.last_at - OVERLAP}
        return len(new)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.sync()
            except Exception:
                log.warning("reading cache purges failed; retrying", exc_info=True)
