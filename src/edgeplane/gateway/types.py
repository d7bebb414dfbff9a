"""ASGI type aliases and the per-request context the stages share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "RequestContext", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestContext:
    """What earlier stages learned about a request, for later stages (``scope["edgeplane"]``)."""

    __slots__ = (
        "bytes_out",
        "client_ip",
        "country",
        "headers",
        "host",
        "request_id",
        "start",
        "status",
        "target",
        "version",
    )

    def __init__(self, request_id: bytes, headers: dict[bytes, bytes], start: float) -> None:
        self.request_id = request_id
        self.headers = headers
        self.start = start
        self.client_ip = b""
        self.country = b""
        self.host = ""
        self.target: Any = None
        self.version: Any = None
        self.status = 0
        self.bytes_out = 0

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers the gateway adds to every response it sends."""
        headers = [(b"edgeplane-request-id", self.request_id)]
        if self.version is not None and self.version.public_id:
            headers.append((b"edgeplane-version", self.version.public_id))
        return headers
