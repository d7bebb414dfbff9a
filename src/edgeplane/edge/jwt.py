"""Identity at the edge: validate ``Authorization: Bearer`` JWTs (HS256, RS256, ES256) into an ``Identity``.

Keys come from a shared ``secret`` (HS256), static PEM public keys or certificates, and/or a JWKS URL
(RS256/ES256 only: a JWKS never supplies HMAC secrets, so an ``alg`` switch cannot turn a public key into
an HMAC secret). Signatures are checked by PyJWT's algorithm objects; the compact-form parsing and the
registered-claim checks (RFC 7519 §4.1, with PyJWT's semantics: ``exp``/``nbf``/``iat`` with ``leeway``,
``iss`` equality, ``aud`` intersection, a token carrying ``aud`` is rejected when no ``audience`` is
configured) live here because ``jwt.decode`` spends ~50 µs per call in Python overhead around the
crypto on the gateway's hot path. Verified tokens are cached by their raw text for at most
``token_cache_seconds`` and never past ``exp``, so a repeated token costs a dict lookup.

JWKS: fetched with httpx (2 s timeout) on first need or by ``start()``; kept for the response's
``Cache-Control: max-age`` bounded to ``jwks_cache_seconds``, then refreshed in the background while the
old keys keep serving. A token whose ``kid`` is unknown triggers a refetch, at most one fetch attempt per
``jwks_refetch_seconds`` (10 s), so key rotation is picked up and a flood of made-up ``kid``s cannot
hammer the identity provider. A failed refresh keeps the old keys (``health()`` says ``degraded``); with
no keys at all ``verify`` raises ``jwks_unavailable`` — a request is never let through unverified.

MFA: ``Identity.mfa`` is true when the ``mfa_claim`` (default ``amr``, RFC 8176) is ``true`` or names one
of ``mfa``, ``otp``, ``hwk`` (a list or a single string), or when the ``acr`` claim contains
``multi-factor``, ``mfa``, ``aal2`` or ``aal3`` (case-insensitive: the OpenID PAPE multi-factor policy URI
and NIST AAL2/AAL3 values providers use).
"""

from __future__ import annotations

import asyncio
import binascii
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK, get_algorithm_by_name
from jwt.algorithms import Algorithm
from jwt.exceptions import PyJWTError

from edgeplane.edge.request import Identity

__all__ = ["MFA_METHODS", "SUPPORTED_ALGORITHMS", "InvalidToken", "JWTVerifier", "bearer_token"]

SUPPORTED_ALGORITHMS = ("HS256", "RS256", "ES256")
MFA_METHODS = frozenset({"mfa", "otp", "hwk"})
"""``amr`` values (RFC 8176) that mean the user passed a second factor."""
_ACR_MFA_MARKERS = ("multi-factor", "mfa", "aal2", "aal3")
_JWKS_TIMEOUT = 2.0
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


class InvalidToken(Exception):
    """A bearer token was refused. ``reason_code`` is stable (logs, metrics, the gateway's 401 body):
    ``token_malformed``, ``token_expired``, ``token_not_yet_valid``, ``bad_signature``, ``wrong_issuer``,
    ``wrong_audience``, ``unknown_key``, ``algorithm_not_allowed``, ``missing_claim``, ``jwks_unavailable``."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def bearer_token(headers: dict[bytes, bytes]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case), else ``None``."""
    value = headers.get(b"authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    return token.decode("latin-1") if token else None


@dataclass(frozen=True, slots=True)
class _Key:
    alg: str
    algorithm: Algorithm
    key: Any
    kid: str | None

    def verifies(self, signing_input: bytes, signature: bytes) -> bool:
        return bool(self.algorithm.verify(signing_input, self.key, signature))


def _b64decode(part: str) -> bytes:
    data = part.encode("ascii") + b"=" * (-len(part) % 4)
    return binascii.a2b_base64(data.translate(_URLSAFE), strict_mode=True)


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, payload, signing input, signature) of a compact JWS, or ``token_malformed``."""
    head, _, rest = token.partition(".")
    body, _, sig = rest.partition(".")
    if not head or not body or "." in sig:
        raise InvalidToken("token_malformed", "the token is not a JWT (three base64url parts separated by dots)")
    try:
        header = orjson.loads(_b64decode(head))
        payload = orjson.loads(_b64decode(body))
        signature = _b64decode(sig)
    except ValueError as exc:
        raise InvalidToken("token_malformed", f"the token's parts are not base64url-encoded JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise InvalidToken("token_malformed", "the token's header and payload must be JSON objects")
    return header, payload, f"{head}.{body}".encode("ascii"), signature


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken("token_malformed", f"the {name!r} claim must be a number (seconds since the epoch)")
    return float(value)


def _hmac_key(secret: str) -> _Key:
    algorithm = get_algorithm_by_name("HS256")
    try:
        key = algorithm.prepare_key(secret)
    except PyJWTError as exc:
        raise ValueError(f"JWT secret is not usable for HS256 ({exc}): for RS256/ES256 use public_keys_pem") from None
    if algorithm.check_key_length(key):
        raise ValueError("JWT secret is shorter than 32 bytes (RFC 7518 §3.2): use e.g. `openssl rand -hex 32`")
    return _Key("HS256", algorithm, key, None)


def _public_key_alg(public_key: object) -> str | None:
    if isinstance(public_key, RSAPublicKey):
        return "RS256"
    if isinstance(public_key, EllipticCurvePublicKey) and isinstance(public_key.curve, SECP256R1):
        return "ES256"
    return None


def _pem_key(pem: str, index: int, allowed: frozenset[str]) -> _Key:
    data = pem.strip().encode("ascii", errors="replace")
    try:
        if b"CERTIFICATE" in data:
            public_key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            public_key = load_pem_public_key(data)
    except ValueError as exc:
        raise ValueError(
            f"public_keys_pem[{index}] is not a PEM public key or certificate ({exc}): "
            "paste the identity provider's '-----BEGIN PUBLIC KEY-----' block"
        ) from None
    alg = _public_key_alg(public_key)
    if alg is None:
        raise ValueError(
            f"public_keys_pem[{index}] is a {type(public_key).__name__}: only RSA (RS256) and P-256 EC (ES256) "
            "keys are supported"
        )
    if alg not in allowed:
        raise ValueError(f"public_keys_pem[{index}] is an {alg} key but {alg} is not in algorithms: add it")
    algorithm = get_algorithm_by_name(alg)
    problem = algorithm.check_key_length(public_key)
    if problem:
        raise ValueError(f"public_keys_pem[{index}]: {problem}")
    return _Key(alg, algorithm, public_key, None)


def _jwk_key(jwk: object, allowed: frozenset[str]) -> _Key | None:
    """The verification key of one JWKS entry, or ``None`` when it is not a usable public signing key."""
    if not isinstance(jwk, dict) or "d" in jwk or jwk.get("use", "sig") != "sig" or jwk.get("kty") not in ("RSA", "EC"):
        return None
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in allowed):
        return None
    try:
        parsed = PyJWK(jwk)
        if parsed.algorithm_name not in allowed:
            return None
        algorithm = get_algorithm_by_name(parsed.algorithm_name)
        key = algorithm.prepare_key(parsed.key)
    except (PyJWTError, TypeError, ValueError):
        return None
    if algorithm.check_key_length(key):
        return None
    kid = jwk.get("kid")
    return _Key(parsed.algorithm_name, algorithm, key, kid if isinstance(kid, str) else None)


class _JWKSError(Exception):
    pass


class _JWKS:
    """The keys of one JWKS URL: fetch, cache, refresh and health."""

    def __init__(
        self,
        url: str,
        allowed: frozenset[str],
        cache_seconds: float,
        refetch_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(
                f"jwks_url {url!r} is not an http(s) URL: use e.g. https://idp.example/.well-known/jwks.json"
            )
        self.url = url
        self._allowed = allowed
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._clock = clock
        self.keys: list[_Key] = []
        self._kids: frozenset[str | None] = frozenset()
        self._expires_at = 0.0
        self.fetched_at: float | None = None
        self.error = ""
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[bool] | None = None

    async def keys_for(self, alg: str, kid: str | None) -> list[_Key]:
        now = self._clock()
        may_fetch = now - self._last_attempt >= self._refetch_seconds
        if not self.keys or (kid is not None and kid not in self._kids):
            if may_fetch or self._lock.locked():
                await self.refresh()
        elif now >= self._expires_at and may_fetch and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self.refresh())
        return [k for k in self.keys if k.alg == alg and (kid is None or k.kid is None or k.kid == kid)]

    async def refresh(self) -> bool:
        """Fetch the JWKS now (a caller arriving during a fetch shares it); ``True`` when it succeeded."""
        if self._lock.locked():
            async with self._lock:
                return not self.error
        async with self._lock:
            self._last_attempt = self._clock()
            try:
                keys, ttl = await self._fetch()
            except _JWKSError as exc:
                self.error = str(exc)
                return False
            self.keys, self._kids = keys, frozenset(k.kid for k in keys)
            self.fetched_at = self._clock()
            self._expires_at = self.fetched_at + ttl
            self.error = ""
            return True

    async def _fetch(self) -> tuple[list[_Key], float]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_JWKS_TIMEOUT)
        try:
            response = await self._client.get(self.url, headers={"accept": "application/json"})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _JWKSError(f"GET {self.url} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise _JWKSError(f"GET {self.url} answered HTTP {response.status_code}")
        try:
            document = orjson.loads(response.content)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise _JWKSError(f"{self.url} is not a JWKS document (a JSON object with a 'keys' list)")
        keys = [key for key in (_jwk_key(jwk, self._allowed) for jwk in document["keys"]) if key is not None]
        if not keys:
            wanted = "/".join(sorted(self._allowed))
            raise _JWKSError(f"{self.url} has no usable {wanted} public signing key (RSA >= 2048 bits, EC P-256)")
        return keys, self._ttl(response.headers.get("cache-control", ""))

    def _ttl(self, cache_control: str) -> float:
        match = _MAX_AGE.search(cache_control)
        ttl = min(float(match.group(1)), self._cache_seconds) if match else self._cache_seconds
        return max(ttl, self._refetch_seconds)

    def health(self) -> dict[str, Any]:
        status = "unhealthy" if not self.keys else "degraded" if self.error else "healthy"
        error = self.error or (None if self.keys else "JWKS not fetched yet (the first request or start() fetches it)")
        return {"status": status, "error": error, "keys": len(self.keys), "fetched_at": self.fetched_at}

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


class JWTVerifier:
    """Validates bearer tokens into ``Identity`` values; see the module docstring for keys, JWKS and MFA."""

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        secret: str | None = None,
        public_keys_pem: Sequence[str] | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 30,
        user_claim: str = "sub",
        tier_claim: str = "tier",
        email_claim: str = "email",
        mfa_claim: str = "amr",
        required_claims: Iterable[str] = ("exp",),
        jwks_cache_seconds: float = 300,
        jwks_refetch_seconds: float = 10,
        token_cache_size: int = 10_000,
        token_cache_seconds: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithms = _check_algorithms(algorithms)
        self._hmac = _hmac_keys(self._algorithms, secret)
        self._static = [_pem_key(pem, i, self._algorithms) for i, pem in enumerate(public_keys_pem or ())]
        self._jwks = (
            _JWKS(jwks_url, self._algorithms - {"HS256"}, jwks_cache_seconds, jwks_refetch_seconds, clock)
            if jwks_url
            else None
        )
        _check_key_sources(self._algorithms, self._static, self._jwks is not None)
        self._issuer = issuer
        self._audience = _audiences(audience)
        self._leeway = float(leeway)
        self._user_claim = user_claim
        self._tier_claim = tier_claim
        self._email_claim = email_claim
        self._mfa_claim = mfa_claim
        self._required = tuple(required_claims)
        self._cache: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        self._cache_size = token_cache_size
        self._cache_seconds = token_cache_seconds
        self._clock = clock

    async def start(self) -> None:
        """Prefetch the JWKS (a failure is reported by ``health()``; requests retry the fetch later)."""
        if self._jwks is not None:
            await self._jwks.refresh()

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()

    def health(self) -> dict[str, Any]:
        """``status`` (``healthy``/``degraded``: serving stale JWKS keys/``unhealthy``: no keys), ``error``,
        ``keys`` (how many verification keys) and ``fetched_at`` (the last good JWKS fetch, clock time)."""
        if self._jwks is None:
            keys = len(self._hmac) + len(self._static)
            return {"status": "healthy", "error": None, "keys": keys, "fetched_at": None}
        report = self._jwks.health()
        static = len(self._hmac) + len(self._static)
        report["keys"] += static
        if report["status"] == "unhealthy" and static:
            report["status"] = "degraded"
        return report

    def cached(self, token: str) -> Identity | None:
        """The identity of a token verified earlier and still valid; None when it has to be verified."""
        hit = self._cache.get(token)
        if hit is None:
            return None
        if self._clock() >= hit[0]:
            del self._cache[token]
            return None
        self._cache.move_to_end(token)
        return hit[1]

    async def verify(self, token: str) -> Identity:
        """The identity a valid token carries; raises ``InvalidToken`` otherwise."""
        cached = self.cached(token)
        if cached is not None:
            return cached
        now = self._clock()
        header, claims, signing_input, signature = _parse(token)
        keys = await self._keys(header)
        if not any(key.verifies(signing_input, signature) for key in keys):
            raise InvalidToken("bad_signature", "the token's signature does not match any configured key")
        exp = self._check_claims(claims, now)
        identity = self._identity(claims)
        self._remember(token, identity, min(exp, now + self._cache_seconds), now)
        return identity

    async def _keys(self, header: dict[str, Any]) -> list[_Key]:
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self._algorithms:
            allowed = ", ".join(sorted(self._algorithms))
            raise InvalidToken("algorithm_not_allowed", f"token algorithm {alg!r} is not allowed (allowed: {allowed})")
        if "crit" in header or (kid is not None and not isinstance(kid, str)):
            raise InvalidToken("token_malformed", "the token header has a 'crit' list or a non-string 'kid'")
        if alg == "HS256":
            return self._hmac
        keys = [key for key in self._static if key.alg == alg]
        if self._jwks is not None:
            keys = await self._jwks.keys_for(alg, kid) + keys
            if not self._jwks.keys and not keys:
                raise InvalidToken("jwks_unavailable", f"no JWKS keys to verify with: {self._jwks.error}")
        if not keys:
            raise InvalidToken("unknown_key", f"no {alg} key with kid {kid!r} is configured or in the JWKS")
        return keys

    def _check_claims(self, claims: dict[str, Any], now: float) -> float:
        """Raises for a failed registered-claim check; returns ``exp`` (``inf`` without one)."""
        for name in self._required:
            if claims.get(name) is None:
                raise InvalidToken("missing_claim", f"the token has no {name!r} claim")
        exp = _numeric(claims, "exp")
        if exp is not None and exp <= now - self._leeway:
            raise InvalidToken("token_expired", "the token has expired (exp)")
        for name in ("nbf", "iat"):
            value = _numeric(claims, name)
            if value is not None and value > now + self._leeway:
                raise InvalidToken("token_not_yet_valid", f"the token is not valid yet ({name} is in the future)")
        self._check_issuer(claims)
        self._check_audience(claims)
        return float("inf") if exp is None else exp

    def _check_issuer(self, claims: dict[str, Any]) -> None:
        if self._issuer is None:
            return
        if "iss" not in claims:
            raise InvalidToken("missing_claim", "the token has no 'iss' claim")
        if claims["iss"] != self._issuer:
            raise InvalidToken("wrong_issuer", f"the token's issuer {claims['iss']!r} is not {self._issuer!r}")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        aud = claims.get("aud")
        if self._audience is None:
            if aud:
                raise InvalidToken("wrong_audience", "the token names an audience but none is configured: set audience")
            return
        if not aud:
            raise InvalidToken("missing_claim", "the token has no 'aud' claim")
        names = [aud] if isinstance(aud, str) else aud
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidToken("token_malformed", "the 'aud' claim must be a string or a list of strings")
        if self._audience.isdisjoint(names):
            raise InvalidToken("wrong_audience", f"the token's audience {aud!r} is not one of ours")

    def _identity(self, claims: dict[str, Any]) -> Identity:
        user = claims.get(self._user_claim)
        if not isinstance(user, str) or not user:
            raise InvalidToken("missing_claim", f"the token has no string {self._user_claim!r} claim (the user id)")
        tier = claims.get(self._tier_claim)
        email = claims.get(self._email_claim)
        return Identity(
            user_id=user,
            tier=tier if isinstance(tier, str) and tier else "authenticated",
            email=email if isinstance(email, str) else "",
            mfa=self._mfa(claims),
            claims=claims,
        )

    def _mfa(self, claims: dict[str, Any]) -> bool:
        value = claims.get(self._mfa_claim)
        if value is True:
            return True
        methods = [value] if isinstance(value, str) else value
        if isinstance(methods, list) and any(isinstance(m, str) and m.lower() in MFA_METHODS for m in methods):
            return True
        acr = claims.get("acr")
        return isinstance(acr, str) and any(marker in acr.lower() for marker in _ACR_MFA_MARKERS)

    def _remember(self, token: str, identity: Identity, until: float, now: float) -> None:
        if until <= now or self._cache_size <= 0:
            return
        self._cache[token] = (until, identity)
        self._cache.move_to_end(token)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _check_algorithms(algorithms: Sequence[str]) -> frozenset[str]:
    if isinstance(algorithms, str) or not algorithms:
        raise ValueError("JWT algorithms must be a non-empty list, e.g. ['RS256']")
    for alg in algorithms:
        if alg not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"JWT algorithm {alg!r} is not supported: use {', '.join(SUPPORTED_ALGORITHMS)}")
    return frozenset(algorithms)


def _hmac_keys(algorithms: frozenset[str], secret: str | None) -> list[_Key]:
    if ("HS256" in algorithms) != bool(secret):
        raise ValueError("HS256 needs a secret and a secret needs HS256: set both or neither")
    return [_hmac_key(secret)] if secret else []


def _check_key_sources(algorithms: frozenset[str], static: list[_Key], has_jwks: bool) -> None:
    if has_jwks and algorithms <= {"HS256"}:
        raise ValueError("jwks_url serves RS256/ES256 keys: add RS256 or ES256 to algorithms, or drop jwks_url")
    for alg in sorted(algorithms - {"HS256"}):
        if not has_jwks and not any(key.alg == alg for key in static):
            raise ValueError(f"{alg} is allowed but no {alg} key is configured: set jwks_url or public_keys_pem")


def _audiences(audience: str | Sequence[str] | None) -> frozenset[str] | None:
    if audience is None:
        return None
    names = frozenset([audience] if isinstance(audience, str) else audience)
    if not names:
        raise ValueError("JWT audience must not be an empty list: omit it or name the API's audience")
    return names
