"""Gateway-generated responses: structured JSON errors with stable codes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from edgeplane.gateway.types import RequestContext, Send

__all__ = ["send_body", "send_error"]


async def send_error(
    send: Send, status: int, code: str, message: str, ctx: RequestContext | None = None, *,
    details: dict[str, Any] | None = None, headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:  # fmt: skip
    """Send ``{"error": {"code", "message", **details}}`` with ``status`` and ``headers`` (recorded on ``ctx``)."""
    body = orjson.dumps({"error": {"code": code, "message": message, **(details or {})}})
    await send_body(send, status, body, [(b"content-type", b"application/json"), *headers], ctx)


async def send_body(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], ctx: RequestContext | None = None
) -> None:
    """Send a whole response the gateway makes itself: ``headers`` plus its length and the context's headers."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    if ctx is not None:
        ctx.status, ctx.bytes_out = status, len(body)
        headers += ctx.response_headers()
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
