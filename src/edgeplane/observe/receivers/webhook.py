"""Generic webhook: the Alertmanager webhook JSON (version 4), so anything that consumes Alertmanager's
notifications (alert bridges, chat-ops bots, custom handlers) consumes ours unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from edgeplane.config.observe import ReceiverConfig
from edgeplane.observe.receivers.base import Secrets, common, post_json

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = ["KIND", "render", "send"]

KIND = "webhook"


def render(receiver: ReceiverConfig, message: Message) -> dict[str, Any]:
    alerts = [{"generatorURL": message.url or "", **alert} for alert in message.alerts]
    return {
        "version": "4",
        "groupKey": message.group_key,
        "truncatedAlerts": 0,
        "status": message.status,
        "receiver": receiver.name,
        "groupLabels": dict(message.group_labels),
        "commonLabels": common(a.get("labels") or {} for a in alerts),
        "commonAnnotations": common(a.get("annotations") or {} for a in alerts),
        "externalURL": message.url or "",
        "alerts": alerts,
        # Our additions (Alertmanager consumers ignore unknown keys): what kind of message and its incident.
        "kind": message.kind,
        "title": message.title,
        "severity": message.severity,
        "incident": message.incident,
    }


async def send(receiver: ReceiverConfig, secrets: Secrets, message: Message, http: httpx.AsyncBaseTransport) -> None:
    assert secrets.url is not None  # the config requires url or url_env
    await post_json(http, secrets.url, render(receiver, message), timeout=receiver.timeout, headers=receiver.headers)
