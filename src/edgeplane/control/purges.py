"""Cache purges: recorded in the control store (so every node sees them) and applied to this node's cache at
once; every node reads purges made elsewhere every ``[server.edge] purge_poll`` seconds (0.5 s by default, so
a purge is in effect everywhere within a second)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select

from edgeplane.control.schema import cache_purges
from edgeplane.control.store import Store
from edgeplane.edge.cache.store import Purge
from edgeplane.errors import BadRequest
from edgeplane.gateway.stages.cache import HttpCache

__all__ = ["CachePurges", "purge_url_key"]

log = logging.getLogger("edgeplane.cache")
KEEP = 7 * 86400.0
MAX_ITEMS = 500


def purge_url_key(url: str, kind: str) -> str:
    """``https://Example.com/a?b=1`` -> ``example.com/a?b=1`` (the form cache entries record); a prefix or URL
    may also be given without a scheme."""
    value = url.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if not parts.hostname:
        raise BadRequest(f"{url!r} has no host: give example.com/path", code="invalid_purge")
    out = parts.hostname.lower() + (parts.path or "/")
    if kind == "url" and parts.query:
        out += "?" + "&".join(sorted(parts.query.split("&")))
    return out


class CachePurges:
    def __init__(self, store: Store, cache: HttpCache, poll: float) -> None:
        self.store = store
        self.cache = cache
        self.poll = poll
        self.seen = 0

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
        removed = sum(self.cache.purge(Purge(kind, value, at)) for kind, value in items)
        return {"purged": [{"kind": k, "value": v} for k, v in items], "at": at, "removed_here": removed}

    async def sync(self) -> int:
        """Apply purges recorded since the last call (by this node or others); how many were new."""
        horizon = time.time() - KEEP
        async with self.store.engine.connect() as conn:
            query = select(cache_purges).where(cache_purges.c.id > self.seen, cache_purges.c.at >= horizon)
            rows = (await conn.execute(query.order_by(cache_purges.c.id))).all()
            if not rows and self.seen == 0:
                self.seen = (await conn.execute(select(func.coalesce(func.max(cache_purges.c.id), 0)))).scalar_one()
        for row in rows:
            self.seen = max(self.seen, row.id)
            self.cache.purge(Purge(row.kind, row.value, row.at))
        return len(rows)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.sync()
            except Exception:
                log.warning("reading cache purges failed; retrying", exc_info=True)
