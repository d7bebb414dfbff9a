"""Discord incoming webhook: ``content`` (≤ 2000 characters) and one embed coloured by severity, within Discord's
limits (title 256, description 4096, 25 fields of 256/1024, 6000 in all) — a longer message is cut, not refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from edgeplane.config.observe import ReceiverConfig
from edgeplane.observe.receivers.base import Secrets, alert_lines, color_of, post_json, truncate

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = ["KIND", "render", "send"]

KIND = "discord"
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
EMBED_LIMIT = 6000


def _fields(message: Message, room: int) -> list[dict[str, Any]]:
    pairs = [("severity", message.severity), *message.group_labels.items()]
    if message.incident:
        pairs.append(("incident", message.incident))
    fields: list[dict[str, Any]] = []
    for name, value in pairs[:FIELDS_LIMIT]:
        field = {"name": truncate(name, FIELD_NAME_LIMIT), "value": truncate(value or "-", FIELD_VALUE_LIMIT)}
        room -= len(field["name"]) + len(field["value"])
        if room < 0:
            break
        fields.append({**field, "inline": True})
    return fields


def render(receiver: ReceiverConfig, message: Message) -> dict[str, Any]:
    title = truncate(message.title, TITLE_LIMIT)
    body = "\n".join(part for part in (message.text, "\n".join(alert_lines(message))) if part)
    description = truncate(body, min(DESCRIPTION_LIMIT, EMBED_LIMIT - len(title) - 500))  # leave room for fields
    footer = f"edgeplane · {message.kind}"
    embed: dict[str, Any] = {
        "title": title,
        "description": description,
        "color": int(color_of(message).lstrip("#"), 16),
        "fields": _fields(message, EMBED_LIMIT - len(title) - len(description) - len(footer)),
        "footer": {"text": footer},
    }
    if message.url:
        embed["url"] = message.url
    return {"content": truncate(message.title, CONTENT_LIMIT), "embeds": [embed], "allowed_mentions": {"parse": []}}


async def send(receiver: ReceiverConfig, secrets: Secrets, message: Message, http: httpx.AsyncBaseTransport) -> None:
    assert secrets.url is not None
    await post_json(http, secrets.url, render(receiver, message), timeout=receiver.timeout, headers=receiver.headers)
