"""Bearer JWT validation with real keys: each algorithm, every reason code, leeway and audiences, algorithm
confusion, the verified-token cache, agreement with ``jwt.decode``, and JWKS from a real local HTTP server
(key rotation, Cache-Control, a server that goes down, one that never answered)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from edgeplane.edge.jwt import InvalidToken, JWTVerifier, bearer_token
from tests.conftest import FakeClock, free_port

SECRET = "s" * 40
ISSUER = "https://idp.example.com/"
AUDIENCE = "api://orders"


@dataclass(frozen=True)
class Keys:
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey

    @property
    def rsa_pem(self) -> str:
        return pem(self.rsa)

    @property
    def ec_pem(self) -> str:
        return pem(self.ec)

    def private(self, alg: str) -> Any:
        return {"HS256": SECRET, "RS256": self.rsa, "ES256": self.ec}[alg]


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


def new_keys() -> Keys:
    return Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def keys() -> Keys:
    return new_keys()


def claims(clock: FakeClock, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "iat": int(clock.now)}
    base["exp"] = int(clock.now) + 3600
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any, alg: str, kid: str | None = None) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid} if kid else None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token built by hand (PyJWT refuses to make these): HMAC-signed with any bytes, or unsigned."""
    signing_input = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(payload))}"
    if hmac_key is None:
        return signing_input + "."
    return f"{signing_input}.{b64(hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest())}"


def verifier(keys: Keys, clock: FakeClock, **options: Any) -> JWTVerifier:
    settings: dict[str, Any] = {
        "algorithms": ["HS256", "RS256", "ES256"], "secret": SECRET, "public_keys_pem": [keys.rsa_pem, keys.ec_pem],
        "issuer": ISSUER, "audience": AUDIENCE, "clock": clock,
    }  # fmt: skip
    settings.update(options)
    return JWTVerifier(**settings)


async def reason(v: JWTVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await v.verify(token)
    assert caught.value.message
    return caught.value.reason_code


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
async def test_a_valid_token_of_each_algorithm_gives_its_identity(keys: Keys, clock: FakeClock, alg: str) -> None:
    payload = claims(clock, email="ada@example.com", tier="premium")
    identity = await verifier(keys, clock).verify(sign(payload, keys.private(alg), alg))
    assert identity.user_id == "user-1"
    assert identity.tier == "premium"
    assert identity.email == "ada@example.com"
    assert identity.mfa is False
    assert identity.claims == payload


async def test_identity_defaults_and_configured_claim_names(keys: Keys, clock: FakeClock) -> None:
    plain = await verifier(keys, clock).verify(sign(claims(clock), SECRET, "HS256"))
    assert (plain.tier, plain.email) == ("authenticated", "")
    custom = verifier(keys, clock, user_claim="uid", tier_claim="plan", email_claim="mail", mfa_claim="mfa")
    token = sign(claims(clock, uid="u-9", plan="admin", mail="x@example.com", mfa=True), SECRET, "HS256")
    identity = await custom.verify(token)
    assert (identity.user_id, identity.tier, identity.email, identity.mfa) == ("u-9", "admin", "x@example.com", True)


@pytest.mark.parametrize(
    ("extra", "mfa"),
    [
        ({"amr": ["pwd", "otp"]}, True),
        ({"amr": ["pwd", "hwk"]}, True),
        ({"amr": ["mfa"]}, True),
        ({"amr": "otp"}, True),
        ({"amr": ["pwd"]}, False),
        ({"amr": ["pwd"], "acr": "http://schemas.openid.net/pape/policies/2007/06/multi-factor"}, True),
        ({"acr": "urn:example:aal2"}, True),
        ({"acr": "urn:example:aal1"}, False),
        ({}, False),
    ],
)
async def test_mfa_from_amr_or_acr(keys: Keys, clock: FakeClock, extra: dict[str, Any], mfa: bool) -> None:
    identity = await verifier(keys, clock).verify(sign(claims(clock, **extra), SECRET, "HS256"))
    assert identity.mfa is mfa


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", f"{b64(b'not json')}.{b64(b'{}')}.", f"{b64(b'[1]')}.{b64(b'{}')}.x"],
)
async def test_malformed_tokens(keys: Keys, clock: FakeClock, token: str) -> None:
    assert await reason(verifier(keys, clock), token) == "token_malformed"


async def test_non_numeric_times_and_bad_audience_claims_are_malformed(keys: Keys, clock: FakeClock) -> None:
    v = verifier(keys, clock)
    assert await reason(v, sign(claims(clock, exp="tomorrow"), SECRET, "HS256")) == "token_malformed"
    assert await reason(v, sign(claims(clock, aud={"x": 1}), SECRET, "HS256")) == "token_malformed"


async def test_expiry_honours_the_leeway(keys: Keys, clock: FakeClock) -> None:
    slightly_late = sign(claims(clock, exp=int(clock.now) - 10), SECRET, "HS256")
    assert (await verifier(keys, clock).verify(slightly_late)).user_id == "user-1"
    assert await reason(verifier(keys, clock, leeway=0), slightly_late) == "token_expired"
    long_gone = sign(claims(clock, exp=int(clock.now) - 31), SECRET, "HS256")
    assert await reason(verifier(keys, clock), long_gone) == "token_expired"


@pytest.mark.parametrize("name", ["nbf", "iat"])
async def test_tokens_from_the_future_are_not_yet_valid(keys: Keys, clock: FakeClock, name: str) -> None:
    v = verifier(keys, clock)
    assert (
        await reason(v, sign(claims(clock, **{name: int(clock.now) + 120}), SECRET, "HS256")) == "token_not_yet_valid"
    )
    assert (await v.verify(sign(claims(clock, **{name: int(clock.now) + 20}), SECRET, "HS256"))).user_id == "user-1"


async def test_a_signature_by_another_key_or_over_changed_claims_is_bad(keys: Keys, clock: FakeClock) -> None:
    other = new_keys()
    v = verifier(keys, clock)
    for alg in ("RS256", "ES256"):
        assert await reason(v, sign(claims(clock), other.private(alg), alg)) == "bad_signature"
    assert await reason(v, sign(claims(clock), "t" * 40, "HS256")) == "bad_signature"
    head, _, sig = sign(claims(clock), keys.rsa, "RS256").split(".")
    tampered = f"{head}.{b64(orjson.dumps(claims(clock, sub='admin')))}.{sig}"
    assert await reason(v, tampered) == "bad_signature"


async def test_issuer_and_audience(keys: Keys, clock: FakeClock) -> None:
    v = verifier(keys, clock)
    assert await reason(v, sign(claims(clock, iss="https://evil.example/"), SECRET, "HS256")) == "wrong_issuer"
    assert await reason(v, sign(claims(clock, aud="api://billing"), SECRET, "HS256")) == "wrong_audience"
    assert await v.verify(sign(claims(clock, aud=["api://billing", AUDIENCE]), SECRET, "HS256"))
    several = verifier(keys, clock, audience=["api://billing", "api://orders"])
    assert await several.verify(sign(claims(clock, aud="api://billing"), SECRET, "HS256"))
    assert await reason(several, sign(claims(clock, aud=["api://other"]), SECRET, "HS256")) == "wrong_audience"
    unconfigured = verifier(keys, clock, audience=None)
    assert await reason(unconfigured, sign(claims(clock), SECRET, "HS256")) == "wrong_audience"
    assert await unconfigured.verify(sign(claims(clock, aud=None), SECRET, "HS256"))


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "aud"])
async def test_missing_claims(keys: Keys, clock: FakeClock, missing: str) -> None:
    token = sign(claims(clock, **{missing: None}), SECRET, "HS256")
    assert await reason(verifier(keys, clock), token) == "missing_claim"


async def test_exp_is_optional_when_not_required(keys: Keys, clock: FakeClock) -> None:
    v = verifier(keys, clock, required_claims=())
    assert await v.verify(sign(claims(clock, exp=None), SECRET, "HS256"))


async def test_alg_none_and_unlisted_algorithms_are_refused(keys: Keys, clock: FakeClock) -> None:
    v = verifier(keys, clock)
    assert await reason(v, forge({"alg": "none", "typ": "JWT"}, claims(clock), None)) == "algorithm_not_allowed"
    assert await reason(v, forge({"alg": "None"}, claims(clock), None)) == "algorithm_not_allowed"
    assert await reason(v, forge({"alg": "HS512"}, claims(clock), SECRET.encode())) == "algorithm_not_allowed"
    assert await reason(v, forge({"alg": ["HS256"]}, claims(clock), SECRET.encode())) == "algorithm_not_allowed"
    rs_only = verifier(keys, clock, algorithms=["RS256"], secret=None, public_keys_pem=[keys.rsa_pem])
    assert await reason(rs_only, sign(claims(clock), SECRET, "HS256")) == "algorithm_not_allowed"


async def test_hs256_signed_with_the_rsa_public_key_is_refused(keys: Keys, clock: FakeClock) -> None:
    confused = forge({"alg": "HS256", "typ": "JWT"}, claims(clock), keys.rsa_pem.encode())
    rs_only = verifier(keys, clock, algorithms=["RS256"], secret=None, public_keys_pem=[keys.rsa_pem])
    assert await reason(rs_only, confused) == "algorithm_not_allowed"
    assert await reason(verifier(keys, clock), confused) == "bad_signature"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": ["none"]}, "'none' is not supported"),
        ({"algorithms": []}, "non-empty list"),
        ({"algorithms": ["HS256"], "secret": None}, "HS256 needs a secret"),
        ({"algorithms": ["RS256"], "secret": None, "public_keys_pem": None}, "set jwks_url or public_keys_pem"),
        ({"secret": "short"}, "shorter than 32 bytes"),
        ({"public_keys_pem": ["-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"]}, "public_keys_pem[0]"),
        ({"algorithms": ["HS256"], "public_keys_pem": None, "jwks_url": "http://127.0.0.1:1/jwks"}, "add RS256"),
        ({"audience": []}, "empty list"),
        ({"jwks_url": "idp.example/jwks.json"}, "is not an http(s) URL"),
    ],
)
def test_configuration_errors_say_what_to_fix(
    keys: Keys, clock: FakeClock, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        verifier(keys, clock, **options)


def test_unsupported_or_mismatched_static_keys_are_refused(keys: Keys, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="only RSA"):
        verifier(keys, clock, public_keys_pem=[pem(ed25519.Ed25519PrivateKey.generate())])
    with pytest.raises(ValueError, match="ES256 is not in algorithms"):
        verifier(keys, clock, algorithms=["RS256"], secret=None)
    with pytest.raises(ValueError, match="not usable for HS256"):
        verifier(keys, clock, secret=keys.rsa_pem)


async def test_a_verified_token_is_cached_but_never_past_its_expiry(keys: Keys, clock: FakeClock) -> None:
    v = verifier(keys, clock, leeway=0)
    token = sign(claims(clock, exp=int(clock.now) + 5), keys.rsa, "RS256")
    first = await v.verify(token)
    assert await v.verify(token) is first
    clock.advance(4)
    assert await v.verify(token) is first
    clock.advance(2)
    assert await reason(v, token) == "token_expired"


async def test_the_cache_is_bounded_and_only_holds_verified_tokens(keys: Keys, clock: FakeClock) -> None:
    v = verifier(keys, clock, token_cache_size=2, token_cache_seconds=1)
    tokens = [sign(claims(clock, sub=f"u{i}"), SECRET, "HS256") for i in range(5)]
    for token in tokens:
        await v.verify(token)
    assert [(await v.verify(t)).user_id for t in tokens] == [f"u{i}" for i in range(5)]
    assert await reason(v, tokens[0][:-2] + "AA") == "bad_signature"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"exp": -10},
        {"exp": -60},
        {"nbf": 20},
        {"nbf": 120},
        {"iat": 120},
        {"iss": "https://other/"},
        {"aud": ["x", AUDIENCE]},
        {"aud": "x"},
        {"aud": None},
        {"exp": None},
    ],
)
async def test_accepts_exactly_what_jwt_decode_accepts(keys: Keys, extra: dict[str, Any]) -> None:
    now = int(time.time())
    payload = claims(
        FakeClock(now), **{k: (now + v if k in ("exp", "nbf", "iat") and v else v) for k, v in extra.items()}
    )
    token = sign(payload, keys.rsa, "RS256")
    try:
        jwt.decode(
            token, keys.rsa.public_key(), algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE, leeway=30,
            options={"require": ["exp"]},
        )  # fmt: skip
        expected = True
    except jwt.PyJWTError:
        expected = False
    ours = verifier(keys, FakeClock(time.time()), algorithms=["RS256"], secret=None, public_keys_pem=[keys.rsa_pem])
    try:
        await ours.verify(token)
        accepted = True
    except InvalidToken:
        accepted = False
    assert accepted is expected


def test_bearer_token_from_headers() -> None:
    assert bearer_token({b"authorization": b"Bearer abc.def.ghi"}) == "abc.def.ghi"
    assert bearer_token({b"authorization": b"bearer   abc "}) == "abc"
    assert bearer_token({b"authorization": b"BEARER x"}) == "x"
    assert bearer_token({b"authorization": b"Basic dXNlcjpwdw=="}) is None
    assert bearer_token({b"authorization": b"Bearer"}) is None
    assert bearer_token({b"authorization": b"Bearer "}) is None
    assert bearer_token({}) is None


# --- JWKS from a real HTTP server ---------------------------------------------------------------------------------


class JWKSServer:
    """Serves ``document`` (default: ``{"keys": keys}``) at /jwks with ``cache_control``; counts fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.document: bytes | None = None
        self.cache_control = ""
        self.hits = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.hits += 1
                body = served.document if served.document is not None else orjson.dumps({"keys": served.keys})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                if served.cache_control:
                    self.send_header("cache-control", served.cache_control)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def jwks() -> Iterator[JWKSServer]:
    server = JWKSServer()
    yield server
    server.stop()


def jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        data["alg"] = "RS256"
    else:
        data = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**data, "kid": kid, "use": "sig"}


def jwks_verifier(url: str, clock: FakeClock, **options: Any) -> JWTVerifier:
    settings: dict[str, Any] = {
        "algorithms": ["RS256", "ES256"],
        "jwks_url": url,
        "issuer": ISSUER,
        "audience": AUDIENCE,
    }
    settings.update(options)
    return JWTVerifier(clock=clock, **settings)


async def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_jwks_keys_verify_tokens_by_kid(keys: Keys, clock: FakeClock, jwks: JWKSServer) -> None:
    unusable: list[dict[str, Any]] = [
        {"kty": "oct", "k": b64(SECRET.encode()), "kid": "h1"}, {**jwk(keys.rsa, "enc"), "use": "enc"},
        {"kty": "RSA", "alg": ["RS256"], "kid": "x1"}, {"kty": "EC", "crv": "P-256", "x": 5, "kid": "x2"},
        {**jwk(new_keys().ec, "p"), "alg": "PS256"}, {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},
    ]  # fmt: skip
    jwks.keys = [jwk(keys.rsa, "r1"), jwk(keys.ec, "e1"), *unusable]
    v = jwks_verifier(jwks.url, clock)
    try:
        assert v.health()["status"] == "unhealthy"
        assert (await v.verify(sign(claims(clock), keys.rsa, "RS256", kid="r1"))).user_id == "user-1"
        assert (await v.verify(sign(claims(clock), keys.ec, "ES256", kid="e1"))).user_id == "user-1"
        assert await reason(v, sign(claims(clock), keys.ec, "ES256", kid="r1")) == "unknown_key"
        assert await reason(v, forge({"alg": "HS256", "kid": "h1"}, claims(clock), SECRET.encode())) == (
            "algorithm_not_allowed"
        )
        health = v.health()
        assert (health["status"], health["error"], health["keys"], health["fetched_at"]) == (
            "healthy", None, 2, clock.now,
        )  # fmt: skip
        assert jwks.hits == 1
    finally:
        await v.close()


async def test_concurrent_first_requests_share_one_fetch(keys: Keys, clock: FakeClock, jwks: JWKSServer) -> None:
    jwks.keys = [jwk(keys.rsa, "r1")]
    v = jwks_verifier(jwks.url, clock)
    try:
        tokens = [sign(claims(clock, sub=f"u{i}"), keys.rsa, "RS256", kid="r1") for i in range(10)]
        identities = await asyncio.gather(*(v.verify(t) for t in tokens))
        assert [i.user_id for i in identities] == [f"u{i}" for i in range(10)]
        assert jwks.hits == 1
    finally:
        await v.close()


async def test_a_new_kid_is_fetched_at_most_once_per_ten_seconds(
    keys: Keys, clock: FakeClock, jwks: JWKSServer
) -> None:
    rotated = new_keys()
    jwks.keys = [jwk(keys.rsa, "old")]
    v = jwks_verifier(jwks.url, clock)
    try:
        await v.start()
        assert jwks.hits == 1
        jwks.keys = [jwk(keys.rsa, "old"), jwk(rotated.rsa, "new")]
        new_token = sign(claims(clock), rotated.rsa, "RS256", kid="new")
        clock.advance(5)
        assert await reason(v, new_token) == "unknown_key"
        assert jwks.hits == 1
        clock.advance(6)
        assert (await v.verify(new_token)).user_id == "user-1"
        assert jwks.hits == 2
        assert await reason(v, sign(claims(clock), rotated.ec, "ES256", kid="made-up")) == "unknown_key"
        assert jwks.hits == 2
    finally:
        await v.close()


async def test_keys_are_refreshed_after_max_age_bounded_by_the_cache_setting(
    keys: Keys, clock: FakeClock, jwks: JWKSServer
) -> None:
    jwks.keys = [jwk(keys.rsa, "r1")]
    jwks.cache_control = "public, max-age=60"
    v = jwks_verifier(jwks.url, clock)
    bounded = jwks_verifier(jwks.url, clock, jwks_cache_seconds=30)
    try:
        await v.start()
        await bounded.start()
        assert jwks.hits == 2
        clock.advance(45)
        await v.verify(sign(claims(clock, sub="a"), keys.rsa, "RS256", kid="r1"))
        await bounded.verify(sign(claims(clock, sub="b"), keys.rsa, "RS256", kid="r1"))
        await wait_for(lambda: jwks.hits == 3, "the bounded verifier's background refresh")
        clock.advance(20)
        await v.verify(sign(claims(clock, sub="c"), keys.rsa, "RS256", kid="r1"))
        await wait_for(lambda: jwks.hits == 4, "the refresh after max-age")
    finally:
        await v.close()
        await bounded.close()


async def test_stale_keys_keep_working_while_the_jwks_server_is_down(
    keys: Keys, clock: FakeClock, jwks: JWKSServer
) -> None:
    jwks.keys = [jwk(keys.rsa, "r1")]
    v = jwks_verifier(jwks.url, clock, jwks_cache_seconds=60)
    try:
        await v.start()
        fetched_at = clock.now
        jwks.stop()
        clock.advance(120)
        assert (await v.verify(sign(claims(clock, sub="a"), keys.rsa, "RS256", kid="r1"))).user_id == "a"
        await wait_for(lambda: v.health()["status"] == "degraded", "the failed refresh")
        health = v.health()
        assert jwks.url in health["error"] and health["keys"] == 1 and health["fetched_at"] == fetched_at
        assert (await v.verify(sign(claims(clock, sub="b"), keys.rsa, "RS256", kid="r1"))).user_id == "b"
    finally:
        await v.close()


async def test_without_any_jwks_key_nothing_is_let_through(keys: Keys, clock: FakeClock) -> None:
    down = jwks_verifier(f"http://127.0.0.1:{free_port()}/jwks", clock)
    try:
        await down.start()
        assert down.health()["status"] == "unhealthy"
        token = sign(claims(clock), keys.rsa, "RS256", kid="r1")
        assert await reason(down, token) == "jwks_unavailable"
        clock.advance(11)
        assert await reason(down, token) == "jwks_unavailable"
        assert "failed" in down.health()["error"]
    finally:
        await down.close()


@pytest.mark.parametrize(
    ("document", "error"),
    [(b"<html>login</html>", "is not a JWKS document"), (b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "no usable")],
)
async def test_a_jwks_without_usable_keys_is_reported(
    keys: Keys, clock: FakeClock, jwks: JWKSServer, document: bytes, error: str
) -> None:
    jwks.document = document
    v = jwks_verifier(jwks.url, clock)
    try:
        assert await reason(v, sign(claims(clock), keys.rsa, "RS256", kid="r1")) == "jwks_unavailable"
        assert error in v.health()["error"]
    finally:
        await v.close()
