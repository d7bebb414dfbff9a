"""Stage: rate limits (``[[rate_limits]]``). Every rule whose ``match`` is true counts the request against the
client's limit for its tier: the client is the user id when a token said who it is, else the ip, plus the
rule's ``characteristics``. Over a ``block`` rule's limit: 429 with ``Retry-After``, the draft's
``RateLimit-Policy``/``RateLimit`` and the older ``RateLimit-Limit/Remaining/Reset``; under it, the tightest
rule's ``RateLimit-Policy``/``RateLimit`` go on the response."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeplane.config.edge import RateLimitRule
from edgeplane.edge.ratelimit import Decision, Limiter
from edgeplane.edge.request import EdgeRequest
from edgeplane.gateway.responses import send_error
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import ASGIApp, Receive, RequestContext, Scope, Send

__all__ = ["RateLimit", "RateRules", "counts"]

log = logging.getLogger("edgeplane.security")
Predicate = Callable[[Any], bool]
DRAFT_FIELDS = (b"ratelimit-policy", b"ratelimit")


@dataclass(frozen=True, slots=True)
class RateRules:
    """An app version's ``[[rate_limits]]``: (compiled match, rule) in order."""

    rules: tuple[tuple[Predicate, RateLimitRule], ...]


def client_key(rule: RateLimitRule, view: EdgeRequest) -> str:
    """Who is counted: ``u:<user id>`` or ``ip:<address>``, then the rule's characteristics."""
    who = f"u:{view.identity.user_id}" if view.identity is not None else f"ip:{view.ip}"
    if not rule.characteristics:
        return who
    parts = [who]
    for name in rule.characteristics:
        if name == "country":
            parts.append(view.country)
        elif name == "path":
            parts.append(view.path)
        elif name.startswith("header:"):
            parts.append(view.header(name[7:]))
        else:
            parts.append(view.cookies.get(name[7:], ""))
    return "|".join(parts)


def counts(rules: RateRules | None, scope: Scope, ctx: RequestContext) -> bool:
    """Whether a rule counts this request (the hit path leaves such requests to this stage)."""
    if rules is None or not rules.rules or "rate_limits" in ctx.security_skip:
        return False
    view = edge_request(scope, ctx)
    return any(predicate(view) for predicate, _ in rules.rules)


class RateLimit:
    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        edge = ctx.version.edge
        rules: RateRules | None = edge.rate_limits if edge is not None else None
        if rules is None or not rules.rules or "rate_limits" in ctx.security_skip:
            await self.app(scope, receive, send)
            return
        try:
            tightest = await self._count(rules, edge_request(scope, ctx), ctx)
        except _Denied as denied:
            await _answer(send, ctx, denied)
            return
        if tightest is None:
            await self.app(scope, receive, send)
            return
        # under the limit: the draft's two fields only (every header costs the server's validation on each response)
        ctx.extra_headers = (*ctx.extra_headers, *(h for h in tightest[0].headers(tightest[1]) if h[0] in DRAFT_FIELDS))
        await self.app(scope, receive, send)

    async def _count(self, rules: RateRules, view: EdgeRequest, ctx: RequestContext) -> tuple[Decision, str] | None:
        """Count the request under every matching rule; the tightest allowing decision (for the response's
        headers), or ``_Denied`` from the first ``block`` rule over its limit."""
        identity = view.identity
        tier = identity.tier if identity is not None else "anonymous"
        tightest: tuple[Decision, str] | None = None
        target = ctx.target
        for predicate, rule in rules.rules:
            if not predicate(view):
                continue
            limit = rule.limit_for(tier, identity is not None)
            if limit is None:
                continue
            if limit == 0:  # the rule denies this tier outright: waiting would not help
                ctx.security = f"rate_limited:{rule.name}"
                if rule.action == "block":
                    raise _Denied(403, rule, f"rate limit {rule.name!r} does not allow the {tier} tier", [])
                continue
            # the bucket is per rule, limit and period: a canary or a tier with another rate never shares one
            key = f"{target.app}/{target.env}|{rule.name}|{limit}/{rule.period:g}|{client_key(rule, view)}"
            decision = await self.limiter.hit(key, limit, rule.period)
            if not decision.allowed:
                ctx.security = f"rate_limited:{rule.name}"
                log.info("rate limit %s: %s over %d/%gs", rule.name, key, limit, rule.period, extra=ctx.log_fields())
                if rule.action == "block":
                    raise _Denied(429, rule, f"rate limit {rule.name!r} exceeded", decision.headers(rule.name),
                                  retry_after=decision.retry_after)  # fmt: skip
                continue  # a log rule's denial is recorded, not advertised on the response
            if tightest is None or decision.remaining < tightest[0].remaining:
                tightest = (decision, rule.name)
        return tightest


class _Denied(Exception):
    def __init__(
        self, status: int, rule: RateLimitRule, message: str, headers: list[tuple[bytes, bytes]], **details: Any
    ) -> None:
        super().__init__(message)
        self.status, self.rule, self.message, self.headers, self.details = status, rule, message, headers, details


async def _answer(send: Send, ctx: RequestContext, denied: _Denied) -> None:
    code = "rate_limited" if denied.status == 429 else "tier_not_allowed"
    await send_error(send, denied.status, code, denied.message, ctx, details={"rule": denied.rule.name,
                     **denied.details}, headers=denied.headers)  # fmt: skip
