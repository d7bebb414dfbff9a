"""Delivery events (rollouts created, succeeded, rolled back, failed, aborted, paused; plain deploys and
rollbacks) go the same way as alerts: routed by labels (alertname ``delivery``, ``event``, ``app``, ``env``,
``severity``) to the matching route's receivers, as one-alert ``event`` messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgeplane.observe.notify import Message

if TYPE_CHECKING:
    from edgeplane.observe.hub import Observability

__all__ = ["NOTIFY_EVENTS", "follow_delivery", "notify_delivery"]

log = logging.getLogger("edgeplane.alerts")

NOTIFY_EVENTS = {"created": "info", "succeeded": "info", "rolled_back": "high", "failed": "high",
                 "aborted": "warning", "paused": "warning", "deployed": "info", "rollback": "warning"}  # fmt: skip
"""Event kinds that are notified, with their severity label."""


async def follow_delivery(hub: Observability, clock: Callable[[], float]) -> None:
    """Notify every delivery event on the control plane's bus (runs until cancelled)."""
    with hub.control.rollouts.bus.subscribe() as queue:
        while True:
            event = await queue.get()
            try:
                await notify_delivery(hub, event, clock())
            except Exception:
                log.exception("could not notify delivery event %s", event.get("kind"))


async def notify_delivery(hub: Observability, event: dict[str, Any], now: float) -> None:
    from edgeplane.observe.alerts import fingerprint, iso

    kind = event.get("kind", "")
    severity = NOTIFY_EVENTS.get(kind)
    if severity is None:
        return
    labels = {"alertname": "delivery", "event": kind, "app": event.get("app", ""), "env": event.get("env", ""),
              "severity": severity}  # fmt: skip
    _, route = hub.alerting.route_for(labels)
    if not route.receivers:
        return
    at = float(event.get("at") or now)
    title = f"[{kind.upper().replace('_', ' ')}] {labels['app']}/{labels['env']}"
    alert = {"status": "firing", "labels": labels,
             "annotations": {"summary": event.get("message", ""), "rollout": event.get("rollout", "")},
             "startsAt": iso(at), "endsAt": iso(at), "fingerprint": fingerprint(labels)}  # fmt: skip
    message = Message(kind="event", title=title, severity=severity,
                      group_key=f"delivery:{labels['app']}/{labels['env']}", group_labels=labels, alerts=[alert],
                      text=str(event.get("message", "")))  # fmt: skip
    for name in route.receivers:
        await hub.notifier.send(name, message)
