"""The edge sections of an app's edgeplane.toml: ``[cache]``, ``[waf]``, ``[[rate_limits]]``, ``[auth.jwt]``,
``[[access.policies]]``, ``[[geo.policies]]`` and ``[security_headers]``; and ``[server.edge]``, the platform's
side (cache memory, shared tier, rate-limit store, geo database). See docs/cache.md, docs/waf.md,
docs/rate-limiting.md and docs/access.md.

Every ``match``/``expression`` is Cloudflare's rules language (edgeplane/edge/rules), compiled here so a typo
is a load error naming the key and column, not a rule that never matches.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgeplane.config.deploy import Duration

__all__ = [
    "TIERS",
    "AccessConfig",
    "AccessPolicy",
    "AuthConfig",
    "CacheConfig",
    "CacheKeyConfig",
    "CachePolicy",
    "EdgeServerSettings",
    "GeoConfig",
    "GeoPolicy",
    "JWTConfig",
    "ManagedRulesConfig",
    "RateLimitRule",
    "RouteHeaders",
    "SecurityHeaders",
    "WAFConfig",
    "WAFRule",
]

TIERS = ("anonymous", "authenticated", "premium", "admin")
"""User tiers rate limits and access policies know; a token's tier claim may name others (they count as
``authenticated`` for limits unless a rule names them)."""
_ID_RE = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _expression(value: str) -> str:
    from edgeplane.edge.rules import RuleSyntaxError, compile_expression

    try:
        compile_expression(value)
    except RuleSyntaxError as exc:
        raise ValueError(f"{exc} in {value!r}") from None
    return value


Expression = Annotated[str, Field(min_length=1)]


def _countries(values: list[str]) -> list[str]:
    out = [v.upper() for v in values]
    bad = [v for v in out if not _COUNTRY_RE.match(v)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an ISO 3166-1 alpha-2 country code (like 'US' or 'DE')")
    return out


# -- cache ---------------------------------------------------------------------------------------------------
class CacheKeyConfig(_Strict):
    """What, beyond method + host + path, makes two requests the same cache entry."""

    query: Literal["all", "none"] | list[str] = "all"
    """``all``: the whole query, parameters sorted; ``none``: ignore it; a list: only these parameters."""
    ignore_query: list[str] = []
    """Parameters left out of the key when ``query = "all"`` (e.g. ``utm_source``)."""
    headers: list[str] = []
    """Request headers whose values are part of the key."""
    cookies: list[str] = []
    """Cookie values that are part of the key."""
    country: bool = False
    """The client's country is part of the key."""


class CachePolicy(_Strict):
    """One ``[[cache.policies]]`` entry; the first whose ``match`` is true decides."""

    name: Annotated[str, Field(pattern=_ID_RE)]
    match: Expression
    ttl: Duration | None = None
    """Freshness when the origin's response says nothing (no max-age, s-maxage or Expires); origin headers win."""
    edge_ttl: Duration | None = None
    """Freshness whatever the origin says (its ``no-store``/``private`` are still obeyed unless ``private``)."""
    browser_ttl: Duration | None = None
    """``Cache-Control: max-age`` sent to clients instead of the origin's."""
    stale_while_revalidate: Duration | None = None
    """Serve a stale entry this long past its freshness while one background request refreshes it (RFC 5861);
    the origin's own directive wins."""
    stale_if_error: Duration | None = None
    """Serve a stale entry this long past its freshness when the origin fails or answers 5xx (RFC 5861)."""
    vary: list[str] = []
    """Request headers that select a variant, in addition to the origin's ``Vary``."""
    bypass: bool = False
    """Never cache matching requests (``Edgeplane-Cache-Status: BYPASS``)."""
    private: bool = False
    """Cache responses to requests with ``Authorization``/cookies and responses marked ``private``: only for
    content that does not differ per user (or with ``key.cookies``/``key.headers`` naming what does)."""
    key: CacheKeyConfig = CacheKeyConfig()
    tags: list[str] = []
    """Tags every entry of this policy gets, besides the origin's ``Cache-Tag`` header (purge by tag)."""

    _check_match = field_validator("match")(_expression)

    @model_validator(mode="after")
    def _sensible(self) -> CachePolicy:
        if self.bypass and (self.ttl or self.edge_ttl or self.stale_while_revalidate or self.stale_if_error):
            raise ValueError(f"policy {self.name!r}: 'bypass = true' cannot have TTLs; remove one or the other")
        return self


class CacheConfig(_Strict):
    """``[cache]``: without policies, responses the origin marks cacheable (``s-maxage``, ``max-age``,
    ``public``, ``Expires``) to GET/HEAD requests are cached as RFC 9111 says."""

    enabled: bool = True
    policies: list[CachePolicy] = []

    @field_validator("policies")
    @classmethod
    def _unique(cls, policies: list[CachePolicy]) -> list[CachePolicy]:
        _no_duplicates([p.name for p in policies], "cache policy")
        return policies


# -- WAF -----------------------------------------------------------------------------------------------------
class WAFRule(_Strict):
    """One ``[[waf.rules]]`` custom rule; rules run in order, the first ``block``/``challenge``/``skip`` ends
    the custom rules (``log`` goes on)."""

    id: Annotated[str, Field(pattern=_ID_RE)]
    expression: Expression
    action: Literal["block", "challenge", "log", "skip"]
    description: str = ""
    status: Annotated[int, Field(ge=400, le=599)] = 403
    """``block``'s response status."""
    body: str | None = None
    """``block``'s response body (text); default: a JSON error naming the rule."""
    skip: list[Literal["rules", "managed", "rate_limits", "access"]] = ["rules", "managed"]
    """What a ``skip`` rule skips: the remaining custom rules, the managed rules, rate limits, access policies."""

    _check_expression = field_validator("expression")(_expression)


class ManagedRulesConfig(_Strict):
    """``[waf.managed]``: the built-in SQLi/XSS/traversal/command-injection/scanner rules with an anomaly score."""

    enabled: bool = True
    threshold: Annotated[int, Field(ge=1, le=100)] = 5
    """Anomaly score at which a request is acted on (a critical match scores 5)."""
    action: Literal["block", "challenge", "log"] = "block"
    exclude: list[str] = []
    """Managed rule ids switched off (false positives on your traffic); the ids are in the block responses."""
    inspect_body_bytes: Annotated[int, Field(ge=0, le=1024 * 1024)] = 64 * 1024
    """How much of a request body the WAF reads (JSON, form and text bodies); 0: none."""

    @field_validator("exclude")
    @classmethod
    def _known(cls, ids: list[str]) -> list[str]:
        from edgeplane.edge.managed_patterns import RULES

        known = {r.rule_id for r in RULES}
        unknown = sorted(set(ids) - known)
        if unknown:
            raise ValueError(f"unknown managed rule ids {unknown}: ids look like 'sqli-101' (see docs/waf.md)")
        return ids


class WAFConfig(_Strict):
    rules: list[WAFRule] = []
    managed: ManagedRulesConfig = ManagedRulesConfig()

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[WAFRule]) -> list[WAFRule]:
        _no_duplicates([r.id for r in rules], "WAF rule id")
        return rules


# -- rate limits ---------------------------------------------------------------------------------------------
class RateLimitRule(_Strict):
    """One ``[[rate_limits]]`` rule: requests matching ``match`` are counted per client (user id when
    authenticated, else ip, plus ``characteristics``) against the limit for the client's tier."""

    name: Annotated[str, Field(pattern=_ID_RE)]
    match: Expression = "true"
    period: Duration
    requests: Annotated[int, Field(ge=1)] | dict[str, Annotated[int, Field(ge=0)]]
    """One limit for everyone, or a limit per tier (``{ anonymous = 10, authenticated = 60, premium = 200 }``;
    0 denies the tier). A tier without its own entry uses the ``authenticated`` entry when the user is signed in
    and ``anonymous`` otherwise (whichever of the two exists)."""
    unlimited: list[str] = []
    """Tiers this rule never limits."""
    characteristics: list[str] = []
    """Extra parts of the counting key: ``country``, ``path``, ``header:<name>``, ``cookie:<name>``."""
    action: Literal["block", "log"] = "block"

    _check_match = field_validator("match")(_expression)

    @field_validator("period")
    @classmethod
    def _period(cls, value: float) -> float:
        if not 1 <= value <= 86400:
            raise ValueError("period must be between 1s and 1d (e.g. '60s', '5m')")
        return value

    @field_validator("requests")
    @classmethod
    def _tiers(cls, value: int | dict[str, int]) -> int | dict[str, int]:
        if isinstance(value, dict):
            if not value:
                raise ValueError("give at least one tier, e.g. { anonymous = 10, authenticated = 60 }")
            if "anonymous" not in value and "authenticated" not in value:
                raise ValueError("a per-tier table needs 'anonymous' or 'authenticated' (the fallbacks)")
        return value

    @field_validator("characteristics")
    @classmethod
    def _characteristics(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in ("country", "path") and not re.fullmatch(r"(header|cookie):[A-Za-z0-9_.-]+", value):
                raise ValueError(f"unknown characteristic {value!r}: use country, path, header:<name> or cookie:<name>")
        return values

    def limit_for(self, tier: str, authenticated: bool) -> int | None:
        """Requests per period for a tier; ``None``: not limited."""
        if tier in self.unlimited:
            return None
        if isinstance(self.requests, int):
            return self.requests
        if tier in self.requests:
            return self.requests[tier]
        fallback = "authenticated" if authenticated and "authenticated" in self.requests else "anonymous"
        return self.requests.get(fallback, self.requests.get("authenticated"))


# -- identity and access -------------------------------------------------------------------------------------
class JWTConfig(_Strict):
    """``[auth.jwt]``: bearer tokens are validated on every request that carries one."""

    algorithms: list[Literal["HS256", "RS256", "ES256"]] = ["RS256"]
    secret_env: str | None = None
    """Environment variable of the gateway holding the HS256 secret (never in the file)."""
    public_keys: list[str] = []
    """PEM public keys (RS256/ES256)."""
    jwks_url: str | None = None
    """A JWKS endpoint; keys are cached (Cache-Control, at most ``jwks_cache``) and refetched on a new ``kid``."""
    jwks_cache: Duration = 300.0
    issuer: str | None = None
    audience: str | list[str] | None = None
    leeway: Duration = 30.0
    user_claim: str = "sub"
    tier_claim: str = "tier"
    email_claim: str = "email"
    mfa_claim: str = "amr"
    invalid_token: Literal["reject", "anonymous"] = "reject"
    """A token that fails validation: answer 401 (``reject``) or treat the request as anonymous."""

    @model_validator(mode="after")
    def _keys(self) -> JWTConfig:
        if not (self.secret_env or self.public_keys or self.jwks_url):
            raise ValueError("give secret_env (HS256), public_keys or jwks_url: tokens cannot be checked without keys")
        if "HS256" in self.algorithms and not self.secret_env:
            raise ValueError("HS256 needs secret_env (the environment variable holding the shared secret)")
        if self.jwks_url is not None and not re.fullmatch(r"https?://\S+", self.jwks_url):
            raise ValueError("jwks_url must be an http(s):// URL")
        return self


class AuthConfig(_Strict):
    jwt: JWTConfig | None = None


class AccessPolicy(_Strict):
    """One ``[[access.policies]]`` entry: requests matching ``match`` must satisfy every condition given,
    else 401 (no identity) or 403 with a reason code."""

    name: Annotated[str, Field(pattern=_ID_RE)]
    match: Expression
    authenticated: bool = True
    email_domains: list[str] = []
    mfa: bool = False
    tiers: list[str] = []
    countries: list[str] = []
    ips: list[str] = []
    """Client addresses or CIDR ranges allowed."""

    _check_match = field_validator("match")(_expression)
    _check_countries = field_validator("countries")(_countries)

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in values]

    @field_validator("ips")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or CIDR range") from None
        return values


class AccessConfig(_Strict):
    policies: list[AccessPolicy] = []


class GeoPolicy(_Strict):
    """One ``[[geo.policies]]`` entry."""

    name: Annotated[str, Field(pattern=_ID_RE)]
    match: Expression = "true"
    allow: list[str] = []
    """Only these countries (empty: any)."""
    block: list[str] = []
    consent_header: str | None = None
    """Requests from the EU/EEA/UK must carry this header with a non-empty value (GDPR consent), else 451."""
    unknown: Literal["allow", "block"] = "allow"
    """A request whose country is unknown."""

    _check_match = field_validator("match")(_expression)
    _check_allow = field_validator("allow", "block")(_countries)

    @model_validator(mode="after")
    def _one(self) -> GeoPolicy:
        if self.allow and self.block:
            raise ValueError(f"geo policy {self.name!r}: give 'allow' or 'block', not both")
        return self


class GeoConfig(_Strict):
    policies: list[GeoPolicy] = []


class RouteHeaders(_Strict):
    match: Expression
    content_security_policy: str

    _check_match = field_validator("match")(_expression)


class SecurityHeaders(_Strict):
    """``[security_headers]``: added to responses that do not already carry them."""

    enabled: bool = True
    content_type_options: bool = True
    """``X-Content-Type-Options: nosniff``."""
    frame_options: Literal["DENY", "SAMEORIGIN", ""] = "SAMEORIGIN"
    """``X-Frame-Options``; "" leaves it out."""
    referrer_policy: str = "strict-origin-when-cross-origin"
    """``Referrer-Policy``; "" leaves it out."""
    hsts: str | None = None
    """``Strict-Transport-Security`` value, e.g. ``max-age=31536000; includeSubDomains`` (only behind TLS)."""
    content_security_policy: str | None = None
    permissions_policy: str | None = None
    routes: list[RouteHeaders] = []
    """Per-route CSP; the first matching route's wins over ``content_security_policy``."""


# -- [server.edge] -------------------------------------------------------------------------------------------
class EdgeServerSettings(_Strict):
    """``[server.edge]``: the platform's side of the edge features."""

    cache_memory: Annotated[int, Field(ge=0)] = 64 * 1024 * 1024
    """Bytes of responses the in-process cache tier keeps (LRU)."""
    cache_max_object: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    """Largest response body cached."""
    cache_shared: Literal["none", "sqlite", "redis"] = "sqlite"
    """The shared tier several gateway processes read: SQLite in ``data_dir`` (one machine) or Redis."""
    redis_url: str | None = None
    """Redis for the shared cache tier and/or shared rate limits."""
    rate_limits: Literal["local", "redis"] = "local"
    """Where rate-limit counters live: this process, or Redis (several gateway processes/nodes share limits)."""
    rate_limit_on_error: Literal["open", "closed"] = "open"
    """When the Redis store fails: let requests through (``open``) or answer 429 (``closed``); health shows it."""
    geoip_database: Path | None = None
    """A MaxMind-format country database (GeoLite2-Country.mmdb); the country header, when set, wins."""
    purge_poll: Duration = 0.5
    """How often a node reads purges made elsewhere (the 1 s purge guarantee needs <= 0.5 s)."""
    hit_path: bool = True
    """Answer fresh in-memory hits of GET/HEAD from the HTTP protocol, without the ASGI cycle (same responses,
    same checks; off only to rule it out when debugging)."""

    @model_validator(mode="after")
    def _redis(self) -> EdgeServerSettings:
        if (self.cache_shared == "redis" or self.rate_limits == "redis") and not self.redis_url:
            raise ValueError("cache_shared/rate_limits = 'redis' need redis_url = 'redis://host:port/db'")
        return self


def _no_duplicates(names: list[str], what: str) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} names must be unique: {', '.join(dupes)} appears more than once")
