"""Notification delivery: the alert evaluator (and delivery events) decide *what* to send and call
:meth:`Notifier.send`; this module owns *how* it gets there.

Every notification is a row in the ``notifications`` table before the first attempt, so a delivery survives a
restart (``start`` resumes what is still ``pending``) and every failure stays visible (status, attempts, last
error). Attempts run in background tasks: the caller never waits for a receiver, and a receiver that is down
costs retries with exponential backoff (0.5 s doubling up to 60 s, jittered, up to the receiver's
``max_attempts``), never a crash. Notifications of one group to one receiver go out in the order they were sent,
so a ``resolved`` never overtakes the ``firing`` it resolves (PagerDuty would keep the incident open).

The stored payload is the :class:`Message`, not the request: receiver URLs, routing keys and passwords are read
from the config (or the environment) at each attempt and never written anywhere.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from sqlalchemy import insert, select, update

from edgeplane.config.observe import AlertingConfig, ReceiverConfig
from edgeplane.control.schema import notifications
from edgeplane.control.store import Store
from edgeplane.observe.receivers import DeliveryError, deliver

__all__ = ["NOT_ENDED", "Message", "Notifier", "iso_time"]

log = logging.getLogger("edgeplane.notify")

NOT_ENDED = "0001-01-01T00:00:00Z"
"""``endsAt`` of an alert that is still firing (Alertmanager's zero time)."""

MessageKind = Literal["firing", "resolved", "escalation", "event", "test"]


def iso_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Message:
    """One notification to one receiver: a group of alerts (or one event) with what people should read."""

    kind: MessageKind
    title: str
    """One line, e.g. ``[FIRING:2] HighErrorRate prompt-lab/production``."""
    severity: str
    """info | warning | high | critical."""
    group_key: str
    group_labels: dict[str, str]
    alerts: list[dict[str, Any]]
    """Each: status, labels, annotations (summary, value), startsAt, endsAt (or NOT_ENDED), fingerprint."""
    text: str = ""
    url: str | None = None
    incident: str | None = None

    @property
    def status(self) -> Literal["firing", "resolved"]:
        """``firing`` while any alert fires (Alertmanager's rule); an event without alerts follows its kind."""
        if self.alerts:
            return "firing" if any(a.get("status", "firing") == "firing" for a in self.alerts) else "resolved"
        return "resolved" if self.kind == "resolved" else "firing"

    def with_pseudo_alert(self, at: float) -> Message:
        """Events and tests carry no alerts: give them one made of the title, text and labels, so every
        receiver renders one shape. Done once at send time, so retries and a restart send the same thing."""
        if self.alerts:
            return self
        labels = {"alertname": f"edgeplane_{self.kind}", **self.group_labels, "severity": self.severity}
        alert = {
            "status": self.status,
            "labels": labels,
            "annotations": {"summary": self.title, **({"description": self.text} if self.text else {})},
            "startsAt": iso_time(at),
            "endsAt": iso_time(at) if self.status == "resolved" else NOT_ENDED,
            "fingerprint": hashlib.sha256(f"{self.group_key}\0{self.title}".encode()).hexdigest()[:16],
        }
        return replace(self, alerts=[alert])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @classmethod
    def test(cls, receiver: str, at: float, url: str | None = None) -> Message:
        """What ``edgeplane alerts test RECEIVER`` sends: an info-level firing message naming the receiver."""
        return cls(
            kind="test",
            title=f"[TEST] edgeplane test notification to {receiver}",
            severity="info",
            group_key=f"test/{receiver}/{at:.6f}",
            group_labels={"alertname": "EdgeplaneTest", "receiver": receiver},
            alerts=[],
            text="A test notification from edgeplane: if you can read this, the receiver works.",
            url=url,
        )


@dataclass
class _Delivery:
    id: int
    receiver: str
    message: Message
    attempts: int = 0
    after: asyncio.Task[None] | None = field(default=None, repr=False)


class Notifier:
    """Sends messages to receivers in the background, persisting each notification and its outcome."""

    def __init__(
        self, store: Store, config: Callable[[], AlertingConfig], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.base_delay = 0.5
        self.max_delay = 60.0
        self.counts: dict[tuple[str, str], int] = Counter()
        """(receiver, "sent" | "failed" | "retry") -> number of attempts that ended so, for /metrics."""
        self.failing: dict[str, str] = {}
        """receiver -> last error, while its latest attempt failed (health shows it)."""
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._tails: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._http: httpx.AsyncHTTPTransport | None = None
        self._random = random.Random()
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Resume the deliveries a previous run left ``pending`` (oldest first, attempts counted on)."""
        self._closed = False
        query = select(notifications).where(notifications.c.status == "pending").order_by(notifications.c.id)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        for row in rows:
            if row["id"] in self._tasks:
                continue
            message = Message.from_dict(row["payload"]["message"])
            self._schedule(_Delivery(row["id"], row["receiver"], message, row["attempts"]))
        if rows:
            log.info("resuming %d pending notifications", len(rows))

    async def close(self) -> None:
        """Stop every delivery where it is; unfinished ones stay ``pending`` for the next start."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._tails.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no delivery is in flight (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait(list(self._tasks.values()), timeout=left)
        return True

    # -- sending -------------------------------------------------------------------------------------------
    async def send(self, receiver: str, message: Message) -> int:
        """Record ``message`` for ``receiver`` as ``pending`` and deliver it in the background; the row id.
        An unknown receiver or a resolved message to a receiver with ``send_resolved = false`` is recorded
        (``failed`` / ``skipped``) and not sent."""
        now = self.clock()
        message = message.with_pseudo_alert(now)
        config = self._receiver(receiver)
        status, error = "pending", ""
        if config is None:
            status, error = "failed", self._unknown(receiver)
        elif message.kind == "resolved" and not config.send_resolved:
            status, error = "skipped", "send_resolved = false"
        row = {
            "at": now, "receiver": receiver, "kind": message.kind, "subject": message.title,
            "group_key": message.group_key, "status": status, "attempts": 0, "last_error": error,
            "payload": {"message": message.to_dict()},
        }  # fmt: skip
        async with self.store._tx() as conn:
            result = await conn.execute(insert(notifications).values(**row).returning(notifications.c.id))
            row_id = int(result.scalar_one())
        if status == "failed":
            self._ended(receiver, "failed", error)
            log.warning("notification %d to %s failed: %s", row_id, receiver, error)
        elif status == "pending" and not self._closed:
            self._schedule(_Delivery(row_id, receiver, message))
        return row_id

    def _receiver(self, name: str) -> ReceiverConfig | None:
        return self.config().receiver(name)

    def _unknown(self, name: str) -> str:
        known = ", ".join(r.name for r in self.config().receivers) or "none"
        return f"receiver {name!r} is not configured (known: {known})"

    def _schedule(self, delivery: _Delivery) -> None:
        key = (delivery.receiver, delivery.message.group_key)
        delivery.after = self._tails.get(key)
        task = asyncio.create_task(self._run(delivery), name=f"notify-{delivery.id}")
        self._tasks[delivery.id] = task
        self._tails[key] = task

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.pop(delivery.id, None)
            if self._tails.get(key) is t:
                del self._tails[key]

        task.add_done_callback(done)

    async def _run(self, delivery: _Delivery) -> None:
        if delivery.after is not None:  # keep the order of one group's notifications to one receiver
            await asyncio.wait([delivery.after])
            delivery.after = None
        try:
            while not await self._attempt(delivery):
                pass
        except Exception:  # the store went away, or a bug: log it; the row stays pending for the next start
            log.exception("notification %d to %s: delivery stopped", delivery.id, delivery.receiver)

    async def _attempt(self, delivery: _Delivery) -> bool:
        """One attempt and its record; True when the notification is finished (sent or failed)."""
        receiver, name = self._receiver(delivery.receiver), delivery.receiver
        if receiver is None:
            await self._finish(delivery, "failed", self._unknown(name))
            return True
        delivery.attempts += 1
        try:
            await deliver(receiver, delivery.message, self._client())
        except DeliveryError as exc:
            if not exc.retry or delivery.attempts >= receiver.max_attempts:
                tried = f" (gave up after {delivery.attempts} attempts)" if exc.retry else ""
                await self._finish(delivery, "failed", exc.message + tried)
                return True
            self._ended(name, "retry", exc.message)
            await self._record(delivery, "pending", exc.message)
            delay = self.delay(delivery.attempts, exc.retry_after)
            log.info("notification %d to %s: attempt %d failed (%s); retrying in %.1f s",
                     delivery.id, name, delivery.attempts, exc.message, delay)  # fmt: skip
            await asyncio.sleep(delay)
            return False
        await self._finish(delivery, "sent", "")
        return True

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt: 0.5 s doubling per attempt up to 60 s, jittered down by up to half
        (so receivers coming back are not hit by every notifier at once); a receiver's Retry-After wins."""
        base = min(self.max_delay, self.base_delay * 2.0 ** (attempts - 1))
        delay = base * self._random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay

    async def _finish(self, delivery: _Delivery, status: str, error: str) -> None:
        self._ended(delivery.receiver, status, error)
        await self._record(delivery, status, error, sent_at=self.clock() if status == "sent" else None)
        if status == "failed":
            log.warning("notification %d to %s failed after %d attempts: %s",
                        delivery.id, delivery.receiver, delivery.attempts, error)  # fmt: skip

    def _ended(self, receiver: str, outcome: str, error: str) -> None:
        self.counts[(receiver, outcome)] += 1
        if outcome == "sent":
            self.failing.pop(receiver, None)
        else:
            self.failing[receiver] = error

    async def _record(self, delivery: _Delivery, status: str, error: str, sent_at: float | None = None) -> None:
        values: dict[str, Any] = {"status": status, "attempts": delivery.attempts, "last_error": error}
        if sent_at is not None:
            values["sent_at"] = sent_at
        async with self.store._tx() as conn:
            await conn.execute(update(notifications).where(notifications.c.id == delivery.id).values(**values))

    def _client(self) -> httpx.AsyncHTTPTransport:
        if self._http is None:
            self._http = httpx.AsyncHTTPTransport()
        return self._http

    # -- reading -------------------------------------------------------------------------------------------
    async def get(self, notification_id: int) -> dict[str, Any] | None:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(notifications).where(notifications.c.id == notification_id))).first()
        return None if row is None else dict(row._mapping)

    async def list(
        self, limit: int = 100, status: str | None = None, receiver: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The newest notifications first (optionally only those with ``status``, or to ``receiver``)."""
        query = select(notifications).order_by(notifications.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(notifications.c.status == status)
        if receiver is not None:
            query = query.where(notifications.c.receiver == receiver)
        async with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]
