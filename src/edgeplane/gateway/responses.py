"""Gateway-generated responses: structured JSON errors with stable codes."""

from __future__ import annotations

import orjson

from edgeplane.gateway.types import Send

__all__ = ["send_error"]


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    """Send ``{"error": {"code", "message"}}`` with ``status``."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
