"""Rollout records: the rollout row (plan, step, analysis state, latest verdicts), its event history and its
approvals. Each change commits with its event (and audit entry) in one transaction, so a restarted
controller finds exactly the history that was acted on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from edgeplane.control.schema import approvals, now, rollout_events, rollouts
from edgeplane.control.store import Store, _row, _row_dict
from edgeplane.errors import Conflict

__all__ = ["ACTIVE_STATES", "RolloutRecords"]

ACTIVE_STATES = ("awaiting_approval", "queued", "running", "paused")
"""States in which a rollout still owns its environment (queued ones wait their turn)."""

Event = tuple[str, int, str, dict[str, Any]]  # (kind, step, message, details)


class RolloutRecords:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, values: dict[str, Any], event: Event) -> dict[str, Any]:
        values = {**values, "created_at": now(), "updated_at": now()}
        async with self.store._tx() as conn:
            await conn.execute(insert(rollouts).values(**values))
            await self._event(conn, values["id"], event)
            target = f"{values['app']}/{values['env']}"
            details = {"rollout": values["id"], "version": values["version_id"], "strategy": values["strategy"]}
            await self.store._audit(conn, values["author"], "rollout.create", target, details)
        return _row_dict(values)

    async def update(
        self,
        rollout_id: str,
        values: dict[str, Any],
        event: Event | None = None,
        audit: tuple[str, str] | None = None,
    ) -> None:
        """Change the row; with ``event`` record it too, with ``audit`` = (actor, action) audit it."""
        values = {**values, "updated_at": now()}
        async with self.store._tx() as conn:
            await conn.execute(update(rollouts).where(rollouts.c.id == rollout_id).values(**values))
            if event is not None:
                await self._event(conn, rollout_id, event)
            if audit is not None:
                actor, action = audit
                await self.store._audit(conn, actor, action, rollout_id, {"event": event[0] if event else None})

    async def _event(self, conn: Any, rollout_id: str, event: Event) -> None:
        kind, step, message, details = event
        await conn.execute(
            insert(rollout_events).values(
                rollout_id=rollout_id, at=now(), kind=kind, step=step, message=message, details=details
            )
        )

    async def add_event(self, rollout_id: str, event: Event) -> None:
        async with self.store._tx() as conn:
            await self._event(conn, rollout_id, event)

    async def get(self, rollout_id: str) -> dict[str, Any] | None:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(rollouts).where(rollouts.c.id == rollout_id))).first()
        return _row(row) if row else None

    async def list_rollouts(self, app: str, env: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(rollouts).where(rollouts.c.app == app)
        if env is not None:
            query = query.where(rollouts.c.env == env)
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(query.order_by(rollouts.c.created_at.desc()).limit(limit))
        return [_row(r) for r in rows]

    async def active(self) -> list[dict[str, Any]]:
        """Every rollout still in progress or waiting, oldest first."""
        query = select(rollouts).where(rollouts.c.state.in_(ACTIVE_STATES)).order_by(rollouts.c.created_at)
        async with self.store.engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def events(self, rollout_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        query = (
            select(rollout_events)
            .where((rollout_events.c.rollout_id == rollout_id) & (rollout_events.c.id > after))
            .order_by(rollout_events.c.id)
            .limit(limit)
        )
        async with self.store.engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def approve(self, rollout_id: str, token_id: str, token_name: str, step: int) -> int:
        """Record one approval; the same token twice is a Conflict. Returns how many approvals there are."""
        try:
            async with self.store._tx() as conn:
                await conn.execute(
                    insert(approvals).values(rollout_id=rollout_id, token_id=token_id, token_name=token_name, at=now())
                )
                await self._event(conn, rollout_id, ("approved", step, f"approved by {token_name}", {}))
                await self.store._audit(conn, token_name, "rollout.approve", rollout_id, {"token": token_id})
        except IntegrityError:
            raise Conflict(
                f"token {token_name!r} already approved this rollout; approvals must come from distinct tokens",
                code="already_approved",
            ) from None
        return await self.approval_count(rollout_id)

    async def approval_count(self, rollout_id: str) -> int:
        async with self.store.engine.connect() as conn:
            query = select(func.count()).select_from(approvals).where(approvals.c.rollout_id == rollout_id)
            return int((await conn.execute(query)).scalar() or 0)

    async def approvers(self, rollout_id: str) -> list[dict[str, Any]]:
        async with self.store.engine.connect() as conn:
            query = select(approvals.c.token_name, approvals.c.at).where(approvals.c.rollout_id == rollout_id)
            return [_row(r) for r in await conn.execute(query.order_by(approvals.c.at))]
