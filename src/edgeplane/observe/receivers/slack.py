"""Slack incoming webhook: ``text`` is the notification/fallback line; one attachment coloured by severity
(green when resolved) holds the alerts, the details and a link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from edgeplane.config.observe import ReceiverConfig
from edgeplane.observe.receivers.base import Secrets, alert_lines, color_of, post_json, truncate

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = ["KIND", "render", "send"]

KIND = "slack"
TEXT_LIMIT = 3000  # a section block's text limit; longer attachment text is folded by Slack anyway
FIELD_LIMIT = 300


def render(receiver: ReceiverConfig, message: Message) -> dict[str, Any]:
    body = "\n".join(part for part in (message.text, "\n".join(alert_lines(message))) if part)
    fields = [{"title": "Severity", "value": message.severity, "short": True}]
    fields += [{"title": k, "value": truncate(v, FIELD_LIMIT), "short": True} for k, v in message.group_labels.items()]
    if message.incident:
        fields.append({"title": "Incident", "value": message.incident, "short": True})
    attachment: dict[str, Any] = {
        "color": color_of(message),
        "fallback": truncate(message.title, TEXT_LIMIT),
        "title": truncate(message.title, FIELD_LIMIT),
        "text": truncate(body, TEXT_LIMIT),
        "fields": fields,
        "footer": f"edgeplane · {message.kind}",
    }
    if message.url:
        attachment["title_link"] = message.url
    return {"text": truncate(message.title, TEXT_LIMIT), "attachments": [attachment]}


async def send(receiver: ReceiverConfig, secrets: Secrets, message: Message, http: httpx.AsyncBaseTransport) -> None:
    assert secrets.url is not None
    await post_json(http, secrets.url, render(receiver, message), timeout=receiver.timeout, headers=receiver.headers)
