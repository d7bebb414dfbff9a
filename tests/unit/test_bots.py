"""Bot scores for the requests real clients send (browsers high; curl, HTTP libraries, headless browsers,
crawlers and a missing user agent low), the per-IP rate push-down, and the challenge cookie round trip
through a real HTTP client's cookie jar, including tampering, expiry and a different client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from edgeplane.edge.bots import COOKIE_NAME, BotScorer, Challenge
from edgeplane.edge.request import EdgeRequest
from tests.conftest import free_port

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NOW = 1_800_000_000.0

CHROME = [
    ("host", "shop.example"), ("connection", "keep-alive"),
    ("sec-ch-ua", '"Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"'),
    ("sec-ch-ua-mobile", "?0"), ("sec-ch-ua-platform", '"Windows"'), ("upgrade-insecure-requests", "1"),
    ("user-agent", CHROME_UA),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    ("sec-fetch-site", "none"), ("sec-fetch-mode", "navigate"), ("sec-fetch-user", "?1"),
    ("sec-fetch-dest", "document"), ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-GB,en;q=0.9"),
]  # fmt: skip
FIREFOX = [
    ("host", "shop.example"), ("user-agent", FIREFOX_UA),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "de,en-US;q=0.7,en;q=0.3"), ("accept-encoding", "gzip, deflate, br, zstd"),
    ("connection", "keep-alive"), ("upgrade-insecure-requests", "1"), ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"), ("sec-fetch-site", "none"), ("sec-fetch-user", "?1"),
]  # fmt: skip
CURL = [("host", "shop.example"), ("user-agent", "curl/8.5.0"), ("accept", "*/*")]
PYTHON_REQUESTS = [
    ("host", "shop.example"), ("user-agent", "python-requests/2.32.3"), ("accept-encoding", "gzip, deflate"),
    ("accept", "*/*"), ("connection", "keep-alive"),
]  # fmt: skip


def request(headers: list[tuple[str, str]], ip: str = "203.0.113.7") -> EdgeRequest:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    return EdgeRequest("GET", "shop.example", "/", b"", dict(raw), raw, ip)


def with_ua(headers: list[tuple[str, str]], user_agent: str | None) -> list[tuple[str, str]]:
    kept = [(n, v) for n, v in headers if n != "user-agent"]
    return kept if user_agent is None else [*kept[:1], ("user-agent", user_agent), *kept[1:]]


def without(headers: list[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if not n.startswith(prefix)]


@pytest.mark.parametrize("headers", [CHROME, FIREFOX], ids=["chrome", "firefox"])
def test_browser_requests_score_as_human(headers: list[tuple[str, str]]) -> None:
    assert BotScorer().score_with_reasons(request(headers), NOW) == (99, ())


def test_browsers_on_plain_http_stay_human() -> None:
    plain_chrome = without(without(CHROME, "sec-fetch"), "sec-ch-ua")
    score, reasons = BotScorer().score_with_reasons(request(plain_chrome), NOW)
    assert score == 74 and reasons == ("no_sec_fetch", "no_client_hints")
    assert BotScorer().score(request(without(FIREFOX, "sec-fetch")), NOW) == 84


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (CURL, "ua_tool:curl"),
        (PYTHON_REQUESTS, "ua_tool:python-requests"),
        (with_ua(CURL, "Wget/1.21.4"), "ua_tool:wget"),
        (with_ua(PYTHON_REQUESTS, "Go-http-client/1.1"), "ua_tool:Go-http-client"),
        (with_ua(PYTHON_REQUESTS, "python-httpx/0.28.1"), "ua_tool:httpx"),
        (with_ua(CHROME, CHROME_UA.replace("Chrome/", "HeadlessChrome/")), "ua_headless:HeadlessChrome"),
        (
            with_ua(FIREFOX, "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 PhantomJS/2.1.1"),
            "ua_headless:PhantomJS",
        ),
        (with_ua(CURL, None), "ua_missing"),
        (with_ua(CURL, "   "), "ua_missing"),
        (with_ua(CURL, "ExampleFetcher/1.0 (+https://fetcher.example/about)"), "ua_botlike"),
        (with_ua(CURL, "MyMonitor 3.1"), "ua_not_browser"),
    ],
)
def test_automation_scores_as_likely_bot(headers: list[tuple[str, str]], reason: str) -> None:
    score, reasons = BotScorer().score_with_reasons(request(headers), NOW)
    assert score < 30 and reasons[0] == reason


def test_known_crawlers_are_bots_and_tagged() -> None:
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    score, reasons = BotScorer().score_with_reasons(request(with_ua(FIREFOX, googlebot)), NOW)
    assert score < 30 and "crawler:Googlebot" in reasons


def test_a_library_faking_a_browser_user_agent_is_caught_by_its_headers() -> None:
    score, reasons = BotScorer().score_with_reasons(request(with_ua(PYTHON_REQUESTS, CHROME_UA)), NOW)
    assert score < 30
    assert set(reasons) == {"no_accept_language", "header_order", "no_sec_fetch", "no_client_hints"}


def test_each_missing_browser_header_lowers_the_score() -> None:
    full = BotScorer().score(request(FIREFOX), NOW)
    for name in ("accept", "accept-language", "accept-encoding"):
        assert BotScorer().score(request([(n, v) for n, v in FIREFOX if n != name]), NOW) < full


def test_a_fast_client_is_pushed_down_and_recovers_after_the_window() -> None:
    scorer = BotScorer(window=10.0)
    scores = [scorer.score(request(CHROME), NOW + i * 0.02) for i in range(300)]
    assert scores[0] == 99 and scores[40] == 99
    score, reasons = scorer.score_with_reasons(request(CHROME), NOW + 6.0)
    assert score < 99 - 30 and reasons == ("rate:30/s",)
    assert scorer.score(request(CHROME, ip="198.51.100.1"), NOW + 6.0) == 99
    assert scorer.score(request(CHROME), NOW + 30.0) == 99


def test_the_rate_slides_across_window_boundaries() -> None:
    scorer = BotScorer(window=10.0)
    for i in range(250):
        scorer.score(request(CHROME), NOW + 9.0 + i * 0.004)
    _, reasons = scorer.score_with_reasons(request(CHROME), NOW + 10.5)
    assert reasons == ("rate:24/s",)


def test_forgotten_clients_start_afresh_when_the_table_is_full() -> None:
    scorer = BotScorer(max_clients=1)
    for i in range(300):
        scorer.score(request(CHROME), NOW + i * 0.01)
    assert scorer.score(request(CHROME), NOW + 3.0) < 99
    scorer.score(request(CHROME, ip="198.51.100.1"), NOW + 3.0)
    assert scorer.score(request(CHROME), NOW + 3.0) == 99


def test_scores_are_deterministic() -> None:
    runs = [[BotScorer().score(request(h), NOW) for h in (CHROME, FIREFOX, CURL, PYTHON_REQUESTS)] for _ in range(2)]
    assert runs[0] == runs[1]


# --- challenge ------------------------------------------------------------------------------------------------------

SECRET = b"k" * 32
IP = "203.0.113.7"


def test_challenge_page_sets_a_cookie_a_browser_returns() -> None:
    challenge = Challenge(SECRET, ttl=600)
    status, headers, body = challenge.challenge_page(IP, CHROME_UA, NOW)
    assert status == 403
    values = dict(headers)
    assert values[b"edgeplane-challenge"] == b"cookie"
    assert values[b"content-type"].startswith(b"text/html") and int(values[b"content-length"]) == len(body)
    assert b'http-equiv="refresh"' in body
    morsel = SimpleCookie(values[b"set-cookie"].decode())[COOKIE_NAME]
    assert (morsel["path"], morsel["httponly"], morsel["samesite"], morsel["max-age"]) == ("/", True, "Lax", "600")
    assert not morsel["secure"]
    again = request([("user-agent", CHROME_UA), ("cookie", f"theme=dark; {COOKIE_NAME}={morsel.value}")], ip=IP)
    assert challenge.passed(again, NOW + 1)
    assert not challenge.passed(request([("user-agent", CHROME_UA)], ip=IP), NOW + 1)
    _, secure_headers, _ = challenge.challenge_page(IP, CHROME_UA, NOW, secure=True)
    assert dict(secure_headers)[b"set-cookie"].endswith(b"; Secure")


def test_a_cookie_is_only_valid_for_its_client_and_lifetime() -> None:
    challenge = Challenge(SECRET, ttl=600)
    cookie = challenge.issue(IP, CHROME_UA, NOW)
    assert challenge.valid(cookie, IP, CHROME_UA, NOW + 599)
    assert not challenge.valid(cookie, IP, CHROME_UA, NOW + 600)
    assert not challenge.valid(cookie, "203.0.113.8", CHROME_UA, NOW)
    assert not challenge.valid(cookie, IP, FIREFOX_UA, NOW)
    assert not Challenge(b"o" * 32).valid(cookie, IP, CHROME_UA, NOW)
    assert not challenge.valid(challenge.issue(IP, CHROME_UA, NOW + 3600), IP, CHROME_UA, NOW)


def test_tampered_and_garbage_cookies_are_rejected() -> None:
    challenge = Challenge(SECRET)
    cookie = challenge.issue(IP, CHROME_UA, NOW)
    ts, mac = cookie.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    later = str(int(ts) + 100)
    for bad in (f"{ts}.{flipped}", f"{later}.{mac}", ts, "", ".", "abc.def", f"-1.{mac}", f"٣.{mac}", f"{ts}.{mac}é"):
        assert not challenge.valid(bad, IP, CHROME_UA, NOW + 200), bad


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Challenge(b"short")
    with pytest.raises(ValueError, match="ttl must be positive"):
        Challenge(SECRET, ttl=0)


class ChallengedSite:
    """An HTTP server that answers the challenge page until the request carries a valid cookie."""

    def __init__(self, challenge: Challenge) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                raw = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
                edge = EdgeRequest("GET", "site", self.path, b"", dict(raw), raw, self.client_address[0])
                if challenge.passed(edge, NOW):
                    status, headers, body = 200, [(b"content-length", b"2")], b"ok"
                else:
                    status, headers, body = challenge.challenge_page(edge.ip, edge.user_agent, NOW)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name.decode(), value.decode())
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/products"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[ChallengedSite]:
    server = ChallengedSite(Challenge(SECRET))
    yield server
    server.stop()


def test_a_client_that_keeps_cookies_passes_on_the_second_request(site: ChallengedSite) -> None:
    with httpx.Client(headers={"user-agent": CHROME_UA}) as browser:
        first = browser.get(site.url)
        assert first.status_code == 403 and first.headers["edgeplane-challenge"] == "cookie"
        assert browser.get(site.url).text == "ok"
    with httpx.Client(headers={"user-agent": CHROME_UA}) as forgetful:
        assert forgetful.get(site.url).status_code == 403
        forgetful.cookies.clear()
        assert forgetful.get(site.url).status_code == 403
