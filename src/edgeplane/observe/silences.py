"""Silences: label matchers with an expiry. A silenced alert still fires (and still opens incidents or rolls
back, if its rule says so); only its notifications are held, like Alertmanager's silences."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, update

from edgeplane.control.schema import silences
from edgeplane.control.store import Store
from edgeplane.errors import BadRequest, NotFound

__all__ = ["Silences"]


class Silences:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def create(self, matchers: dict[str, str], seconds: float, *, comment: str, actor: str) -> dict[str, Any]:
        if not matchers:
            raise BadRequest("a silence needs at least one label matcher, e.g. alertname=HighErrorRate",
                             code="silence_without_matchers")  # fmt: skip
        if seconds <= 0:
            raise BadRequest("a silence must last more than 0 seconds", code="invalid_duration")
        now = self.clock()
        row = {"id": str(uuid.uuid4()), "matchers": matchers, "comment": comment, "created_by": actor,
               "starts_at": now, "ends_at": now + seconds}  # fmt: skip
        async with self.store._tx() as conn:
            await conn.execute(insert(silences).values(**row))
            await self.store._audit(conn, actor, "silence.create", ",".join(f"{k}={v}" for k, v in matchers.items()),
                                    {"id": row["id"], "seconds": seconds, "comment": comment})  # fmt: skip
        return row

    async def expire(self, ref: str, actor: str) -> dict[str, Any]:
        now = self.clock()
        async with self.store._tx() as conn:
            rows = (await conn.execute(select(silences).where(silences.c.id.startswith(ref)))).all()
            if len(rows) != 1:
                raise NotFound(f"no silence {ref!r}" if not rows else f"{ref!r} matches several silences",
                               code="silence_not_found")  # fmt: skip
            await conn.execute(update(silences).where(silences.c.id == rows[0].id).values(ends_at=now))
            await self.store._audit(conn, actor, "silence.expire", rows[0].id, {})
        return {**dict(rows[0]._mapping), "ends_at": now}

    async def listing(self, include_expired: bool = False) -> list[dict[str, Any]]:
        query = select(silences).order_by(silences.c.starts_at.desc())
        if not include_expired:
            query = query.where(silences.c.ends_at > self.clock())
        async with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def active(self, now: float) -> list[dict[str, str]]:
        query = select(silences.c.matchers).where(silences.c.starts_at <= now, silences.c.ends_at > now)
        async with self.store.engine.connect() as conn:
            return [r.matchers for r in await conn.execute(query)]

    @staticmethod
    def matches(active: list[dict[str, str]], labels: dict[str, str]) -> bool:
        return any(all(labels.get(k) == v for k, v in m.items()) for m in active)
