"""PagerDuty Events API v2: ``trigger`` while firing, ``resolve`` when resolved, with the group key as
``dedup_key`` so every notification of one alert group lands on one PagerDuty incident."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import httpx

from edgeplane.config.observe import ReceiverConfig
from edgeplane.observe.receivers.base import Secrets, alert_lines, post_json, truncate

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = ["DEFAULT_URL", "KIND", "render", "send"]

KIND = "pagerduty"
DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"critical": "critical", "high": "error", "warning": "warning", "info": "info"}
SUMMARY_LIMIT = 1024
DEDUP_LIMIT = 255


def dedup_key(group_key: str) -> str:
    """The group key, or its hash when longer than PagerDuty accepts (the same group gives the same key)."""
    return group_key if len(group_key) <= DEDUP_LIMIT else hashlib.sha256(group_key.encode()).hexdigest()


def render(receiver: ReceiverConfig, message: Message) -> dict[str, Any]:
    """The event without ``routing_key`` (added at send time: it is a secret)."""
    labels = message.group_labels
    details: dict[str, Any] = {
        "kind": message.kind, "alerts": "\n".join(alert_lines(message)), "group_labels": dict(labels),
        "firing": sum(a.get("status") == "firing" for a in message.alerts),
        "resolved": sum(a.get("status") == "resolved" for a in message.alerts),
    }  # fmt: skip
    if message.text:
        details["text"] = message.text
    if message.incident:
        details["incident"] = message.incident
    event: dict[str, Any] = {
        "event_action": "resolve" if message.status == "resolved" else "trigger",
        "dedup_key": dedup_key(message.group_key),
        "payload": {
            "summary": truncate(message.title, SUMMARY_LIMIT),
            "source": labels.get("app") or labels.get("instance") or "edgeplane",
            "severity": SEVERITY.get(message.severity, "warning"),
            "component": labels.get("app") or "edgeplane",
            "group": labels.get("env") or "",
            "class": labels.get("alertname") or message.kind,
            "custom_details": details,
        },
        "client": "edgeplane",
    }
    if message.url:
        event["links"] = [{"href": message.url, "text": "edgeplane"}]
        event["client_url"] = message.url
    return event


async def send(receiver: ReceiverConfig, secrets: Secrets, message: Message, http: httpx.AsyncBaseTransport) -> None:
    assert secrets.routing_key is not None  # the config requires routing_key or routing_key_env
    body = {"routing_key": secrets.routing_key, **render(receiver, message)}
    url = secrets.url or DEFAULT_URL
    await post_json(http, url, body, timeout=receiver.timeout, headers=receiver.headers)
