"""An app version's edge policies, compiled once from its edgeplane.toml when the version goes live and kept
on its ``VersionTarget``: the request path reads plain objects and calls compiled predicates, nothing else."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgeplane.config.app import AppConfig
from edgeplane.config.edge import JWTConfig, WAFRule
from edgeplane.edge.jwt import JWTVerifier
from edgeplane.edge.managed import ManagedRules
from edgeplane.edge.rules import BODY_FIELDS, BOT_FIELDS, compile_expression, compile_first_match, fields_used
from edgeplane.errors import ConfigError
from edgeplane.gateway.stages.cache import CacheRules
from edgeplane.gateway.stages.headers import HeaderRules, compile_headers
from edgeplane.gateway.stages.ratelimit import RateRules
from edgeplane.gateway.stages.security import SecurityRules, WAFCustomRule, compile_networks

__all__ = ["EdgePolicy", "compile_policy"]


@dataclass(frozen=True, slots=True)
class EdgePolicy:
    cache: CacheRules | None
    rate_limits: RateRules | None
    headers: HeaderRules | None
    security: SecurityRules | None
    bot_score_first: bool = False
    """Whether a cache policy or rate limit reads the bot score (the hit path then judges a request before the
    lookup, as the regular path does; else after it, so that a miss costs no checks)."""

    async def start(self) -> None:
        if self.security is not None and self.security.jwt is not None:
            await self.security.jwt.start()

    async def close(self) -> None:
        if self.security is not None and self.security.jwt is not None:
            await self.security.jwt.close()


def compile_policy(config: AppConfig) -> EdgePolicy:
    """Compile ``config``'s edge sections; a problem only the gateway can see (an unset secret variable) is a
    ConfigError."""
    cache = CacheRules(config.cache.enabled, tuple((compile_expression(p.match), p) for p in config.cache.policies))
    limits = RateRules(tuple((compile_expression(r.match), r) for r in config.rate_limits))
    return EdgePolicy(
        cache=cache,
        rate_limits=limits if limits.rules else None,
        headers=compile_headers(config.security_headers, compile_expression),
        security=_security(config),
        bot_score_first=bool(_fields(config, waf=False) & BOT_FIELDS),
    )


def _security(config: AppConfig) -> SecurityRules | None:
    waf, jwt = config.waf, config.auth.jwt
    custom = tuple(
        WAFCustomRule(rule, frozenset(rule.skip) if rule.action == "skip" else frozenset()) for rule in waf.rules
    )
    managed = (
        ManagedRules(threshold=waf.managed.threshold, exclude=frozenset(waf.managed.exclude))
        if waf.managed.enabled
        else None
    )
    geo = tuple((compile_expression(p.match), p) for p in config.geo.policies)
    access = tuple((compile_expression(p.match), p, compile_networks(p.ips)) for p in config.access.policies)
    if not (custom or managed or geo or access or jwt):
        return None
    used = _fields(config)
    inspect = waf.managed.inspect_body_bytes if managed is not None else 0
    if used & BODY_FIELDS:
        inspect = max(inspect, waf.managed.inspect_body_bytes or 64 * 1024)
    return SecurityRules(
        jwt=_verifier(jwt) if jwt is not None else None,
        reject_invalid_tokens=jwt is None or jwt.invalid_token == "reject",
        custom=custom,
        first_custom=compile_first_match([rule.expression for rule in waf.rules]),
        managed=managed,
        managed_action=waf.managed.action,
        inspect_body=inspect,
        geo=geo,
        access=access,
        bot_score=bool(used & BOT_FIELDS),
    )


def _fields(config: AppConfig, waf: bool = True) -> set[str]:
    """Every field any of the app's expressions reads (the bot score and the body are prepared only if one does);
    without ``waf``: those of the cache policies and rate limits only."""
    expressions = [p.match for p in config.cache.policies] + [r.match for r in config.rate_limits]
    if waf:
        expressions += [r.expression for r in config.waf.rules]
        expressions += [p.match for p in config.geo.policies] + [p.match for p in config.access.policies]
        expressions += [r.match for r in config.security_headers.routes]
    used: set[str] = set()
    for text in expressions:
        used |= fields_used(text)
    return used


def _verifier(config: JWTConfig) -> JWTVerifier:
    secret = None
    if config.secret_env:
        secret = os.environ.get(config.secret_env)
        if not secret:
            raise ConfigError(
                f"[auth.jwt] secret_env: the gateway's environment has no {config.secret_env}; set it before "
                "`edgeplane serve` (tokens cannot be checked without it)",
                key="auth.jwt.secret_env",
            )
    try:
        return JWTVerifier(
            algorithms=config.algorithms, secret=secret, public_keys_pem=config.public_keys, jwks_url=config.jwks_url,
            issuer=config.issuer, audience=config.audience, leeway=config.leeway, user_claim=config.user_claim,
            tier_claim=config.tier_claim, email_claim=config.email_claim, mfa_claim=config.mfa_claim,
            jwks_cache_seconds=config.jwks_cache,
        )  # fmt: skip
    except ValueError as exc:  # a short secret, a key that does not fit the algorithms...
        raise ConfigError(f"[auth.jwt]: {exc}", key="auth.jwt") from None


def failed_policy(reason: str) -> EdgePolicy:
    """For a version whose policies cannot be compiled on this node: every request answered 503, never the
    version without the security it asked for."""
    rule = WAFRule(id="edge-policy-failed", expression="true", action="block", status=503,
                   body=f"this version's edge policies failed to load: {reason}\n")  # fmt: skip
    security = SecurityRules(
        jwt=None, reject_invalid_tokens=True, custom=(WAFCustomRule(rule, frozenset()),),
        first_custom=lambda _, start: 0 if start == 0 else -1,
        managed=None, managed_action="block", inspect_body=0, geo=(), access=(), bot_score=False,
    )  # fmt: skip
    return EdgePolicy(cache=None, rate_limits=None, headers=None, security=security)
