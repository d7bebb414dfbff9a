"""Stage: who is asking and may they — JWT identity, bot score, custom WAF rules, managed WAF rules, geo
policies, access policies — in that order. Every block and challenge is a security event: a log line on
``edgeplane.security`` naming the rule, and ``ctx.security`` (the request analytics' security column).

Answers: ``401 invalid_token`` (a bad bearer token), ``503 auth_unavailable`` (no keys to check it with),
``403 waf_block`` / the rule's own status and body, ``403`` challenge page (bots.py), ``403 geo_blocked``,
``451 consent_required``, ``401 access_unauthenticated`` and ``403 access_*`` with the reason code.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeplane.config.edge import AccessPolicy, GeoPolicy, WAFRule
from edgeplane.edge.bots import BotScorer, Challenge
from edgeplane.edge.geoip import GDPR_COUNTRIES
from edgeplane.edge.jwt import InvalidToken, JWTVerifier, bearer_token
from edgeplane.edge.managed import ManagedRules
from edgeplane.edge.request import EdgeRequest
from edgeplane.gateway.responses import send_body, send_error
from edgeplane.gateway.stages.limits import BodyTooLarge
from edgeplane.gateway.stages.view import edge_request
from edgeplane.gateway.types import ASGIApp, Message, Receive, RequestContext, Scope, Send

__all__ = ["Security", "SecurityRules", "WAFCustomRule"]

log = logging.getLogger("edgeplane.security")
Predicate = Callable[[Any], bool]
BINARY_TYPES = (b"image/", b"audio/", b"video/", b"font/", b"application/octet-stream", b"application/zip",
                b"application/gzip", b"application/pdf", b"application/x-protobuf", b"application/grpc")  # fmt: skip
"""Bodies not read for inspection."""
TEXT_TYPES = (b"application/json", b"application/x-www-form-urlencoded", b"text/", b"multipart/form-data",
              b"application/xml", b"application/graphql")  # fmt: skip
"""Bodies always inspected. Any other (a missing Content-Type included: frameworks parse such bodies as JSON)
is inspected when it is text (UTF-8 without NUL bytes); an uploaded binary file is not."""


@dataclass(frozen=True, slots=True)
class WAFCustomRule:
    """A custom rule's config and what it switches off when its action is ``skip`` (its expression is matched
    through ``SecurityRules.first_custom``)."""

    config: WAFRule
    skip: frozenset[str]


@dataclass(frozen=True, slots=True)
class SecurityRules:
    """An app version's security policies, compiled (gateway/edge_policy.py)."""

    jwt: JWTVerifier | None
    reject_invalid_tokens: bool
    custom: tuple[WAFCustomRule, ...]
    first_custom: Callable[[Any, int], int]
    """The index of the first custom rule at or after ``start`` whose expression matches, -1: none (all of them
    compiled into one function, edge/rules ``compile_first_match``)."""
    managed: ManagedRules | None
    managed_action: str
    inspect_body: int
    """Body bytes read for inspection (0: none)."""
    geo: tuple[tuple[Predicate, GeoPolicy], ...]
    access: tuple[tuple[Predicate, AccessPolicy, tuple[Any, ...]], ...]
    bot_score: bool
    """Whether any rule reads ``cf.bot_management.score`` (else the scorer does not run)."""

    @property
    def repeatable(self) -> bool:
        """Whether two requests with equal heads from one address are always judged alike: nothing reads the
        bot score (a request rate) or a challenge cookie (which expires)."""
        challenge = any(r.config.action == "challenge" for r in self.custom)
        return not (self.bot_score or challenge or (self.managed is not None and self.managed_action == "challenge"))


class _Answer(Exception):
    """A response the stage sends instead of passing the request on."""

    def __init__(self, status: int, code: str, message: str, event: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.event, self.extra = status, code, message, event, extra


class Security:
    def __init__(self, app: ASGIApp, scorer: BotScorer, challenge: Callable[[], Challenge]) -> None:
        self.app = app
        self.scorer = scorer
        self.challenge = challenge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        edge = ctx.version.edge
        rules: SecurityRules | None = edge.security if edge is not None else None
        if rules is None:
            await self.app(scope, receive, send)
            return
        view = edge_request(scope, ctx)
        try:
            if rules.jwt is not None:
                await self._identify(rules, view, ctx)
            if rules.inspect_body and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
                receive = await _read_body(view, ctx, receive, rules.inspect_body)
            judged = ctx.judged
            if judged is None:
                self._judge(rules, view, ctx)
            elif judged is not True:  # the hit path's verdict on this request (it declined to answer it)
                raise judged
        except BodyTooLarge as exc:
            await _send(send, ctx, _Answer(413, "body_too_large", str(exc), ""))
            return
        except _Answer as answer:
            if answer.event:
                ctx.security = answer.event
                log.warning("%s %s%s: %s (%s)", scope["method"], ctx.host, scope["path"], answer.message,
                            answer.event, extra=ctx.log_fields())  # fmt: skip
            if answer.code == "challenge":
                await self._send_challenge(send, ctx, view)
            else:
                await _send(send, ctx, answer)
            return
        except Exception:  # a request we cannot judge is not let through (and gets no stack trace)
            log.exception("security checks failed on %s %s%s", scope["method"], ctx.host, scope["path"],
                          extra=ctx.log_fields())  # fmt: skip
            ctx.security = "waf_error"
            await _send(send, ctx, _Answer(403, "waf_error", "the request could not be inspected", ""))
            return
        await self.app(scope, receive, send)

    def identified(self, rules: SecurityRules, view: EdgeRequest, ctx: RequestContext) -> bool:
        """For the hit path: the bearer token's identity when it was verified before (the view and the context
        get it); False when it has to be verified (the regular path does that)."""
        if rules.jwt is None:
            return True
        token = bearer_token(ctx.headers)
        if token is None:
            return True
        identity = rules.jwt.cached(token)
        if identity is None:
            return False
        view.identity = identity
        ctx.user_id = identity.user_id
        return True

    def passes(self, rules: SecurityRules, view: EdgeRequest, ctx: RequestContext) -> bool:
        """For the hit path (a request without a body, ``identified``): whether the request passes every check.
        False when it does not, or when a check fails; either way the verdict stays on ``ctx.judged``, for the
        regular path to act on if the hit path declines the request."""
        try:
            self._judge(rules, view, ctx)
        except Exception as exc:  # an answer (block, challenge…) or a failure: the regular path sends either
            ctx.judged = exc
            return False
        ctx.judged = True
        return True

    def _judge(self, rules: SecurityRules, view: EdgeRequest, ctx: RequestContext) -> None:
        """Bot score, custom rules, managed rules, geo and access policies; raises ``_Answer``."""
        if rules.bot_score:
            view.bot_score = self.scorer.score(view, time.monotonic())
        skip = self._custom(rules, view, ctx)
        if rules.managed is not None and "managed" not in skip:
            self._managed(rules, view, ctx)
        _geo(rules, view)
        if "access" not in skip:
            _access(rules, view)

    async def _identify(self, rules: SecurityRules, view: EdgeRequest, ctx: RequestContext) -> None:
        assert rules.jwt is not None
        token = bearer_token(ctx.headers)
        if token is None:
            return
        try:
            view.identity = await rules.jwt.verify(token)
        except InvalidToken as exc:
            if exc.reason_code == "jwks_unavailable":
                raise _Answer(503, "auth_unavailable", "cannot check tokens now: no verification keys",
                              "auth_unavailable", reason=exc.reason_code) from None  # fmt: skip
            if rules.reject_invalid_tokens:
                raise _Answer(401, "invalid_token", exc.message, "", reason=exc.reason_code) from None
            return
        ctx.user_id = view.identity.user_id

    def _custom(self, rules: SecurityRules, view: EdgeRequest, ctx: RequestContext) -> frozenset[str]:
        """Run the custom rules in order; what ``skip`` rules switched off (the remaining custom rules only when
        a skip names ``rules``)."""
        skipped: frozenset[str] = frozenset()
        custom, first = rules.custom, rules.first_custom
        index = first(view, 0) if custom else -1
        while index >= 0:
            rule = custom[index]
            config = rule.config
            if config.action == "log":
                ctx.security = f"waf_log:{config.id}"
                log.info("WAF rule %s matched (log): %s %s", config.id, view.method, view.uri, extra=ctx.log_fields())
            elif config.action == "skip":
                skipped = ctx.security_skip = skipped | rule.skip
                if "rules" in rule.skip:
                    return skipped
            elif config.action == "challenge":
                if not self.challenge().passed(view, time.time()):
                    raise _Answer(
                        403, "challenge", f"WAF rule {config.id} asks for a challenge", f"waf_challenge:{config.id}"
                    )
            else:
                raise _Answer(config.status, "waf_block", f"blocked by WAF rule {config.id}", f"waf_block:{config.id}",
                              rule=config.id, body=config.body)  # fmt: skip
            index = first(view, index + 1)
        return skipped

    def _managed(self, rules: SecurityRules, view: EdgeRequest, ctx: RequestContext) -> None:
        assert rules.managed is not None
        result = rules.managed.inspect(view)
        if not result.blocked:
            return
        ids = ",".join(m.rule_id for m in result.matches)
        event = f"managed_{rules.managed_action}:{ids}"[:200]
        if rules.managed_action == "log":
            ctx.security = event
            log.info("managed WAF rules matched (score %d, log): %s", result.score, ids, extra=ctx.log_fields())
            return
        if rules.managed_action == "challenge":
            if self.challenge().passed(view, time.time()):
                return
            raise _Answer(403, "challenge", f"managed rules ask for a challenge (score {result.score})", event)
        raise _Answer(403, "waf_block", f"blocked by managed rules (anomaly score {result.score}: {ids})", event,
                      rules=[m.rule_id for m in result.matches], score=result.score)  # fmt: skip

    async def _send_challenge(self, send: Send, ctx: RequestContext, view: EdgeRequest) -> None:
        status, headers, body = self.challenge().challenge_page(view.ip, view.user_agent, time.time())
        ctx.status, ctx.bytes_out = status, len(body)
        await send({"type": "http.response.start", "status": status, "headers": headers + ctx.response_headers()})
        await send({"type": "http.response.body", "body": body})


def _geo(rules: SecurityRules, view: EdgeRequest) -> None:
    country = view.country
    for predicate, policy in rules.geo:
        if not predicate(view):
            continue
        if not country:
            if policy.unknown == "block":
                raise _Answer(403, "geo_blocked", "the client's country is unknown", f"geo_block:{policy.name}")
        elif (policy.allow and country not in policy.allow) or country in policy.block:
            raise _Answer(403, "geo_blocked", f"not available in {country}", f"geo_block:{policy.name}",
                          country=country)  # fmt: skip
        if policy.consent_header and country in GDPR_COUNTRIES and not view.header(policy.consent_header):
            raise _Answer(451, "consent_required", f"requests from {country} need the {policy.consent_header} header "
                          "(GDPR consent)", f"geo_consent:{policy.name}")  # fmt: skip


def _access(rules: SecurityRules, view: EdgeRequest) -> None:
    for predicate, policy, networks in rules.access:
        if not predicate(view):
            continue
        reason = _access_denied(policy, networks, view)
        if reason:
            status = 401 if reason == "access_unauthenticated" else 403
            raise _Answer(status, reason, f"access policy {policy.name!r}: {REASONS[reason]}",
                          f"access_denied:{policy.name}:{reason}", policy=policy.name)  # fmt: skip
        return


REASONS = {
    "access_unauthenticated": "sign in first (a bearer token)",
    "access_tier": "your tier may not use this",
    "access_email_domain": "your email domain is not allowed",
    "access_mfa_required": "multi-factor authentication is required",
    "access_country": "not allowed from your country",
    "access_ip": "not allowed from your address",
}


def _access_denied(policy: AccessPolicy, networks: tuple[Any, ...], view: EdgeRequest) -> str:
    """The reason code of the first condition of ``policy`` the request fails; empty when it passes."""
    identity = view.identity
    reason = ""
    if policy.authenticated and identity is None:
        reason = "access_unauthenticated"
    elif policy.tiers and (identity is None or identity.tier not in policy.tiers):
        reason = "access_tier"
    elif policy.email_domains and (identity is None or _domain(identity.email) not in policy.email_domains):
        reason = "access_email_domain"
    elif policy.mfa and (identity is None or not identity.mfa):
        reason = "access_mfa_required"
    elif policy.countries and view.country not in policy.countries:
        reason = "access_country"
    elif networks and not _in_networks(view.ip, networks):
        reason = "access_ip"
    return reason


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _in_networks(ip: str, networks: tuple[Any, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in n for n in networks)


async def _read_body(view: EdgeRequest, ctx: RequestContext, receive: Receive, limit: int) -> Receive:
    """Read up to ``limit`` bytes of an inspectable body into ``view.body``; the ``receive`` that hands the
    read messages to the next stage first."""
    kind = ctx.headers.get(b"content-type", b"").lower()
    if kind.startswith(BINARY_TYPES):
        return receive
    messages: collections.deque[Message] = collections.deque()
    size, more = 0, True
    chunks: list[bytes] = []
    while more and size < limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)[:limit]
    view.body = body if kind.startswith(TEXT_TYPES) or _is_text(body) else b""

    async def replay() -> Message:
        return messages.popleft() if messages else await receive()

    return replay


def _is_text(body: bytes) -> bool:
    if b"\x00" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(body) - 3  # cut in the middle of a character by the inspection limit
    return True


async def _send(send: Send, ctx: RequestContext, answer: _Answer) -> None:
    headers = [(b"cache-control", b"no-store")]
    if answer.status == 401:
        headers.append((b"www-authenticate", b'Bearer error="invalid_token"' if answer.code == "invalid_token"
                        else b"Bearer"))  # fmt: skip
    custom = answer.extra.pop("body", None)
    if custom is not None:
        await send_body(send, answer.status, custom.encode(), [(b"content-type", b"text/plain; charset=utf-8"),
                                                               *headers], ctx)  # fmt: skip
    else:
        await send_error(send, answer.status, answer.code, answer.message, ctx, details=answer.extra, headers=headers)


def compile_networks(values: list[str]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)
