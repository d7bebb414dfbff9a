"""``/v1/alerts/notifications`` and ``/v1/alerts/receivers``: the notification log (what was sent where, and
what failed and why) and test messages to a receiver."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from edgeplane.control.routes.auth import Deployer, Reader, control_of
from edgeplane.errors import NotFound
from edgeplane.observe.notify import Message

__all__ = ["router"]

router = APIRouter(tags=["alerts"])


def _shown(row: dict[str, Any], payload: bool) -> dict[str, Any]:
    if not payload:
        row = {k: v for k, v in row.items() if k != "payload"}
    return row


@router.get("/v1/alerts/notifications")
async def list_notifications(
    request: Request,
    _: Reader,
    status: Literal["pending", "sent", "failed", "skipped"] | None = None,
    receiver: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    payload: bool = False,
) -> dict[str, Any]:
    """The newest notifications first: receiver, kind, subject, status, attempts, last error, times (epoch
    seconds); ``payload=true`` adds the message that was (or is being) sent."""
    notifier = control_of(request).observe.notifier
    rows = await notifier.list(limit, status, receiver)
    return {"notifications": [_shown(r, payload) for r in rows], "failing": dict(notifier.failing)}


@router.get("/v1/alerts/notifications/{notification_id}")
async def get_notification(notification_id: int, request: Request, _: Reader) -> dict[str, Any]:
    """One notification with its payload (the message; never a receiver's URL or key)."""
    row = await control_of(request).observe.notifier.get(notification_id)
    if row is None:
        raise NotFound(f"no notification {notification_id}", code="notification_not_found")
    return row


@router.get("/v1/alerts/receivers")
async def list_receivers(request: Request, _: Reader) -> dict[str, Any]:
    """The configured receivers (name, kind, where secrets come from; never the secrets) and their state."""
    hub = control_of(request).observe
    notifier = hub.notifier
    out = []
    for r in hub.alerting.receivers:
        counts = {outcome: notifier.counts.get((r.name, outcome), 0) for outcome in ("sent", "failed", "retry")}
        secret_from = [f"${name}" for name in (r.url_env, r.routing_key_env, r.password_env) if name]
        out.append({"name": r.name, "kind": r.kind, "secrets_from": secret_from, "max_attempts": r.max_attempts,
                    "failing": notifier.failing.get(r.name), **counts})  # fmt: skip
    return {"receivers": out}


@router.post("/v1/alerts/receivers/{name}/test", status_code=202)
async def test_receiver(name: str, request: Request, _: Deployer) -> dict[str, Any]:
    """Send a test message to receiver ``name``; returns the notification id (follow it in the log)."""
    hub = control_of(request).observe
    known = [r.name for r in hub.alerting.receivers]
    if name not in known:
        raise NotFound(f"no receiver {name!r}; configured: {', '.join(known) or 'none'}", code="receiver_not_found")
    notifier = hub.notifier
    notification_id = await notifier.send(name, Message.test(name, notifier.clock()))
    return {"id": notification_id, "receiver": name}
