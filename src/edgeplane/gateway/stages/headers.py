"""Stage: security headers (``[security_headers]``) on every response of the version, the gateway's own
answers (cached, blocked, rate limited) included; a header the origin already set is left as it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeplane.config.edge import SecurityHeaders
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import ASGIApp, Message, Receive, RequestContext, Scope, Send

__all__ = ["HeaderRules", "ResponseHeaders", "additions", "compile_headers", "with_missing"]

Predicate = Callable[[Any], bool]
CSP = b"content-security-policy"


@dataclass(frozen=True, slots=True)
class HeaderRules:
    static: tuple[tuple[bytes, bytes], ...]
    """Headers every response gets (when it lacks them)."""
    routes: tuple[tuple[Predicate, bytes], ...]
    """(match, CSP) per route; the first match's CSP replaces the static one."""


def compile_headers(config: SecurityHeaders, compile_expression: Callable[[str], Predicate]) -> HeaderRules | None:
    if not config.enabled:
        return None
    static: list[tuple[bytes, bytes]] = []
    if config.content_type_options:
        static.append((b"x-content-type-options", b"nosniff"))
    if config.frame_options:
        static.append((b"x-frame-options", config.frame_options.encode()))
    if config.referrer_policy:
        static.append((b"referrer-policy", config.referrer_policy.encode()))
    if config.hsts:
        static.append((b"strict-transport-security", config.hsts.encode()))
    if config.content_security_policy:
        static.append((CSP, config.content_security_policy.encode()))
    if config.permissions_policy:
        static.append((b"permissions-policy", config.permissions_policy.encode()))
    routes = tuple((compile_expression(r.match), r.content_security_policy.encode()) for r in config.routes)
    if not static and not routes:
        return None
    return HeaderRules(tuple(static), routes)


def additions(rules: HeaderRules, scope: Scope, ctx: RequestContext) -> tuple[tuple[bytes, bytes], ...]:
    """The headers this request's responses get when they lack them (routes see the request as the security
    checks left it: identity, bot score)."""
    add = rules.static
    if rules.routes:
        view = edge_request(scope, ctx)
        for predicate, csp in rules.routes:
            if predicate(view):
                return (*(h for h in add if h[0] != CSP), (CSP, csp))
    return add


def with_missing(headers: list[tuple[bytes, bytes]], add: tuple[tuple[bytes, bytes], ...]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus those of ``add`` it lacks (a header the origin set is left as it is)."""
    present = {k.lower() for k, _ in headers}
    missing = [h for h in add if h[0] not in present]
    return [*headers, *missing] if missing else headers


class ResponseHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        edge = ctx.version.edge
        rules: HeaderRules | None = edge.headers if edge is not None else None
        if rules is None:
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":  # routes are matched now: after identity and WAF checks
                message = {**message, "headers": with_missing(message.get("headers", []), additions(rules, scope, ctx))}
            await send(message)

        await self.app(scope, receive, secured)
