"""What every receiver shares: the delivery error (retry or not), secrets resolved from the environment at send
time (and redacted from errors), one JSON POST with the status rules, and the small formatting helpers.

Status rules (the same for every HTTP receiver): 2xx is delivered; 408, 429 and 5xx, timeouts and connection
errors are retried (the receiver may come back); any other status fails at once, because a wrong URL or a payload
the receiver rejects will not heal by sending it again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from edgeplane.config.observe import ReceiverConfig

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = [
    "COLORS",
    "RESOLVED_COLOR",
    "DeliveryError",
    "Secrets",
    "Sender",
    "alert_lines",
    "color_of",
    "common",
    "post_json",
    "resolve_secrets",
    "truncate",
]

COLORS = {"critical": "#d00000", "high": "#e8590c", "warning": "#f2c744", "info": "#439fe0"}
RESOLVED_COLOR = "#2eb886"
REDACTED = "[redacted]"
ERROR_BODY_CHARS = 200
USER_AGENT = "edgeplane-notifier"


class DeliveryError(Exception):
    """One failed attempt. ``retry``: worth trying again later; ``retry_after``: the receiver said when."""

    def __init__(self, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.retry_after = retry_after


@dataclass(frozen=True)
class Secrets:
    """A receiver's secret values for one attempt; never stored, never logged (``redact`` hides them)."""

    url: str | None = None
    routing_key: str | None = None
    password: str | None = None

    def redact(self, text: str) -> str:
        for value in (self.url, self.routing_key, self.password):
            if value:
                text = text.replace(value, REDACTED)
        return text


def _secret(receiver: ReceiverConfig, inline: str | None, env: str | None) -> str | None:
    if inline:
        return inline
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise DeliveryError(
            f"environment variable {env} is not set (receiver {receiver.name!r} reads its secret from it); "
            "set it in the platform's environment and restart, or test again",
            retry=False,
        )
    return value


def resolve_secrets(receiver: ReceiverConfig) -> Secrets:
    """Read ``url_env`` / ``routing_key_env`` / ``password_env`` now, so a rotated secret is used at once."""
    secrets = Secrets(
        url=_secret(receiver, receiver.url, receiver.url_env),
        routing_key=_secret(receiver, receiver.routing_key, receiver.routing_key_env),
        password=_secret(receiver, None, receiver.password_env),
    )
    if secrets.url is not None and receiver.url is None:  # inline URLs were checked when the file was loaded
        parts = urlsplit(secrets.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryError(f"environment variable {receiver.url_env} is not an http(s) URL", retry=False)
    return secrets


class Sender(Protocol):
    """What each receiver module provides (as its module-level ``send``)."""

    async def __call__(
        self, receiver: ReceiverConfig, secrets: Secrets, message: Message, http: httpx.AsyncBaseTransport
    ) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


async def post_json(
    http: httpx.AsyncBaseTransport,
    url: str,
    body: dict[str, Any],
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST ``body`` as JSON; the response when 2xx, else DeliveryError saying whether to retry.

    It goes straight to the transport, not through ``httpx.AsyncClient``: the client logs every request's full
    URL at INFO, and the path of a Slack/Discord webhook URL is its secret. For the same reason errors name the
    receiver's host only. Redirects are not followed."""
    where = urlsplit(url).netloc
    request = httpx.Request(
        "POST", url, json=body, headers={"user-agent": USER_AGENT, **(headers or {})},
        extensions={"timeout": httpx.Timeout(timeout).as_dict()},
    )  # fmt: skip
    try:
        response = await http.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        raise DeliveryError(f"no answer from {where} within {timeout:g} s", retry=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(f"cannot reach {where}: {exc or type(exc).__name__}", retry=True) from None
    if response.is_success:
        return response
    status = response.status_code
    text = " ".join(response.text.split())[:ERROR_BODY_CHARS]
    error = f"HTTP {status} from {where}" + (f": {text}" if text else "")
    if status in (408, 429) or status >= 500:
        raise DeliveryError(error, retry=True, retry_after=_retry_after(response))
    if response.is_redirect:
        error += " (redirects are not followed: configure the final URL)"
    raise DeliveryError(error, retry=False)


# -- formatting ------------------------------------------------------------------------------------------------
def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in ``…`` when cut (receivers reject or cut longer fields)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def color_of(message: Message) -> str:
    return RESOLVED_COLOR if message.status == "resolved" else COLORS.get(message.severity, COLORS["warning"])


def common(items: Iterable[dict[str, str]]) -> dict[str, str]:
    """The key/values every mapping shares (Alertmanager's commonLabels/commonAnnotations)."""
    maps = list(items)
    if not maps:
        return {}
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps[1:])}


def alert_lines(message: Message) -> list[str]:
    """One line per alert: state, summary (or alertname) and value."""
    lines = []
    for alert in message.alerts:
        labels, notes = alert.get("labels") or {}, alert.get("annotations") or {}
        what = notes.get("summary") or labels.get("alertname") or "alert"
        value = f" (value {notes['value']})" if notes.get("value") else ""
        lines.append(f"[{str(alert.get('status', 'firing')).upper()}] {what}{value}")
    return lines
