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
        "bytes_in",
        "bytes_out",
        "cache_status",
        "client_ip",
        "country",
        "cpu_ms",
        "extra_headers",
        "headers",
        "host",
        "judged",
        "request_id",
        "route",
        "security",
        "security_skip",
        "start",
        "status",
        "target",
        "trace",
        "user_id",
        "version",
        "view",
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
        self.trace: Any = None
        """The request's trace span (observe/tracing.py) when tracing is on and it was sampled, else None."""
        self.status = 0
        self.bytes_out = 0
        self.bytes_in = 0
        self.route = ""
        """The matched route pattern (``api.example.com/v1/*``), ``(fallback)``, or empty when none matched."""
        # Filled by stages that do not exist yet (cache, WAF/rate limiting, auth: issue 6); empty means "none ran".
        self.cache_status = ""
        """``HIT``, ``MISS``, ``EXPIRED``, ``BYPASS``… as the cache stage decides; empty: not cacheable."""
        self.security = ""
        """What rate limiting or the WAF decided (``rate_limited``, ``waf_block``, ``waf_log``…); empty: passed."""
        self.security_skip: frozenset[str] = frozenset()
        """Phases a WAF ``skip`` rule switched off for this request (``rate_limits``, ``access``…)."""
        self.user_id = ""
        """The authenticated user's id as the auth stage knows it; analytics stores only a keyed hash of it."""
        self.cpu_ms = 0.0
        """Worker CPU time in ms when the worker reports it; 0 when unknown."""
        self.view: Any = None
        """The request as edge policies read it (``EdgeRequest``), once a stage needed it (stages/view.py)."""
        self.judged: Any = None
        """Set when the hit path ran the security checks on a request it then declined: True (passed) or what
        they raised; the security stage goes on from it instead of judging again (bot rates, log lines)."""
        self.extra_headers: tuple[tuple[bytes, bytes], ...] = ()
        """Headers a stage adds to whatever answers the request (the rate limit's ``RateLimit``), so that it
        need not wrap ``send``."""

    def log_fields(self) -> dict[str, str]:
        """``extra=`` for a log line about this request (request_id, app, env, version), so JSON logs carry them.
        Built only when something is logged, never on the hot path."""
        target, version = self.target, self.version
        return {
            "request_id": self.request_id.decode(),
            "app": target.app if target is not None else "",
            "env": target.env if target is not None else "",
            "version": version.version_id if version is not None else "",
        }

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers the gateway adds to every response it sends."""
        headers = [(b"edgeplane-request-id", self.request_id)]
        if self.version is not None and self.version.public_id:
            headers.append((b"edgeplane-version", self.version.public_id))
        if self.extra_headers:
            headers += self.extra_headers
        return headers
