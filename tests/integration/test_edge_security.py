"""The security stages through the real platform: JWT identity, custom WAF rules (block, custom answer, skip,
log, challenge), managed rules, rate limits by tier, access and geo policies, security headers, and the
security events in logs and request analytics."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from edgeplane.runtime.bundles import pack_directory
from tests.integration.harness import APPS, RunningPlatform

SECRET = "test-secret-for-the-edge-0123456789abcdef"
SERVER = """[server]
country_header = "x-country"
"""
EDGE = """
[auth.jwt]
algorithms = ["HS256"]
secret_env = "EDGE_TEST_JWT_SECRET"
issuer = "https://auth.test/"

[[waf.rules]]
id = "monitor"
expression = 'http.request.headers["x-monitor"] eq "yes" and ip.src in {127.0.0.0/8}'
action = "skip"
skip = ["rules", "managed", "rate_limits"]

[[waf.rules]]
id = "partner"
expression = 'http.request.headers["x-partner"] eq "1"'
action = "skip"
skip = ["rate_limits"]

[[waf.rules]]
id = "no-wp"
expression = 'starts_with(http.request.uri.path, "/wp-admin")'
action = "block"

[[waf.rules]]
id = "teapot"
expression = 'http.request.headers["x-teapot"] eq "1"'
action = "block"
status = 418
body = "short and stout"

[[waf.rules]]
id = "bots-signup"
expression = 'http.request.uri.path eq "/signup" and cf.bot_management.score lt 30'
action = "challenge"

[[waf.rules]]
id = "watch-export"
expression = 'http.request.uri.path contains "/export"'
action = "log"

[[rate_limits]]
name = "auth"
match = 'starts_with(http.request.uri.path, "/api/auth")'
period = "1m"
requests = { anonymous = 3, authenticated = 5, banned = 0 }
unlimited = ["admin"]

[[access.policies]]
name = "admin-panel"
match = 'starts_with(http.request.uri.path, "/admin")'
email_domains = ["example.com"]
mfa = true

[[geo.policies]]
name = "sanctions"
block = ["KP"]

[[geo.policies]]
name = "gdpr"
match = 'starts_with(http.request.uri.path, "/profile")'
consent_header = "x-consent"

[security_headers]
frame_options = "DENY"

[[security_headers.routes]]
match = 'starts_with(http.request.uri.path, "/embed/")'
content_security_policy = "frame-ancestors *"
"""
BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "accept": "text/html,application/xhtml+xml",
    "accept-language": "en-US,en;q=0.5",
    "accept-encoding": "gzip, deflate",
    "sec-fetch-mode": "navigate",
}


def token(sub: str = "alice", **claims: Any) -> str:
    body = {"sub": sub, "iss": "https://auth.test/", "exp": int(time.time()) + 600, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("edge-security")
    (root / "edgeplane.toml").write_text(SERVER)
    project = root / "origin"
    shutil.copytree(APPS / "origin", project)
    config = project / "edgeplane.toml"
    config.write_text(config.read_text() + EDGE)
    p = RunningPlatform(root, env={"EDGE_TEST_JWT_SECRET": SECRET}).start()
    try:
        uploaded = p.admin.post("/v1/apps/origin/versions", content=pack_directory(project),
                                headers={"content-type": "application/gzip"})  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text
        splits = [{"version": uploaded.json()["id"]}]
        assert (
            p.admin.post("/v1/apps/origin/deployments", json={"env": "production", "splits": splits}).status_code == 201
        )
        yield p
    finally:
        p.stop()


def test_custom_rules_block_answer_and_log(platform: RunningPlatform) -> None:
    blocked = platform.get("/wp-admin/setup.php")
    assert blocked.status_code == 403
    assert blocked.json()["error"] == {"code": "waf_block", "message": "blocked by WAF rule no-wp", "rule": "no-wp"}
    teapot = platform.get("/o/x", headers={"x-teapot": "1"})
    assert teapot.status_code == 418 and teapot.text == "short and stout"
    logged = platform.get("/reports/export")
    assert logged.status_code == 200  # log: recorded, not stopped
    assert "WAF rule watch-export matched" in platform.log()
    assert "no-wp" in platform.log()  # the block is a security event in the log


def test_skip_rule_lets_the_monitor_through_everything(platform: RunningPlatform) -> None:
    skip = {"x-monitor": "yes"}
    assert platform.get("/wp-admin/", headers={**skip, "x-teapot": "1"}).status_code == 200
    for _ in range(6):  # anonymous limit is 3 per minute: a skip of rate_limits is never counted
        assert platform.get("/api/auth/login", headers=skip).status_code == 200


def test_managed_rules_block_attacks_and_pass_prompts(platform: RunningPlatform) -> None:
    attack = platform.get("/search?q=1' UNION SELECT username, password FROM users--")
    assert attack.status_code == 403
    error = attack.json()["error"]
    assert error["code"] == "waf_block" and error["score"] >= 5 and error["rules"]
    xss = platform.gateway.post("/comments", json={"text": "<script>alert(document.cookie)</script>"},
                                headers={"host": "localhost"})  # fmt: skip
    assert xss.status_code == 403
    untyped = platform.gateway.post(
        "/comments", content=b"{\"q\": \"1' OR '1'='1' --\"}", headers={"host": "localhost"}
    )  # no Content-Type: still inspected
    assert untyped.status_code == 403, untyped.text
    prompt = "How do I write a SELECT with a JOIN in postgres? My name is O'Brien and I use <b>bold</b>."
    ok = platform.gateway.post("/prompts", json={"prompt": prompt}, headers={"host": "localhost"})
    assert ok.status_code == 200, ok.text
    assert ok.text.startswith("/prompts #")  # the body reached the origin unchanged (the origin saw a POST)


def test_jwt_identity_and_bad_tokens(platform: RunningPlatform) -> None:
    good = platform.get("/o/me", headers=bearer(token()))
    assert good.status_code == 200
    expired = platform.get("/o/me", headers=bearer(token(exp=int(time.time()) - 3600)))
    assert expired.status_code == 401 and expired.json()["error"]["reason"] == "token_expired"
    assert expired.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    forged = jwt.encode({"sub": "mallory", "iss": "https://auth.test/", "exp": int(time.time()) + 60}, "x" * 40)
    assert platform.get("/o/me", headers=bearer(forged)).json()["error"]["reason"] == "bad_signature"
    wrong_iss = platform.get("/o/me", headers=bearer(token(iss="https://evil.test/")))
    assert wrong_iss.json()["error"]["reason"] == "wrong_issuer"
    assert platform.get("/o/me", headers=bearer("not.a.jwt")).json()["error"]["reason"] == "token_malformed"


def test_rate_limits_by_tier_with_headers(platform: RunningPlatform) -> None:
    statuses = [platform.get("/api/auth/anon").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = platform.get("/api/auth/anon")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 20  # 3 per minute: one more every 20 s
    assert limited.headers["ratelimit-policy"] == '"auth";q=3;w=60'
    # a signed-in user is counted by user id, with the authenticated tier's limit (5), whatever the ip
    bob = bearer(token("bob"))
    statuses = [platform.get("/api/auth/me", headers=bob).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    ok = platform.get("/api/auth/me", headers=bearer(token("carol")))
    assert ok.status_code == 200 and ok.headers["ratelimit-policy"] == '"auth";q=5;w=60'
    assert ok.headers["ratelimit"].startswith('"auth";r=4;t=') and "ratelimit-remaining" not in ok.headers
    admin = bearer(token("root", tier="admin"))
    assert all(platform.get("/api/auth/x", headers=admin).status_code == 200 for _ in range(8))
    banned = platform.get("/api/auth/x", headers=bearer(token("troll", tier="banned")))  # 0: the tier is denied
    assert banned.status_code == 403 and banned.json()["error"]["code"] == "tier_not_allowed"
    assert "retry-after" not in banned.headers


def test_a_skip_of_rate_limits_leaves_the_other_rules_on(platform: RunningPlatform) -> None:
    partner = {"x-partner": "1"}
    assert platform.get("/wp-admin/", headers=partner).status_code == 403  # later block rules still run
    statuses = {platform.get("/api/auth/partner", headers=partner).status_code for _ in range(6)}
    assert statuses == {200}  # ...but the partner is not rate limited


def test_access_policy_reasons(platform: RunningPlatform) -> None:
    anonymous = platform.get("/admin/users")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "access_unauthenticated"
    other = platform.get("/admin/users", headers=bearer(token(email="eve@gmail.com", amr=["mfa"])))
    assert other.status_code == 403 and other.json()["error"]["code"] == "access_email_domain"
    no_mfa = platform.get("/admin/users", headers=bearer(token(email="ann@example.com", amr=["pwd"])))
    assert no_mfa.status_code == 403 and no_mfa.json()["error"]["code"] == "access_mfa_required"
    ok = platform.get("/admin/users", headers=bearer(token(email="ann@Example.com", amr=["pwd", "otp"])))
    assert ok.status_code == 200


def test_geo_block_and_gdpr_consent(platform: RunningPlatform) -> None:
    assert platform.get("/o/x", headers={"x-country": "KP"}).json()["error"]["code"] == "geo_blocked"
    assert platform.get("/o/x", headers={"x-country": "US"}).status_code == 200
    eu = platform.get("/profile/me", headers={"x-country": "DE"})
    assert eu.status_code == 451 and eu.json()["error"]["code"] == "consent_required"
    assert platform.get("/profile/me", headers={"x-country": "DE", "x-consent": "yes"}).status_code == 200
    assert platform.get("/profile/me", headers={"x-country": "US"}).status_code == 200


def test_bot_challenge_cookie_round_trip(platform: RunningPlatform) -> None:
    assert platform.get("/signup", headers=BROWSER).status_code == 200  # a browser scores high: no challenge
    challenged = platform.get("/signup", headers={"user-agent": "curl/8.5.0"})
    assert challenged.status_code == 403 and challenged.headers["edgeplane-challenge"] == "cookie"
    cookie = challenged.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("__ep_challenge=")
    passed = platform.get("/signup", headers={"user-agent": "curl/8.5.0", "cookie": cookie})
    assert passed.status_code == 200
    other_agent = platform.get("/signup", headers={"user-agent": "python-requests/2.32", "cookie": cookie})
    assert other_agent.status_code == 403  # the cookie is bound to the client's ip and user agent


def test_security_headers_on_every_answer(platform: RunningPlatform) -> None:
    for response in (platform.get("/o/x"), platform.get("/wp-admin/")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "content-security-policy" not in response.headers
    assert platform.get("/embed/widget").headers["content-security-policy"] == "frame-ancestors *"


def test_security_events_reach_request_analytics(platform: RunningPlatform) -> None:
    platform.get("/wp-admin/again")
    deadline = time.monotonic() + 20
    while True:
        result = platform.admin.post("/v1/analytics/sql", content=(
            "SELECT blob8 AS security, count() AS n FROM edgeplane_requests WHERE blob8 != '' GROUP BY blob8"
        ))  # fmt: skip
        # the dataset appears with the first ingested batch
        seen = {row["security"] for row in result.json()["data"]} if result.status_code == 200 else {result.text}
        if {"waf_block:no-wp", "rate_limited:auth", "geo_block:sanctions"} <= seen:
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.5)


def test_a_missing_jwt_secret_refuses_the_deploy(tmp_path: Path) -> None:
    project = tmp_path / "origin"
    shutil.copytree(APPS / "origin", project)
    config = project / "edgeplane.toml"
    config.write_text(config.read_text() + EDGE)
    p = RunningPlatform(tmp_path).start()  # no EDGE_TEST_JWT_SECRET in its environment
    try:
        uploaded = p.admin.post("/v1/apps/origin/versions", content=pack_directory(project),
                                headers={"content-type": "application/gzip"})  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text
        deployed = p.admin.post("/v1/apps/origin/deployments",
                                json={"env": "production", "splits": [{"version": uploaded.json()["id"]}]})  # fmt: skip
        assert deployed.status_code == 400
        error = deployed.json()["error"]
        assert error["code"] == "config_invalid" and "EDGE_TEST_JWT_SECRET" in error["message"]
        assert p.get("/o/x").status_code == 404  # nothing went live
    finally:
        p.stop()
