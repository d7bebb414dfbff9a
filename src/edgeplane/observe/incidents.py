"""Incidents: numbered records of something wrong, opened by alert actions or by hand, moved through
triggered → acknowledged → resolved, with a timeline of what happened (alerts, notifications, deploys,
rollbacks, notes, state changes) and the response figures people are judged by (MTTA, MTTR, target met).

Each state change commits with its timeline event and audit entry in one transaction, so the timeline never
disagrees with the state. Resolving an incident nobody acknowledged acknowledges it at the same moment: whoever
resolved it did respond, and every resolved incident then has an MTTA (equal to its MTTR).
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from edgeplane.config.deploy import format_duration
from edgeplane.control.schema import incident_events, incidents
from edgeplane.control.store import Store
from edgeplane.delivery.events import EventBus
from edgeplane.errors import BadRequest, Conflict, NotFound

__all__ = [
    "ALERT_SEVERITY",
    "DELIVERY_KINDS",
    "SEVERITY_TARGETS",
    "STATES",
    "Incidents",
    "summarize",
]

log = logging.getLogger("edgeplane.observe.incidents")

SEVERITY_TARGETS = {"SEV1": 900, "SEV2": 3600, "SEV3": 14400, "SEV4": 86400}
"""Response target per severity: the longest time to acknowledge that still meets it (seconds)."""
ALERT_SEVERITY = {"critical": "SEV1", "high": "SEV2", "warning": "SEV3", "info": "SEV4"}
"""The incident severity an alert rule's severity opens."""
STATES = ("triggered", "acknowledged", "resolved")
DELIVERY_KINDS = {
    "created": "deploy", "dequeued": "deploy", "retried": "deploy", "advanced": "deploy", "paused": "deploy",
    "resumed": "deploy", "succeeded": "deploy", "failed": "deploy", "rolled_back": "rollback", "aborted": "rollback",
    "deployed": "deploy", "rollback": "rollback",  # plain deploys and rollbacks (ControlPlane.deploy)
}  # fmt: skip
"""Rollout events copied to open incidents of the same app/env, and the timeline kind each becomes (verdicts and
approvals stay in the rollout's own history)."""
NUMBER_RETRIES = 5
_ID_PREFIX = re.compile(r"[0-9a-f-]{4,36}")


def _severity(value: str) -> str:
    severity = value.strip().upper()
    if severity not in SEVERITY_TARGETS:
        raise BadRequest(f"unknown severity {value!r}; use one of {', '.join(SEVERITY_TARGETS)}",
                         code="invalid_severity")  # fmt: skip
    return severity


def _view(row: dict[str, Any], now: float) -> dict[str, Any]:
    """The row plus its response figures. ``target_met`` is None while an open incident is still within its
    target, False once the target passed unacknowledged."""
    target = SEVERITY_TARGETS.get(row["severity"], SEVERITY_TARGETS["SEV4"])
    created = float(row["created_at"])
    mtta = None if row["acknowledged_at"] is None else float(row["acknowledged_at"]) - created
    mttr = None if row["resolved_at"] is None else float(row["resolved_at"]) - created
    met: bool | None = None
    if mtta is not None:
        met = mtta <= target
    elif now - created > target:
        met = False
    return {**row, "ref": f"#{row['number']}", "mtta_s": mtta, "mttr_s": mttr, "target_s": target, "target_met": met}


def _figures(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.median(values)


def summarize(views: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Count, open, mean/median MTTA and MTTR, and the share that met the response target (of those decided:
    acknowledged, or past their target unacknowledged)."""
    mtta = [v["mtta_s"] for v in views if v["mtta_s"] is not None]
    mttr = [v["mttr_s"] for v in views if v["mttr_s"] is not None]
    met = sum(1 for v in views if v["target_met"] is True)
    breached = sum(1 for v in views if v["target_met"] is False)
    mtta_mean, mtta_median = _figures(mtta)
    mttr_mean, mttr_median = _figures(mttr)
    return {
        "count": len(views), "open": sum(1 for v in views if v["state"] != "resolved"),
        "mtta_mean_s": mtta_mean, "mtta_median_s": mtta_median, "mttr_mean_s": mttr_mean,
        "mttr_median_s": mttr_median, "target_met": met, "target_breached": breached,
        "target_met_share": met / (met + breached) if met + breached else None,
    }  # fmt: skip


class Incidents:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._numbering = asyncio.Lock()

    # -- opening -------------------------------------------------------------------------------------------
    async def open(
        self, title: str, severity: str, *, actor: str, app: str = "", env: str = "", source: str = "manual",
        group_key: str = "", summary: str = "", details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Open an incident with the next number (concurrent opens each get their own)."""
        if not title.strip():
            raise BadRequest("an incident needs a title", code="invalid_title")
        values: dict[str, Any] = {
            "title": title.strip(), "summary": summary, "details": details or {}, "severity": _severity(severity),
            "state": "triggered", "app": app, "env": env, "source": source, "group_key": group_key,
            "created_by": actor,
        }  # fmt: skip
        async with self._numbering:  # one node numbers in turn; the retries cover nodes sharing the store
            for attempt in range(NUMBER_RETRIES):
                try:
                    incident_id = await self._insert(values)
                    break
                except IntegrityError:
                    if attempt == NUMBER_RETRIES - 1:
                        raise
        return await self.get(incident_id)

    async def _insert(self, values: dict[str, Any]) -> str:
        at = self.clock()
        async with self.store._tx() as conn:
            number = (await conn.execute(select(func.max(incidents.c.number)))).scalar()
            row = {**values, "id": str(uuid.uuid4()), "number": (number or 0) + 1, "created_at": at}
            await conn.execute(insert(incidents).values(**row))
            where = f" in {row['app']}/{row['env']}" if row["app"] else ""
            message = f"{row['severity']} opened by {row['created_by']} ({row['source']}){where}: {row['title']}"
            await self._event(conn, row["id"], at, "opened", row["created_by"], message, {"source": row["source"]})
            await self.store._audit(conn, row["created_by"], "incident.open", f"incident/#{row['number']}",
                                    {"id": row["id"], "severity": row["severity"], "title": row["title"]})  # fmt: skip
        return str(row["id"])

    # -- changing ------------------------------------------------------------------------------------------
    async def ack(self, ref: str, actor: str) -> dict[str, Any]:
        """triggered → acknowledged. A resolved or already acknowledged incident is a Conflict."""
        async with self.store._tx() as conn:
            row = await self._find(conn, ref)
            if row["state"] == "resolved":
                raise Conflict(f"incident #{row['number']} is already resolved", code="incident_already_resolved")
            if row["state"] == "acknowledged":
                raise Conflict(f"incident #{row['number']} was already acknowledged by {row['acknowledged_by']}",
                               code="incident_already_acknowledged")  # fmt: skip
            at = self.clock()
            await self._change(conn, row, "triggered", {"state": "acknowledged", "acknowledged_at": at,
                                                        "acknowledged_by": actor})  # fmt: skip
            mtta = at - float(row["created_at"])
            await self._event(conn, row["id"], at, "acknowledged", actor,
                              f"acknowledged by {actor} after {format_duration(mtta)}", {"mtta_s": mtta})  # fmt: skip
            await self.store._audit(conn, actor, "incident.ack", f"incident/#{row['number']}", {"id": row["id"]})
        return await self.get(row["id"])

    async def resolve(self, ref: str, actor: str, message: str = "") -> dict[str, Any]:
        """triggered/acknowledged → resolved; an unacknowledged one is acknowledged by the same act."""
        async with self.store._tx() as conn:
            row = await self._find(conn, ref)
            if row["state"] == "resolved":
                raise Conflict(f"incident #{row['number']} is already resolved", code="incident_already_resolved")
            at = self.clock()
            values: dict[str, Any] = {"state": "resolved", "resolved_at": at, "resolved_by": actor}
            if row["acknowledged_at"] is None:
                values.update(acknowledged_at=at, acknowledged_by=actor)
            await self._change(conn, row, row["state"], values)
            mttr = at - float(row["created_at"])
            text = f"resolved by {actor} after {format_duration(mttr)}" + (f": {message}" if message else "")
            details = {"mttr_s": mttr, "implied_ack": row["acknowledged_at"] is None}
            await self._event(conn, row["id"], at, "resolved", actor, text, details)
            await self.store._audit(conn, actor, "incident.resolve", f"incident/#{row['number']}",
                                    {"id": row["id"], "message": message})  # fmt: skip
        return await self.get(row["id"])

    async def note(self, ref: str, actor: str, text: str) -> dict[str, Any]:
        """A note on the timeline (resolved incidents take notes too: the post-incident review)."""
        if not text.strip():
            raise BadRequest("a note needs text", code="invalid_note")
        async with self.store._tx() as conn:
            row = await self._find(conn, ref)
            await self._event(conn, row["id"], self.clock(), "note", actor, text.strip(), {})
            await self.store._audit(conn, actor, "incident.note", f"incident/#{row['number']}", {"id": row["id"]})
        return await self.get(row["id"])

    async def add_event(
        self, ref: str, kind: str, actor: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        """Append to the timeline (alerts, notifications, deploys, rollbacks, escalations ...)."""
        async with self.store._tx() as conn:
            row = await self._find(conn, ref)
            await self._event(conn, row["id"], self.clock(), kind, actor, message, details or {})

    async def _change(self, conn: AsyncConnection, row: dict[str, Any], expected: str, values: dict[str, Any]) -> None:
        """Update only if the state is still ``expected``: two people acting at once cannot both win."""
        where = (incidents.c.id == row["id"]) & (incidents.c.state == expected)
        if not (await conn.execute(update(incidents).where(where).values(**values))).rowcount:
            raise Conflict(f"incident #{row['number']} changed meanwhile; look again", code="incident_changed")

    @staticmethod
    async def _event(
        conn: AsyncConnection, incident_id: str, at: float, kind: str, actor: str, message: str,
        details: dict[str, Any],
    ) -> None:  # fmt: skip
        await conn.execute(insert(incident_events).values(incident_id=incident_id, at=at, kind=kind, actor=actor,
                                                          message=message, details=details))  # fmt: skip

    # -- reading -------------------------------------------------------------------------------------------
    async def _find(self, conn: AsyncConnection, ref: str) -> dict[str, Any]:
        """By number (``#12`` or ``12``) or by id / id prefix (at least 4 characters)."""
        text = ref.strip().lower().removeprefix("#")
        query: Select[Any]
        if text.isdigit() and (ref.strip().startswith("#") or len(text) < 8):
            query = select(incidents).where(incidents.c.number == int(text))
        elif _ID_PREFIX.fullmatch(text):
            query = select(incidents).where(incidents.c.id.startswith(text)).limit(2)
        else:
            raise BadRequest(f"{ref!r} is not an incident reference: use its number (#12) or id (prefix)",
                             code="invalid_incident_ref")  # fmt: skip
        rows = [dict(r._mapping) for r in await conn.execute(query)]
        if len(rows) > 1:
            raise BadRequest(f"incident id prefix {ref!r} is ambiguous; give more characters or the number",
                             code="incident_ambiguous")  # fmt: skip
        if not rows:
            raise NotFound(f"no incident {ref}", code="incident_not_found")
        return rows[0]

    async def get(self, ref: str) -> dict[str, Any]:
        """The incident with its response figures and its ``timeline`` (oldest first)."""
        async with self.store.engine.connect() as conn:
            row = await self._find(conn, ref)
            query = (
                select(incident_events)
                .where(incident_events.c.incident_id == row["id"])
                .order_by(incident_events.c.at, incident_events.c.id)
            )
            timeline = [dict(r._mapping) for r in await conn.execute(query)]
        for event in timeline:
            del event["incident_id"]
        return {**_view(row, self.clock()), "timeline": timeline}

    async def _select(self, query: Select[Any]) -> list[dict[str, Any]]:
        async with self.store.engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(query)]
        now = self.clock()
        return [_view(r, now) for r in rows]

    async def find_open(self, group_key: str) -> dict[str, Any] | None:
        """The newest not-resolved incident opened for ``group_key`` (alert grouping reuses it)."""
        query = (
            select(incidents)
            .where((incidents.c.group_key == group_key) & (incidents.c.state != "resolved"))
            .order_by(incidents.c.number.desc())
            .limit(1)
        )
        found = await self._select(query)
        return found[0] if found else None

    async def open_for_env(self, app: str, env: str) -> list[dict[str, Any]]:
        """Not-resolved incidents of ``app``/``env``, oldest first."""
        where = (incidents.c.app == app) & (incidents.c.env == env) & (incidents.c.state != "resolved")
        return await self._select(select(incidents).where(where).order_by(incidents.c.number))

    async def stats(self, since: float) -> dict[str, Any]:
        """Response figures of the incidents opened since ``since``, per severity and overall."""
        views = await self._select(select(incidents).where(incidents.c.created_at >= since))
        return {
            "since": since,
            "until": self.clock(),
            "by_severity": {sev: summarize([v for v in views if v["severity"] == sev]) for sev in SEVERITY_TARGETS},
            "all": summarize(views),
        }

    # -- delivery events -----------------------------------------------------------------------------------
    async def follow_delivery(self, bus: EventBus) -> None:
        """Copy rollout events onto the timelines of open incidents of the same app/env, until cancelled. A
        failure to record one event is logged and the next one is handled: this must never stop."""
        with bus.subscribe() as queue:
            while True:
                event = await queue.get()
                try:
                    await self.record_delivery(event)
                except Exception:
                    log.exception("cannot add delivery event %s to incidents", event.get("kind"))

    async def record_delivery(self, event: dict[str, Any]) -> int:
        """Add one delivery event to each matching open incident; returns how many timelines got it."""
        kind = DELIVERY_KINDS.get(str(event.get("kind")))
        if kind is None or not event.get("app"):
            return 0
        targets = await self.open_for_env(str(event["app"]), str(event.get("env") or ""))
        if not targets:
            return 0
        rollout = str(event.get("rollout") or "")
        what = str(event["kind"]).replace("_", " ")
        if rollout:
            actor = f"rollout:{rollout[:8]}"
            message = f"rollout {rollout[:8]} {what}: {event.get('message') or ''}"
        else:  # a plain deploy or rollback (ControlPlane.deploy)
            actor = str((event.get("details") or {}).get("author") or "deploy")
            message = f"{what}: {event.get('message') or ''}"
        details = {k: event.get(k) for k in ("rollout", "kind", "step", "state")}
        at = float(event.get("at") or self.clock())
        async with self.store._tx() as conn:
            for incident in targets:
                await self._event(conn, incident["id"], at, kind, actor, message.rstrip(": "), details)
        return len(targets)

    # -- listing (last: the method named ``list`` would shadow the builtin in later annotations) ----------
    async def list(self, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first. ``state``: one of STATES, ``open`` (not resolved), or None for all."""
        query = select(incidents).order_by(incidents.c.number.desc()).limit(max(1, min(limit, 1000)))
        if state == "open":
            query = query.where(incidents.c.state != "resolved")
        elif state is not None:
            if state not in STATES:
                raise BadRequest(f"unknown state {state!r}; use open, {', '.join(STATES)}", code="invalid_state")
            query = query.where(incidents.c.state == state)
        return await self._select(query)
