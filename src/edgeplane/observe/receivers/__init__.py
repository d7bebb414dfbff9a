"""Receivers: one module per kind, each exporting ``KIND``, ``render`` (the payload) and ``send`` (one
attempt). :func:`deliver` resolves the receiver's secrets, runs its kind's ``send`` and turns anything that goes
wrong into a :class:`DeliveryError` with the secrets redacted."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import httpx

from edgeplane.config.observe import ReceiverConfig
from edgeplane.observe.receivers import discord, email, pagerduty, slack, webhook
from edgeplane.observe.receivers.base import DeliveryError, Secrets, Sender, resolve_secrets

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = ["SENDERS", "DeliveryError", "deliver"]

log = logging.getLogger("edgeplane.notify")

SENDERS: Mapping[str, Sender] = MappingProxyType(
    {module.KIND: module.send for module in (webhook, slack, discord, pagerduty, email)}
)


async def deliver(receiver: ReceiverConfig, message: Message, http: httpx.AsyncBaseTransport) -> None:
    """One attempt to deliver ``message``; DeliveryError (never a secret in it) when it did not go through."""
    secrets = Secrets()
    try:
        secrets = resolve_secrets(receiver)
        await SENDERS[receiver.kind](receiver, secrets, message, http)
    except DeliveryError as exc:
        raise DeliveryError(secrets.redact(exc.message), retry=exc.retry, retry_after=exc.retry_after) from None
    except Exception as exc:  # a bug in a formatter must fail this notification, not the notifier
        trace = secrets.redact("".join(traceback.format_exception(exc)))
        log.error("receiver %s (%s) crashed:\n%s", receiver.name, receiver.kind, trace)
        raise DeliveryError(secrets.redact(f"internal error: {exc!r}"), retry=False) from None
