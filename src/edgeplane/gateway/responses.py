"""Gateway-generated responses: structured JSON errors with stable codes."""

from __future__ import annotations

import orjson

from edgeplane.gateway.types import RequestContext, Send

__all__ = ["send_error"]


async def send_error(send: Send, status: int, code: str, message: str, ctx: RequestContext | None = None) -> None:
    """Send ``{"error": {"code", "message"}}`` with ``status`` (and record it on ``ctx``)."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if ctx is not None:
        ctx.status, ctx.bytes_out = status, len(body)
        headers += ctx.response_headers()
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
