"""Stage 1: request id, client ip, colo and country; the per-request context later stages read."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from edgeplane.edge.geoip import GeoIP
from edgeplane.gateway.types import ASGIApp, Receive, RequestContext, Scope, Send

__all__ = ["Context", "ContextConfig"]


@dataclass(frozen=True)
class ContextConfig:
    colo: str = "local"
    """This node's colo name."""
    country_header: str | None = None
    """Trusted request header carrying the client's country code."""
    client_ip_header: str | None = None
    """Trusted request header carrying the client ip; of a comma list, the last value (the one the trusted proxy
    in front of us appended; earlier values are whatever the client sent)."""
    geoip: GeoIP | None = None
    """A MaxMind-format database for requests without the country header."""


class Context:
    def __init__(self, app: ASGIApp, config: ContextConfig) -> None:
        self.app = app
        self.country_header = config.country_header.lower().encode() if config.country_header else None
        self.ip_header = config.client_ip_header.lower().encode() if config.client_ip_header else None
        self.geoip = config.geoip
        self._prefix = os.urandom(4).hex().encode()
        self._seq = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "edgeplane" not in scope:  # else the hit path made it and declined the request
            scope["edgeplane"] = self.begin(scope["headers"], scope.get("client"))
        await self.app(scope, receive, send)

    def next_id(self) -> bytes:
        """A request id unique on this node: a per-process prefix and a sequence number."""
        self._seq += 1
        return b"%s%010x" % (self._prefix, self._seq)

    def begin(self, raw_headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None) -> RequestContext:
        """The context of a request with these (lowercase) headers from ``client`` (the hit path calls it too)."""
        headers = dict(raw_headers)
        ctx = RequestContext(self.next_id(), headers, time.perf_counter())
        forwarded = headers.get(self.ip_header) if self.ip_header else None
        if forwarded:
            ctx.client_ip = forwarded.rsplit(b",", 1)[-1].strip()  # the hop our trusted proxy appended
        elif client:
            ctx.client_ip = client[0].encode()
        if self.country_header:
            ctx.country = headers.get(self.country_header, b"")
        if not ctx.country and self.geoip is not None and ctx.client_ip:
            ctx.country = self.geoip.country(ctx.client_ip.decode("latin-1")).encode()
        host = headers.get(b"host", b"")
        ctx.host = host.decode("latin-1").split(":", 1)[0].lower() if host else ""
        return ctx
