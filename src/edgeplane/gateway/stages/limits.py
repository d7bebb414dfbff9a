"""Stage 3: request size limits — 431 for oversized headers, 413 for oversized bodies (declared or streamed)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeplane.gateway.responses import send_error
from edgeplane.gateway.types import ASGIApp, Message, Receive, RequestContext, Scope, Send

__all__ = ["BodyTooLarge", "Limits", "LimitsConfig"]


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit; dispatch answers 413."""


@dataclass(frozen=True)
class LimitsConfig:
    max_header_bytes: int = 32 * 1024
    """Sum of header name and value bytes (plus separators) above which the gateway answers 431."""
    max_body_bytes: int = 100 * 1024 * 1024
    """Request body bytes above which the gateway answers 413."""


class Limits:
    def __init__(self, app: ASGIApp, config: LimitsConfig) -> None:
        self.app = app
        self.max_header = config.max_header_bytes
        self.max_body = config.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        if self.headers_too_large(scope["headers"]):
            await send_error(send, 431, "headers_too_large", f"request headers exceed {self.max_header} bytes", ctx)
            return
        length = ctx.headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await send_error(send, 400, "bad_content_length", "Content-Length must be a decimal integer", ctx)
                return
            if int(length) > self.max_body:
                await send_error(send, 413, "body_too_large", f"request body exceeds {self.max_body} bytes", ctx)
                return
        elif b"transfer-encoding" in ctx.headers:
            # Only a chunked body has no declared length; count it as it streams (no body: no wrapper).
            receive = self._counting(receive)
        await self.app(scope, receive, send)

    def headers_too_large(self, headers: list[tuple[bytes, bytes]]) -> bool:
        size = 0
        for name, value in headers:
            size += len(name) + len(value) + 4
        return size > self.max_header

    def _counting(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"request body exceeds {limit} bytes")
            return message

        return counted
